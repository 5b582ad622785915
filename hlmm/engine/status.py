"""What the user sees while ``hlmm trade`` runs: a live status panel, or one plain line per tick.

:class:`EngineStatus` (with one :class:`AssetStatus` per coin) is the engine's read-out,
built once per status tick; the panel, the Prometheus metrics and the session summary all
read the same snapshot, so they never disagree.

* On a terminal, :class:`StatusPanel` redraws a small table in place (ANSI cursor moves).
  Console log lines go through :meth:`StatusPanel.console` so a warning is printed *above*
  the panel instead of being overwritten by it.
* When stdout is not a terminal (a pipe, a file, CI) it writes one plain ``key=value``
  line per tick instead, which greps well.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict, dataclass, field
from typing import IO, Any

ESC = "\x1b["


@dataclass
class PnL:
    """PnL of one coin for the session, USD. ``total = realized + unrealized - fees + funding``.

    Attribution: ``spread_capture`` is Σ side·(mid at fill − price)·size, ``adverse_selection``
    Σ side·(mid at fill − mid after the horizon)·size over the fills whose markout is known,
    and ``inventory`` the rest (price moves on the held position).
    """

    realized: float = 0.0
    unrealized: float = 0.0
    fees: float = 0.0
    funding: float = 0.0
    spread_capture: float = 0.0
    adverse_selection: float = 0.0

    @property
    def total(self) -> float:
        return self.realized + self.unrealized - self.fees + self.funding

    @property
    def inventory(self) -> float:
        return self.total - (self.spread_capture - self.adverse_selection - self.fees + self.funding)

    def to_dict(self) -> dict[str, float]:
        out = asdict(self)
        out["total"] = self.total
        out["inventory"] = self.inventory
        return out


@dataclass
class AssetStatus:
    """One coin's state at a status tick."""

    coin: str
    mid: float = math.nan
    market_spread_bps: float = math.nan
    best_bid: float = math.nan          # our best live bid / ask (NaN: none)
    best_ask: float = math.nan
    levels_bid: int = 0                 # our live orders per side
    levels_ask: int = 0
    levels_target: int = 0              # levels per side the config asks for
    position: float = 0.0
    notional_usd: float = 0.0
    entry_px: float = math.nan
    pnl: PnL = field(default_factory=PnL)
    fills: int = 0
    fills_bid: int = 0
    fills_ask: int = 0
    volume_usd: float = 0.0
    regime: str = "-"
    sigma_bps: float = math.nan
    book_age_s: float = math.nan
    gates: list[str] = field(default_factory=list)   # active gates, e.g. "stale_book", "bid:toxicity"
    markouts_bps: dict[str, float] = field(default_factory=dict)   # horizon "1s" -> mean AS bps
    quote_cycles: int = 0

    @property
    def quoted_spread_bps(self) -> float:
        if math.isnan(self.best_bid) or math.isnan(self.best_ask) or not self.mid > 0:
            return math.nan
        return (self.best_ask - self.best_bid) / self.mid * 1e4

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["pnl"] = self.pnl.to_dict()
        out["quoted_spread_bps"] = self.quoted_spread_bps
        return out


@dataclass
class EngineStatus:
    """The whole engine at a status tick."""

    venue: str = ""
    account: str = ""
    uptime_s: float = 0.0
    assets: list[AssetStatus] = field(default_factory=list)
    ws_connected: bool = False
    reconnects: int = 0
    rate_headroom: float = math.nan       # address-budget headroom fraction
    ip_weight_used: float = 0.0           # IP weight spent in the last minute
    ip_weight_limit: int = 1200
    address_requests_used: int = 0
    address_requests_cap: int = 0
    account_value: float = math.nan
    kill_switch: str | None = None        # the reason, once it fired
    loop_busy_ms_p99: float = math.nan
    loop_errors: int = 0
    open_orders: int = 0
    model_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    state: str = "running"                # starting | warming_up | running | stopping | stopped

    def asset(self, coin: str) -> AssetStatus | None:
        for a in self.assets:
            if a.coin == coin:
                return a
        return None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["assets"] = [a.to_dict() for a in self.assets]
        return out


# ---------------------------------------------------------------------- formatting


def fmt_px(px: float) -> str:
    """A price with the precision Hyperliquid uses (5 significant figures, plus a half tick)."""
    if not math.isfinite(px):
        return "-"
    if px == 0:
        return "0"
    digits = int(math.floor(math.log10(abs(px)))) + 1
    decimals = max(0, 6 - digits)
    if decimals == 0 and px != round(px):   # a mid between two integer prices
        decimals = 1
    return f"{px:.{decimals}f}"


def fmt_usd(x: float, sign: bool = True) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{x:+.2f}" if sign else f"{x:.2f}"


def fmt_num(x: float, spec: str) -> str:
    return format(x, spec) if math.isfinite(x) else "-"


def fmt_size(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:+.6g}"


def fmt_duration(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def fmt_gates(gates: list[str]) -> str:
    return ",".join(gates) if gates else "-"


_COLUMNS = ("COIN", "MID", "MKT", "BID", "ASK", "QUOTED", "LVL", "POSITION", "NOTIONAL", "PNL", "REAL",
            "UNREAL", "FEES", "SC", "AS", "FILLS", "REGIME", "GATES")


def asset_row(a: AssetStatus) -> list[str]:
    return [a.coin, fmt_px(a.mid), fmt_num(a.market_spread_bps, ".1f"), fmt_px(a.best_bid), fmt_px(a.best_ask),
            fmt_num(a.quoted_spread_bps, ".1f"), f"{a.levels_bid}/{a.levels_ask}", fmt_size(a.position),
            fmt_usd(a.notional_usd, sign=False), fmt_usd(a.pnl.total), fmt_usd(a.pnl.realized),
            fmt_usd(a.pnl.unrealized), fmt_usd(-a.pnl.fees), fmt_usd(a.pnl.spread_capture),
            fmt_usd(-a.pnl.adverse_selection), f"{a.fills_bid}/{a.fills_ask}", a.regime, fmt_gates(a.gates)]


def header_line(s: EngineStatus) -> str:
    ws = "ws up" if s.ws_connected else "ws DOWN"
    parts = [f"hlmm trade {s.venue}", s.account, f"up {fmt_duration(s.uptime_s)}", s.state, ws,
             f"reconnects {s.reconnects}",
             f"rate headroom {fmt_num(s.rate_headroom * 100, '.1f')}%",
             f"ip {s.ip_weight_used:.0f}/{s.ip_weight_limit}",
             f"orders {s.open_orders}",
             f"loop p99 {fmt_num(s.loop_busy_ms_p99, '.2f')} ms"]
    if math.isfinite(s.account_value):
        parts.append(f"equity ${s.account_value:,.2f}")
    if s.kill_switch:
        parts.append(f"KILL SWITCH: {s.kill_switch}")
    return " | ".join(parts)


def panel_lines(s: EngineStatus) -> list[str]:
    """The panel as text lines: a header, a table (one row per coin, plus a total), model scores."""
    rows = [list(_COLUMNS)] + [asset_row(a) for a in s.assets]
    if len(s.assets) > 1:
        tot = PnL(**{k: sum(getattr(a.pnl, k) for a in s.assets) for k in
                     ("realized", "unrealized", "fees", "funding", "spread_capture", "adverse_selection")})
        rows.append(["total", "", "", "", "", "", "", "", fmt_usd(sum(a.notional_usd for a in s.assets), sign=False),
                     fmt_usd(tot.total), fmt_usd(tot.realized), fmt_usd(tot.unrealized), fmt_usd(-tot.fees),
                     fmt_usd(tot.spread_capture), fmt_usd(-tot.adverse_selection),
                     str(sum(a.fills for a in s.assets)), "", ""])
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    lines = [header_line(s)]
    for r in rows:
        lines.append("  ".join(c.rjust(w) if i not in (0, 16, 17) else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    if s.model_scores:
        scores = []
        for model, sc in sorted(s.model_scores.items()):
            bits = [f"n={int(sc.get('samples', 0))}"]
            if "oe" in sc:   # the fill model's headline: observed / expected fills (1 = calibrated) [95 %]
                bits.append(f"O/E={fmt_num(sc['oe'], '.2f')}")
                if "oe_low" in sc and "oe_high" in sc:
                    bits[-1] += f" [{fmt_num(sc['oe_low'], '.2f')},{fmt_num(sc['oe_high'], '.2f')}]"
            if "brier" in sc:
                bits.append(f"brier={fmt_num(sc['brier'], '.4f')}")
            if "information_ratio" in sc:
                bits.append(f"IR={fmt_num(sc['information_ratio'], '.2f')}")
            scores.append(f"{model} " + " ".join(bits))
        lines.append("models: " + " | ".join(scores))
    return lines


def plain_line(s: EngineStatus) -> str:
    """One ``key=value`` line for a non-terminal stdout."""
    head = (f"status up={fmt_duration(s.uptime_s)} state={s.state} ws={'up' if s.ws_connected else 'down'} "
            f"headroom={fmt_num(s.rate_headroom, '.3f')} orders={s.open_orders}")
    if s.kill_switch:
        head += f" kill_switch={s.kill_switch}"
    parts = [head]
    for a in s.assets:
        parts.append(
            f"{a.coin} mid={fmt_px(a.mid)} bid={fmt_px(a.best_bid)} ask={fmt_px(a.best_ask)} "
            f"spread_bps={fmt_num(a.quoted_spread_bps, '.1f')} levels={a.levels_bid}/{a.levels_ask} "
            f"pos={fmt_size(a.position)} pnl={fmt_usd(a.pnl.total)} realized={fmt_usd(a.pnl.realized)} "
            f"unrealized={fmt_usd(a.pnl.unrealized)} fees={fmt_usd(a.pnl.fees, sign=False)} "
            f"fills={a.fills} regime={a.regime} gates={fmt_gates(a.gates)}")
    return " | ".join(parts)


# ---------------------------------------------------------------------- the panel


class StatusPanel:
    """Draws :class:`EngineStatus` on ``stream``: in place on a terminal, one line per update otherwise.

    ``tty`` forces the mode (default: ``stream.isatty()``). ``enabled=False`` draws nothing
    (``--json`` runs keep stdout for the summary document).
    """

    def __init__(self, stream: IO[str] | None = None, *, tty: bool | None = None, enabled: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.tty = _isatty(self.stream) if tty is None else tty
        self.enabled = enabled
        self._shown = 0           # lines of the panel currently on screen
        self._last: list[str] = []
        self.updates = 0

    def update(self, status: EngineStatus) -> None:
        if not self.enabled:
            return
        self.updates += 1
        if self.tty:
            self._last = panel_lines(status)
            self._redraw()
        else:
            self.stream.write(plain_line(status) + "\n")
            self.stream.flush()

    def _erase(self) -> None:
        if self._shown:
            self.stream.write(f"{ESC}{self._shown}F{ESC}J")
            self._shown = 0

    def _redraw(self) -> None:
        self._erase()
        if self._last:
            self.stream.write("\n".join(f"{line}{ESC}K" for line in self._last) + "\n")
            self._shown = len(self._last)
        self.stream.flush()

    def print_above(self, text: str, err: IO[str] | None = None) -> None:
        """Print ``text`` (to ``err``, default the panel's stream) above the panel, then redraw it."""
        out = err if err is not None else self.stream
        if self.tty and self._shown:
            self._erase()
            self.stream.flush()
            out.write(text)
            out.flush()
            self._redraw()
        else:
            out.write(text)
            out.flush()

    def console(self, err: IO[str] | None = None) -> "PanelConsole":
        """A text stream for the console log: its lines appear above the panel."""
        return PanelConsole(self, err if err is not None else sys.stderr)

    def close(self) -> None:
        """Leave the last panel on screen and stop redrawing."""
        self.enabled = False
        self._shown = 0


class PanelConsole:
    """A write-only text stream that prints above a :class:`StatusPanel` (for ``hlmm.log``'s console)."""

    def __init__(self, panel: StatusPanel, err: IO[str]) -> None:
        self.panel = panel
        self.err = err
        # only when both reach the same terminal does the panel have to move out of the way
        self.shared = panel.tty and _isatty(err)
        self._buf = ""

    def write(self, text: str) -> int:
        self._buf += text
        if "\n" in self._buf:
            chunk, _, self._buf = self._buf.rpartition("\n")
            if self.shared:
                self.panel.print_above(chunk + "\n", self.err)
            else:
                self.err.write(chunk + "\n")
                self.err.flush()
        return len(text)

    def flush(self) -> None:
        self.err.flush()

    def isatty(self) -> bool:
        return _isatty(self.err)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty()) and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError, OSError):
        return False
