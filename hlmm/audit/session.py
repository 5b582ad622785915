"""Session accounting: how a session went, from hlmm's documented events (no judgments here).

Reads (event: fields):

* ``session_start``: coins, venue, version — sessions and restarts
* ``config_loaded``: config — the thresholds the session ran with (:class:`SessionConfig`)
* ``safety_sync``: account_value — start and end account value
* ``session_summary``: realized/unrealized PnL, fees, spread capture, adverse selection, funding
  — the engine's own attribution, used when present (per session: the coin-less total line if
  there is one, else the sum of the per-coin lines).  As the engine defines them, realized PnL is
  gross of fees and total = realized + unrealized − fees + funding
* ``fill``: tid side px sz fee mid_at_fill position crossed — fills, volume, spread capture, fees
* ``untracked_fill``: tid — untracked fills (a tid logged as both ``fill`` and ``untracked_fill``
  counts once)
* ``funding``: payment_usd (positive: received)
* ``position_update``: position — the final position per coin
* ``order_rejected``: reason
* ``rate_limit_status``: headroom_fraction — min, mean, time below ``rate.min_headroom_fraction``
* ``markout``: tid horizon_s markout_bps spread_capture_bps adverse_selection_bps — by horizon and
  by UTC hour of the fill (the markout's time minus its horizon).  ``markout_bps`` is the mid's
  move in our favour; the *edge* of a fill at a horizon is spread capture − adverse selection −
  fee (the fee in bps of notional, from the fill line with the same tid; 0 if unknown).
* ``kill_switch``: reason; ``gate_active``: gate reason; ``toxicity_pull``: side;
  ``inventory_forcing``; ``reduce_only_mode``: active
* ``calibration_report``: model samples oe oe_low oe_high (the fill model's observed/expected
  fills) brier information_ratio calibration_error validated
* ``quote_cycle``: coin cycle — assets, and the number of quote cycles from each coin's cycle
  counter (the engine may log only a sample of its cycles; a counter going back is a restart)

Counted without decoding: ``order_place_sent``, ``order_modify_sent``, ``order_cancel_sent``,
``order_cancelled``, ``order_filled``, ``quote_cycle``, ``ws_reconnect``, ``ws_disconnected``,
``model_unvalidated``.

When there is no ``session_summary`` the PnL split is computed from the events: spread capture
= Σ side·(mid_at_fill − px)·sz, adverse selection = Σ adverse_selection_bps·notional/1e4 at the
longest markout horizon, fees = Σ fee, funding = Σ payment_usd, and the total is the change of
account value between the first and last ``safety_sync`` (the residual is what the split does
not explain: inventory moves beyond the horizon, untracked activity).
"""
from __future__ import annotations

import math
from collections import Counter, OrderedDict
from typing import Any

from hlmm.audit.context import AuditContext, Consumer
from hlmm.audit.records import Event, num, side_sign
from hlmm.audit.timebounds import iso

_RECENT_TIDS = 100_000  # fills remembered for tid de-duplication and the markout join


class Stat:
    """Count, mean and standard error of a stream of numbers (constant memory)."""

    __slots__ = ("n", "s", "s2")

    def __init__(self) -> None:
        self.n = 0
        self.s = 0.0
        self.s2 = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        self.s += x
        self.s2 += x * x

    @property
    def mean(self) -> float | None:
        return self.s / self.n if self.n else None

    @property
    def se(self) -> float | None:
        if self.n < 2:
            return None
        m = self.s / self.n
        var = max(0.0, (self.s2 - self.n * m * m) / (self.n - 1))
        return math.sqrt(var / self.n)

    @property
    def t(self) -> float | None:
        """mean / se (None when undefined)."""
        m, se = self.mean, self.se
        if m is None or se is None:
            return None
        if se == 0.0:
            return math.inf if m > 0 else (-math.inf if m < 0 else 0.0)
        return m / se


class ConfigTracker(Consumer):
    """Makes the session's ``config_loaded`` config the source of thresholds (runs first)."""

    events = ("config_loaded",)

    def on_config_loaded(self, ev: Event) -> None:
        self.ctx.config.load(ev.get("config"), ev.get("file"))


class SessionAccount(Consumer):
    """Totals of a session (see the module docstring for what it reads)."""

    events = ("session_start", "safety_sync", "session_summary", "fill", "untracked_fill", "funding",
              "position_update", "order_rejected", "rate_limit_status", "markout", "kill_switch", "gate_active",
              "toxicity_pull", "inventory_forcing", "reduce_only_mode", "calibration_report", "quote_cycle")

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        ctx.session = self
        self.sessions = 0
        self.venues: set[str] = set()
        self.versions: set[str] = set()
        self.coins: set[str] = set()
        self.account_first: tuple[int, float] | None = None
        self.account_last: tuple[int, float] | None = None
        self.summaries: list[list[dict[str, Any]]] = [[]]  # per session
        self.cycles_logged = 0
        self._cycle_span: dict[str, list[int]] = {}  # coin -> [first, last] cycle number of this segment
        self.cycles_counted = 0                     # cycles of closed segments
        self.fills = 0
        self.untracked = 0
        self.buys = 0
        self.sells = 0
        self.taker = 0
        self.volume_usd = 0.0
        self.fees_usd = 0.0
        self.spread_capture_usd = 0.0
        self.funding_usd = 0.0
        self.fills_without_mid = 0
        self._tids: OrderedDict[Any, list[Any]] = OrderedDict()  # tid -> [lines seen (flags), notional, fee USD]
        self.positions: dict[str, tuple[int, float]] = {}
        self.rejects: Counter[str] = Counter()
        self.headroom = Stat()
        self.headroom_min: float | None = None
        self._headroom_last: tuple[int, float] | None = None
        self.headroom_below_ms = 0
        # horizon -> (adverse selection, spread capture, mid move, edge), all in bps
        self.markouts: dict[float, tuple[Stat, Stat, Stat, Stat]] = {}
        self.markouts_by_hour: dict[tuple[float, int], Stat] = {}  # (horizon, UTC hour of fill) -> edge
        self.as_usd: dict[float, float] = {}                     # horizon -> adverse selection in USD
        self.kill_switches: Counter[str] = Counter()
        self.gates: Counter[str] = Counter()
        self.toxicity_pulls: Counter[str] = Counter()
        self.inventory_forcing = 0
        self.reduce_only_on = 0
        self.calibration: dict[str, dict[str, Any]] = {}
        self.calibration_reports = 0

    # -- sessions and account ---------------------------------------------------------------

    def on_session_start(self, ev: Event) -> None:
        self.sessions += 1
        if self.summaries[-1]:
            self.summaries.append([])
        self._close_cycle_segments()
        rec = ev.rec or {}
        for key, into in (("venue", self.venues), ("version", self.versions)):
            if isinstance(rec.get(key), str) and rec[key]:
                into.add(rec[key])
        coins = rec.get("coins")
        if isinstance(coins, list):
            self.coins.update(c for c in coins if isinstance(c, str))

    def on_safety_sync(self, ev: Event) -> None:
        value = num(ev.get("account_value"))
        if value is None:
            return
        if self.account_first is None:
            self.account_first = (ev.ts, value)
        self.account_last = (ev.ts, value)

    def on_session_summary(self, ev: Event) -> None:
        if ev.rec is not None:
            self.summaries[-1].append(ev.rec)
            self._position(ev, ev.rec.get("position"))

    def on_quote_cycle(self, ev: Event) -> None:
        rec = ev.rec
        if rec is None:
            return
        self.cycles_logged += 1
        coin = rec.get("coin")
        key = coin if isinstance(coin, str) else "?"
        if isinstance(coin, str):
            self.coins.add(coin)
        n = rec.get("cycle")
        if type(n) is int:
            span = self._cycle_span.get(key)
            if span is None:
                self._cycle_span[key] = [n, n]
            elif n >= span[1]:
                span[1] = n
            else:  # the counter went back: a restart
                self.cycles_counted += span[1] - span[0] + 1
                self._cycle_span[key] = [n, n]

    def _close_cycle_segments(self) -> None:
        for first, last in self._cycle_span.values():
            self.cycles_counted += last - first + 1
        self._cycle_span.clear()

    # -- fills and position -----------------------------------------------------------------

    _FILL_LINE = 1
    _UNTRACKED_LINE = 2

    def _seen(self, tid: Any, flag: int, notional: float, fee: float | None) -> tuple[bool, bool]:
        """Record a ``fill``/``untracked_fill`` line of ``tid``: (line already seen, fill already counted)."""
        if tid is None:
            return False, False
        entry = self._tids.get(tid)
        if entry is None:
            self._tids[tid] = [flag, notional, fee]
            if len(self._tids) > _RECENT_TIDS:
                self._tids.popitem(last=False)
            return False, False
        dup = bool(entry[0] & flag)
        entry[0] |= flag
        if notional:
            entry[1] = notional
        if fee is not None:
            entry[2] = fee
        return dup, True

    def on_fill(self, ev: Event) -> None:
        rec = ev.rec
        if rec is None:
            return
        px, sz = num(rec.get("px")), num(rec.get("sz"))
        notional = px * sz if px is not None and sz is not None else 0.0
        fee = num(rec.get("fee"))
        dup, counted = self._seen(rec.get("tid"), self._FILL_LINE, notional, fee)
        if dup:
            return
        if not counted:
            self.fills += 1
        coin = rec.get("coin")
        if isinstance(coin, str):
            self.coins.add(coin)
        s = side_sign(rec.get("side"))
        if s > 0:
            self.buys += 1
        elif s < 0:
            self.sells += 1
        if rec.get("crossed") is True:
            self.taker += 1
        self.volume_usd += notional
        self.fees_usd += fee or 0.0
        mid = num(rec.get("mid_at_fill"))
        if mid is not None and px is not None and sz is not None and s:
            self.spread_capture_usd += s * (mid - px) * sz
        else:
            self.fills_without_mid += 1
        self._position(ev, rec.get("position"))

    def on_untracked_fill(self, ev: Event) -> None:
        notional = (num(ev.get("px")) or 0.0) * (num(ev.get("sz")) or 0.0)
        dup, counted = self._seen(ev.get("tid"), self._UNTRACKED_LINE, notional, None)
        if dup:
            return
        self.untracked += 1
        if not counted:
            self.fills += 1  # no fill line (yet) for it: it still is a fill

    def on_funding(self, ev: Event) -> None:
        self.funding_usd += num(ev.get("payment_usd")) or 0.0

    def on_position_update(self, ev: Event) -> None:
        self._position(ev, ev.get("position"))

    def _position(self, ev: Event, value: Any) -> None:
        pos = num(value)
        if pos is None:
            return
        coin = ev.get("coin")
        if not isinstance(coin, str):  # an account-wide event: the coin if the session has only one
            coin = next(iter(self.coins)) if len(self.coins) == 1 else "?"
        old = self.positions.get(coin)
        if old is None or ev.ts >= old[0]:
            self.positions[coin] = (ev.ts, pos)

    def on_order_rejected(self, ev: Event) -> None:
        reason = ev.get("reason")
        self.rejects[str(reason) if reason else "(no reason)"] += 1

    # -- rate budget ------------------------------------------------------------------------

    def on_rate_limit_status(self, ev: Event) -> None:
        h = num(ev.get("headroom_fraction"))
        if h is None:
            return
        self._close_headroom_interval(ev.ts)
        self.headroom.add(h)
        self.headroom_min = h if self.headroom_min is None else min(self.headroom_min, h)
        self._headroom_last = (ev.ts, h)

    def _close_headroom_interval(self, until_ms: int) -> None:
        last = self._headroom_last
        threshold = self.ctx.config.number("rate.min_headroom_fraction") or 0.10
        if last is not None and last[1] < threshold and until_ms > last[0]:
            self.headroom_below_ms += until_ms - last[0]

    # -- markouts ---------------------------------------------------------------------------

    def edge_bps(self, rec: dict[str, Any]) -> float | None:
        """Spread capture − adverse selection − fee of one ``markout`` line, in bps (None if unknown)."""
        sc, a = num(rec.get("spread_capture_bps")), num(rec.get("adverse_selection_bps"))
        if sc is None or a is None:
            return None
        entry = self._tids.get(rec.get("tid"))
        fee_bps = 0.0
        if entry is not None and entry[1] and entry[2] is not None:
            fee_bps = entry[2] / entry[1] * 1e4
        return sc - a - fee_bps

    def on_markout(self, ev: Event) -> None:
        rec = ev.rec
        if rec is None:
            return
        h = num(rec.get("horizon_s"))
        if h is None:
            return
        stats = self.markouts.get(h)
        if stats is None:
            stats = self.markouts[h] = (Stat(), Stat(), Stat(), Stat())
        a = num(rec.get("adverse_selection_bps"))
        if a is not None:
            stats[0].add(a)
            entry = self._tids.get(rec.get("tid"))
            notional = entry[1] if entry is not None else 0.0
            if notional:
                self.as_usd[h] = self.as_usd.get(h, 0.0) + a * notional / 1e4
        sc = num(rec.get("spread_capture_bps"))
        if sc is not None:
            stats[1].add(sc)
        move = num(rec.get("markout_bps"))
        if move is not None:
            stats[2].add(move)
        edge = self.edge_bps(rec)
        if edge is not None:
            stats[3].add(edge)
            key = (h, int(((ev.ts - h * 1000.0) // 3_600_000) % 24))
            by_hour = self.markouts_by_hour.get(key)
            if by_hour is None:
                by_hour = self.markouts_by_hour[key] = Stat()
            by_hour.add(edge)

    @property
    def longest_horizon(self) -> float | None:
        return max(self.markouts) if self.markouts else None

    # -- risk and calibration ---------------------------------------------------------------

    def on_kill_switch(self, ev: Event) -> None:
        self.kill_switches[str(ev.get("reason") or "(no reason)")] += 1

    def on_gate_active(self, ev: Event) -> None:
        gate, reason = ev.get("gate") or "?", ev.get("reason")
        self.gates[f"{gate}: {reason}" if reason else str(gate)] += 1

    def on_toxicity_pull(self, ev: Event) -> None:
        self.toxicity_pulls[str(ev.get("side") or "?")] += 1

    def on_inventory_forcing(self, ev: Event) -> None:
        self.inventory_forcing += 1

    def on_reduce_only_mode(self, ev: Event) -> None:
        if ev.get("active") is True:
            self.reduce_only_on += 1

    def on_calibration_report(self, ev: Event) -> None:
        rec = ev.rec
        if rec is None:
            return
        self.calibration_reports += 1
        model = str(rec.get("model") or "?")
        entry = self.calibration.setdefault(model, {"reports": 0})
        entry["reports"] += 1
        for key in ("samples", "oe", "oe_low", "oe_high", "brier", "log_loss", "information_ratio",
                    "calibration_error", "validated"):
            if key in rec:
                entry[key] = rec[key]
        entry["last"] = ev.ts

    # -- the summary ------------------------------------------------------------------------

    def finish(self) -> None:
        end = self.ctx.end_ms
        if end is not None:
            self._close_headroom_interval(end)
            self._headroom_last = None
        self._close_cycle_segments()

    @property
    def quote_cycles(self) -> int:
        """Quote cycles run: from the cycle counters, or the cycles logged when there are none."""
        return max(self.cycles_counted, self.cycles_logged)

    def _summary_lines(self) -> list[dict[str, Any]]:
        """The ``session_summary`` lines that add up to the PnL (no coin and per-coin twice)."""
        out = []
        for group in self.summaries:
            totals = [s for s in group if not isinstance(s.get("coin"), str)]
            out += totals[-1:] if totals else group
        return out

    def pnl(self) -> dict[str, Any]:
        """PnL and its split: the engine's ``session_summary`` if logged, else computed."""
        account = self.account_change
        lines = self._summary_lines()
        if lines:
            keys = ("realized_pnl_usd", "unrealized_pnl_usd", "spread_capture_usd", "adverse_selection_usd",
                    "fees_usd", "funding_usd")
            tot = {k: sum(num(s.get(k)) or 0.0 for s in lines) for k in keys}
            total = tot["realized_pnl_usd"] + tot["unrealized_pnl_usd"] - tot["fees_usd"] + tot["funding_usd"]
            explained = tot["spread_capture_usd"] - tot["adverse_selection_usd"] - tot["fees_usd"] + tot["funding_usd"]
            return {
                "source": "session_summary",
                "total_usd": total,
                "realized_usd": tot["realized_pnl_usd"],
                "unrealized_usd": tot["unrealized_pnl_usd"],
                "spread_capture_usd": tot["spread_capture_usd"],
                "adverse_selection_usd": tot["adverse_selection_usd"],
                "fees_usd": tot["fees_usd"],
                "funding_usd": tot["funding_usd"],
                "residual_usd": total - explained,
                "account_value_change_usd": account,
            }
        h = self.longest_horizon
        adverse = self.as_usd.get(h, 0.0) if h is not None else None
        explained = self.spread_capture_usd - (adverse or 0.0) - self.fees_usd + self.funding_usd
        return {
            "source": "computed from fills, markouts and funding",
            "total_usd": account,
            "spread_capture_usd": self.spread_capture_usd,
            "adverse_selection_usd": adverse,
            "adverse_selection_horizon_s": h,
            "fees_usd": self.fees_usd,
            "funding_usd": self.funding_usd,
            "residual_usd": None if account is None else account - explained,
            "account_value_change_usd": account,
        }

    @property
    def account_change(self) -> float | None:
        if self.account_first is None or self.account_last is None:
            return None
        return self.account_last[1] - self.account_first[1]

    def to_dict(self) -> dict[str, Any]:
        ctx = self.ctx
        minutes = ctx.span_s / 60.0
        cycles = self.quote_cycles
        actions = ctx.total("order_place_sent", "order_modify_sent", "order_cancel_sent")
        headroom_threshold = ctx.config.number("rate.min_headroom_fraction") or 0.10
        return {
            "sessions": self.sessions,
            "start": iso(ctx.start_ms),
            "end": iso(ctx.end_ms),
            "duration_s": round(ctx.span_s, 3),
            "venues": sorted(self.venues),
            "versions": sorted(self.versions),
            "coins": sorted(self.coins),
            "config": ctx.config.source,
            "account_value": {
                "start": self.account_first[1] if self.account_first else None,
                "end": self.account_last[1] if self.account_last else None,
                "change": self.account_change,
            },
            "pnl": self.pnl(),
            "volume_usd": self.volume_usd,
            "position": {coin: pos for coin, (_, pos) in sorted(self.positions.items())},
            "fills": {
                "total": self.fills,
                "tracked": self.fills - self.untracked,
                "untracked": self.untracked,
                "buys": self.buys,
                "sells": self.sells,
                "taker": self.taker,
            },
            "orders": {
                "placed": ctx.total("order_place_sent"),
                "modified": ctx.total("order_modify_sent"),
                "modify_missed": ctx.total("order_modify_missed"),
                "cancel_sent": ctx.total("order_cancel_sent"),
                "cancelled": ctx.total("order_cancelled"),
                "filled": ctx.total("order_filled"),
                "rejected": sum(self.rejects.values()),
                "rejected_by_reason": dict(self.rejects.most_common()),
                "unknown_timeouts": ctx.total("order_unknown_timeout"),
            },
            "quote_cycles": cycles,
            "quote_cycles_logged": self.cycles_logged,
            "quote_cycles_per_min": round(cycles / minutes, 3) if minutes > 0 else None,
            "requotes": {
                "order_actions": actions,
                "per_cycle": round(actions / cycles, 3) if cycles else None,
                "per_min": round(actions / minutes, 3) if minutes > 0 else None,
            },
            "rate_headroom": {
                "samples": self.headroom.n,
                "min": self.headroom_min,
                "mean": self.headroom.mean,
                "threshold": headroom_threshold,
                "time_below_s": self.headroom_below_ms / 1000.0,
                "throttled": ctx.total("rate_limit_throttle"),
                "rate_limited": ctx.total("rate_limited"),
            },
            "connection": {
                "reconnects": ctx.total("ws_reconnect"),
                "disconnects": ctx.total("ws_disconnected"),
                "post_timeouts": ctx.total("ws_post_timeout"),
            },
            "risk": {
                "kill_switch": dict(self.kill_switches),
                "gates": dict(self.gates.most_common()),
                "toxicity_pulls": dict(self.toxicity_pulls),
                "inventory_forcing": self.inventory_forcing,
                "reduce_only_on": self.reduce_only_on,
                "book_stale": ctx.total("book_stale"),
            },
            "calibration": {
                "reports": self.calibration_reports,
                "unvalidated_events": ctx.total("model_unvalidated"),
                "models": {m: {k: v for k, v in e.items() if k != "last"} for m, e in sorted(self.calibration.items())},
            },
            "markouts": [
                {
                    "horizon_s": h,
                    "n": max(a.n, e.n),
                    "spread_capture_bps": sc.mean,
                    "adverse_selection_bps": a.mean,
                    "mid_move_bps": mv.mean,
                    "edge_bps": e.mean,
                    "edge_se_bps": e.se,
                }
                for h, (a, sc, mv, e) in sorted(self.markouts.items())
            ],
        }
