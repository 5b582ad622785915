"""Realistic hlmm logs for the audit tests and benchmark, written by hlmm's own logger.

Two layers:

* :class:`LogBuilder` writes documented events one by one at explicit times through
  :mod:`hlmm.log` (the real file sink, the real encoder, strict event checks), and returns the
  line number of each, so a test can assert exact counts and ``file:line`` examples.
  :meth:`LogBuilder.raw` appends arbitrary bytes (corrupt or foreign lines).
* :func:`write_session` simulates a whole session: a mid random walk per coin, quote cycles
  with their ladder, reconcile diff and order traffic, fills with markouts at every horizon,
  periodic rate-limit, safety-sync and calibration reports, and the faults of a
  :class:`Scenario` (warm-up quoting, microprice divergence, untracked fills, low rate headroom,
  a thin ladder, stale books, a reject storm, a toxic hour, unvalidated calibration, position
  mismatches, a reconnect storm, crossed quotes, a kill switch).

Everything is deterministic for a given seed.
"""
from __future__ import annotations

import calendar
import heapq
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hlmm import log
from hlmm.log_events import EVENTS

START = "2026-01-13T22:14:01Z"


def epoch(iso: str) -> float:
    """Unix seconds of ``YYYY-MM-DDTHH:MM:SS[.fff]Z``."""
    base, _, frac = iso.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs + (float("0." + frac) if frac else 0.0)


class LogBuilder:
    """Writes hlmm events to ``path`` at a controlled clock; tracks line numbers.

    Use as a context manager (it configures and then shuts down :mod:`hlmm.log`).
    ``max_bytes`` > 0 rotates like a real session (line numbers then restart per file).
    """

    def __init__(self, path: str | os.PathLike[str], start: str = START, *, max_bytes: int = 0,
                 backups: int = 20) -> None:
        self.path = Path(path)
        self.t = epoch(start)
        self.line = 0
        self._max_bytes = max_bytes
        self._backups = backups
        self._loggers: dict[str, log.EventLogger] = {}

    def __enter__(self) -> LogBuilder:
        log.configure_logging(self.path, level="debug", console="off", max_bytes=self._max_bytes,
                              backups=self._backups, clock=lambda: self.t)
        return self

    def __exit__(self, *exc: object) -> None:
        log.shutdown_logging()

    def at(self, iso: str) -> LogBuilder:
        self.t = epoch(iso)
        return self

    def advance(self, seconds: float) -> LogBuilder:
        self.t += seconds
        return self

    def emit(self, event: str, level: str = "info", component: str | None = None, **fields: Any) -> int:
        """Write one documented event; returns its line number."""
        if event not in EVENTS:
            raise KeyError(f"{event!r} is not a documented event")
        if component is None:
            component = EVENTS[event].component
            if component == "*":
                component = "engine"
        logger = self._loggers.get(component)
        if logger is None:
            logger = self._loggers[component] = log.get_logger(component)
        getattr(logger, level)(event, **fields)
        self.line += 1
        return self.line

    def raw(self, data: bytes | str, newline: bool = True) -> int:
        """Append raw bytes as one line (``newline=False`` leaves it unterminated)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        with open(self.path, "ab") as f:
            f.write(data + (b"\n" if newline else b""))
        self.line += 1
        return self.line


# ------------------------------------------------------------------------------ sessions


@dataclass
class Scenario:
    """What goes wrong in a generated session (all off by default)."""

    warmup_quote_cycles: int = 0          # cycles quoted (orders placed) before estimator_warm
    microprice_divergence_cycles: int = 0  # cycles after warm-up with microprice ~200 bps off mid
    crossed_quotes: int = 0               # quote_crossed events during the divergence
    untracked_fill_share: float = 0.0     # share of fills whose order is not tracked
    low_headroom: bool = False            # address budget runs down below 10 %
    funded_levels: int | None = None      # levels margin can fund (< levels_per_side)
    stale_books: int = 0                  # book_stale events
    reject_storm: int = 0                 # rejections within 20 s, mid-session
    toxic_hour: int | None = None         # UTC hour whose fills are adversely selected
    calibration_zero_samples: bool = False  # calibration reports with 0 samples
    position_mismatches: int = 0
    reconnect_storm: int = 0              # reconnects within 2 minutes
    kill_switch: bool = False             # the kill switch fires at the end
    summary: bool = True                  # end with a session_summary (else the audit computes the PnL)


@dataclass
class SessionStats:
    """What :func:`write_session` wrote (for tests to compare with the audit)."""

    lines: int = 0
    cycles: int = 0
    fills: int = 0
    untracked: int = 0
    places: int = 0
    modifies: int = 0
    cancels: int = 0
    rejects: dict[str, int] = field(default_factory=dict)
    warmup_places: int = 0
    end_ts: float = 0.0


_COIN_MID = {"BTC": 97000.0, "ETH": 3300.0, "SOL": 190.0, "HYPE": 25.0}
_SZ_DEC = {"BTC": 5, "ETH": 4, "SOL": 2, "HYPE": 2}
HORIZONS = (0.5, 1.0, 2.0, 5.0, 10.0, 60.0)


def _px(mid: float) -> str:
    """A 5-significant-figure price string like the exchange's."""
    digits = max(0, 4 - int(math.floor(math.log10(mid))))
    return f"{mid:.{digits}f}"


def write_session(
    path: str | os.PathLike[str],
    *,
    seconds: float = 600.0,
    target_bytes: int = 0,
    coins: tuple[str, ...] = ("BTC",),
    levels: int = 5,
    cycle_s: float = 0.5,
    fill_rate_per_s: float = 0.05,
    start: str = START,
    seed: int = 7,
    scenario: Scenario | None = None,
    max_bytes: int = 0,
) -> SessionStats:
    """Simulate one session into ``path``; stop after ``seconds`` or at ``target_bytes`` written."""
    sc = scenario or Scenario()
    rng = random.Random(seed)
    stats = SessionStats()
    with LogBuilder(path, start, max_bytes=max_bytes) as b:
        _Session(b, rng, sc, stats, coins, levels, cycle_s, fill_rate_per_s).run(seconds, target_bytes)
        stats.lines = b.line
        stats.end_ts = b.t
    return stats


class _Session:
    def __init__(self, b: LogBuilder, rng: random.Random, sc: Scenario, stats: SessionStats,
                 coins: tuple[str, ...], levels: int, cycle_s: float, fill_rate: float) -> None:
        self.b, self.rng, self.sc, self.st = b, rng, sc, stats
        self.coins, self.levels, self.cycle_s, self.fill_rate = coins, levels, cycle_s, fill_rate
        self.mid = {c: _COIN_MID.get(c, 100.0) for c in coins}
        self.micro_off = {c: 0.0 for c in coins}
        self.pos = {c: 0.0 for c in coins}
        self.live: dict[str, list[str]] = {c: [] for c in coins}
        self.seq = 0
        self.tid = 900_000_000_000
        self.oid = 45_000_000_000
        self.cycle = {c: 0 for c in coins}  # per coin, like the engine's quote_cycle.cycle
        self.pending: list[tuple[float, int, str, dict[str, Any]]] = []  # (t, seq, event, fields)
        self.account = 1000.0
        self.used = 2000
        self.cap = 12000
        self._size_checks = 0
        self._size = 0
        self.fees = 0.0
        self.spread_capture = 0.0
        self.volume = 0.0

    # -- helpers --------------------------------------------------------------------------

    def cloid(self) -> str:
        self.seq += 1
        return f"0x1c5ee2a000000001{self.seq:016x}"

    def emit(self, event: str, level: str = "info", **fields: Any) -> None:
        self.b.emit(event, level, **fields)

    def later(self, dt: float, event: str, **fields: Any) -> None:
        self.seq += 1
        heapq.heappush(self.pending, (self.b.t + dt, self.seq, event, fields))

    def flush_pending(self, until: float) -> None:
        now = self.b.t
        while self.pending and self.pending[0][0] <= until:
            t, _, event, fields = heapq.heappop(self.pending)
            self.b.t = max(t, now)
            level = fields.pop("_level", "info")
            self.emit(event, level, **fields)
        self.b.t = max(now, until)

    # -- the session ----------------------------------------------------------------------

    def run(self, seconds: float, target_bytes: int) -> None:
        b, sc = self.b, self.sc
        self.emit("session_start", version="0.1.0", venue="sim", account="0x" + "ab" * 20, vault="",
                  coins=list(self.coins), config_file="hlmm.toml", pid=4242)
        self.emit("config_loaded", file="hlmm.toml", includes=[], warnings=[], config={
            "strategy": {"levels_per_side": self.levels, "toxic_hours_utc": [6, 7, 14], "spread_floor_bps": 8.0},
            "risk": {"stale_book_s": 5.0, "reject_storm_count": 10, "reject_storm_window_s": 60.0,
                     "max_disconnected_s": 10.0},
            "rate": {"min_headroom_fraction": 0.1},
            "calibration": {"report_interval_s": 300.0},
            "assets": {"coins": list(self.coins), "overrides": {}},
        })
        self.emit("ws_connected", url="ws://127.0.0.1:8765/ws", attempt=1, elapsed_ms=12.5)
        for coin in self.coins:
            self.emit("leverage_set", coin=coin, requested=3, leverage=3, max_leverage=40, is_cross=True, ok=True)
        self.rate_status()
        self.safety_sync()
        t0 = b.t
        warm_at = t0 + 60.0
        warm_done = False
        warm_cycles = sc.warmup_quote_cycles
        next_rate = t0 + 60.0
        next_sync = t0 + 60.0
        next_cal = t0 + 300.0
        next_deadman = t0
        span = min(seconds, 1800.0)  # one-off faults happen within the first half hour of long runs
        storm_at = t0 + span * 0.5 if sc.reject_storm else math.inf
        reconnect_at = t0 + span * 0.3 if sc.reconnect_storm else math.inf
        stale_every = span / (sc.stale_books + 1) if sc.stale_books else math.inf
        next_stale = t0 + stale_every
        mismatch_every = span / (sc.position_mismatches + 1) if sc.position_mismatches else math.inf
        next_mismatch = t0 + mismatch_every
        divergence_left = sc.microprice_divergence_cycles
        crossed_left = sc.crossed_quotes
        while True:
            elapsed = b.t - t0
            if elapsed >= seconds or (target_bytes and self.size() >= target_bytes):
                break
            warming = not warm_done and b.t < warm_at
            if not warm_done and not warming:
                for coin in self.coins:
                    self.emit("estimator_warm", coin=coin, elapsed_s=round(b.t - t0, 3), trades=25, book_updates=120)
                warm_done = True
            for coin in self.coins:
                if warming:
                    if warm_cycles > 0:
                        self.quote(coin, warmup=True)
                    continue
                diverge = divergence_left > 0
                self.quote(coin, diverge=diverge, crossed=diverge and crossed_left > 0)
                if diverge and crossed_left > 0:
                    crossed_left -= 1
            if warming and warm_cycles > 0:
                warm_cycles -= 1
            if warm_done and divergence_left > 0:
                divergence_left -= 1
            if warm_done and self.rng.random() < self.fill_rate * self.cycle_s:
                self.fill(self.rng.choice(self.coins))
            if b.t >= next_deadman:
                self.emit("deadman_armed", "debug", cancel_at_ms=int((b.t + 60) * 1000), seconds_ahead=60.0)
                next_deadman += 30.0
            if b.t >= next_rate:
                self.rate_status()
                next_rate += 60.0
            if b.t >= next_sync:
                self.safety_sync()
                next_sync += 60.0
            if b.t >= next_cal:
                self.calibration()
                next_cal += 300.0
            if b.t >= next_stale and b.t < t0 + span:
                self.emit("book_stale", "warning", coin=self.coins[0], age_s=7.5, threshold_s=5.0)
                next_stale += stale_every
            if b.t >= next_mismatch and b.t < t0 + span:
                coin = self.coins[0]
                self.emit("position_mismatch", "warning", coin=coin, local=self.pos[coin],
                          exchange=round(self.pos[coin] + 0.001, 5))
                next_mismatch += mismatch_every
            if b.t >= storm_at:
                self.reject_storm()
                storm_at = math.inf
            if b.t >= reconnect_at:
                self.reconnect_storm()
                reconnect_at = math.inf
            self.flush_pending(b.t + self.cycle_s)
        self.flush_pending(b.t + 61.0)
        if self.sc.kill_switch:
            self.emit("kill_switch", "critical", reason="max_loss", detail="session loss 25.3 >= 25.0",
                      action="stop")
        self.calibration()
        self.safety_sync()
        self.emit("shutdown", reason="end of run", signal="")
        n_open = sum(len(v) for v in self.live.values())
        self.emit("shutdown_cancel_all", reason="shutdown", coins=list(self.coins), n_orders=n_open, ok=True, error="")
        if self.sc.summary:
            coin = self.coins[0]
            self.emit("session_summary", duration_s=round(b.t - t0, 3), fills=self.st.fills,
                      volume_usd=round(self.volume, 2), realized_pnl_usd=round(self.spread_capture, 6),
                      unrealized_pnl_usd=0.0, fees_usd=round(self.fees, 6),
                      spread_capture_usd=round(self.spread_capture, 6), adverse_selection_usd=0.0, funding_usd=0.0,
                      position=self.pos[coin], notional_usd=round(abs(self.pos[coin]) * self.mid[coin], 2),
                      kill_switch_fired=self.sc.kill_switch, exit_code=6 if self.sc.kill_switch else 0)

    def size(self) -> int:
        """Bytes written so far, rotated files included (re-measured every 64 calls)."""
        self._size_checks += 1
        if self._size_checks % 64 == 1:
            path = self.b.path
            files = [path] + [path.with_name(f"{path.name}.{i}") for i in range(1, self.b._backups + 1)]
            self._size = sum(f.stat().st_size for f in files if f.exists())
        return self._size

    # -- pieces -----------------------------------------------------------------------------

    def quote(self, coin: str, *, warmup: bool = False, diverge: bool = False, crossed: bool = False) -> None:
        rng, b = self.rng, self.b
        self.cycle[coin] += 1
        self.st.cycles += 1
        mid = self.mid[coin] = self.mid[coin] * math.exp(rng.gauss(0.0, 1.2e-4 * math.sqrt(self.cycle_s)))
        self.micro_off[coin] = 0.02 if diverge else 0.0
        micro = mid * (1 + self.micro_off[coin] + rng.gauss(0.0, 2e-5))
        funded = self.levels if self.sc.funded_levels is None else min(self.levels, self.sc.funded_levels)
        binding = "margin" if funded < self.levels else "none"
        depth = 8e-4 + abs(rng.gauss(0, 1e-4))
        bids = [[_px(mid * (1 - depth - i * 3e-4)), f"{0.001 + 0.0002 * i:.5f}"] for i in range(funded)]
        asks = [[_px(mid * (1 + depth + i * 3e-4)), f"{0.001 + 0.0002 * i:.5f}"] for i in range(funded)]
        if crossed:
            self.emit("quote_crossed", "error", coin=coin, side="A", px=_px(mid * 0.999), mid=round(mid, 2))
            asks = []
        self.emit("quote_cycle", "debug", coin=coin, cycle=self.cycle[coin], mid=round(mid, 2), microprice=round(micro, 2),
                  sigma=1.2e-4, kappa=round(250 + rng.random(), 3), regime="normal", gamma=0.3,
                  position=round(self.pos[coin], 5), bid_levels=len(bids), ask_levels=len(asks),
                  bid_px=bids[0][0] if bids else None, ask_px=asks[0][0] if asks else None,
                  bid_binding=binding, ask_binding="toxicity_gate" if crossed else binding,
                  latency_us=rng.randint(20, 80))
        self.emit("ladder_computed", "debug", coin=coin, bids=bids, asks=asks,
                  half_spread_bid_bps=round(depth * 1e4, 3), half_spread_ask_bps=round(depth * 1e4, 3),
                  skew_bps=0.0, kelly_fraction=0.2, binding=binding)
        if funded < self.levels:
            for lvl in range(funded, self.levels):
                for side in ("B", "A"):
                    self.emit("ladder_level_dropped", "debug", coin=coin, side=side, ladder_level=lvl,
                              px=_px(mid), sz="0.00010", notional_usd=9.7, cause="min_notional")
        live = self.live[coin]
        target = 2 * len(bids) if not crossed else len(bids)
        n_cancel = max(0, len(live) - target)
        n_place = max(0, target - len(live)) + (1 if rng.random() < 0.3 else 0)
        n_modify = rng.randint(0, 2) if live else 0
        self.emit("reconcile_diff", "debug", coin=coin, keep=max(0, len(live) - n_cancel - n_modify),
                  modify=n_modify, cancel=n_cancel, place=n_place)
        for _ in range(n_cancel):
            c = live.pop(0)
            self.emit("order_cancel_sent", coin=coin, cloid=c, oid=self.oid, reason="reprice", post_id=self.seq)
            self.later(0.05, "order_cancelled", coin=coin, cloid=c, oid=self.oid, status="canceled")
            self.st.cancels += 1
        for i in range(n_modify):
            c = live[i % len(live)]
            self.emit("order_modify_sent", coin=coin, cloid=c, oid=self.oid, side="B", px=bids[0][0] if bids else _px(mid),
                      sz="0.00100", old_px=_px(mid * 0.999), old_sz="0.00100", post_id=self.seq)
            self.st.modifies += 1
        if n_place:
            self.emit("batch_sent", "debug", coin=coin, kind="order", n=n_place, post_id=self.seq, weight=1,
                      nonce=int(b.t * 1000))
        for i in range(n_place):
            c = self.cloid()
            side = "B" if i % 2 == 0 else "A"
            px = (bids if side == "B" else asks or bids)[min(i // 2, max(0, len(bids) - 1))][0] if bids else _px(mid)
            self.emit("order_place_sent", coin=coin, cloid=c, side=side, px=px, sz="0.00100", tif="Alo",
                      reduce_only=False, ladder_level=i // 2, post_id=self.seq)
            self.st.places += 1
            if warmup:
                self.st.warmup_places += 1
            self.oid += 1
            self.later(0.08, "order_resting", coin=coin, cloid=c, oid=self.oid, side=side, px=px, sz="0.00100")
            live.append(c)

    def fill(self, coin: str) -> None:
        rng, b, sc = self.rng, self.b, self.sc
        side = rng.choice("BA")
        s = 1 if side == "B" else -1
        mid = self.mid[coin]
        px = mid * (1 - s * 9e-4)
        sz = 0.001 + round(rng.random() * 0.002, 5)
        self.tid += rng.randint(1, 10_000)
        self.oid += 1
        start_pos = self.pos[coin]
        self.pos[coin] = round(start_pos + s * sz, 6)
        fee = round(px * sz * 1.5e-4, 6)
        self.fees += fee
        self.volume += float(_px(px)) * sz
        self.spread_capture += s * (round(mid, 2) - float(_px(px))) * sz
        untracked = rng.random() < sc.untracked_fill_share
        cloid = None if untracked else self.cloid()
        self.emit("fill", coin=coin, tid=self.tid, oid=self.oid, cloid=cloid, side=side, px=_px(px), sz=f"{sz:.5f}",
                  fee=f"{fee:.6f}", fee_token="USDC", crossed=False, closed_pnl="0.0",
                  start_position=f"{start_pos:.5f}", position=self.pos[coin], mid_at_fill=round(mid, 2),
                  ladder_level=0)
        self.st.fills += 1
        if untracked:
            self.emit("untracked_fill", "warning", coin=coin, tid=self.tid, oid=self.oid, cloid=None, side=side,
                      px=_px(px), sz=f"{sz:.5f}", cause="cloid_missing")
            self.st.untracked += 1
        self.emit("position_update", coin=coin, position=self.pos[coin], entry_px=round(mid, 2),
                  notional_usd=round(abs(self.pos[coin]) * mid, 2), unrealized_pnl_usd=0.0, source="fill")
        toxic = sc.toxic_hour is not None and time.gmtime(b.t).tm_hour == sc.toxic_hour
        sc_bps = 9.0
        for h in HORIZONS:
            drift = (12.0 if toxic else 1.5) * min(1.0, h / 10.0)
            as_bps = drift + rng.gauss(0, 1.0)
            self.later(h, "markout", _level="debug", coin=coin, tid=self.tid, side=side, horizon_s=h,
                       markout_bps=round(-as_bps, 3), spread_capture_bps=sc_bps, adverse_selection_bps=round(as_bps, 3))

    def rate_status(self) -> None:
        if self.sc.low_headroom:
            self.used = min(self.cap - 100, self.used + 2500)
        else:
            self.used += 150
            self.cap += 150
        headroom = (self.cap - self.used) / self.cap
        self.emit("rate_limit_status", ip_weight_used=120, ip_weight_limit=1200, address_requests_used=self.used,
                  address_requests_cap=self.cap, headroom_fraction=round(headroom, 4), cum_volume_usd=2000.0)
        if headroom < 0.1:
            self.emit("rate_limit_throttle", "warning", headroom_fraction=round(headroom, 4), reason="low_headroom",
                      skipped=1)
            pos = self.pos[self.coins[0]]
            if pos:
                self.emit("inventory_forcing", "warning", coin=self.coins[0], position=pos,
                          reduce_side="A" if pos > 0 else "B", headroom_fraction=round(headroom, 4))

    def safety_sync(self) -> None:
        self.account += self.rng.gauss(0.0, 0.2)
        self.emit("safety_sync", open_orders=sum(len(v) for v in self.live.values()), positions=len(self.coins),
                  account_value=round(self.account, 2), margin_available=round(self.account * 0.8, 2),
                  mismatches=0, duration_ms=35.2)

    def calibration(self) -> None:
        for model in ("fill_probability", "adverse_selection"):
            n = 0 if self.sc.calibration_zero_samples else self.st.fills * 3
            self.emit("calibration_report", model=model, samples=n, brier=0.0 if not n else 0.19,
                      log_loss=0.0 if not n else 0.56, information_ratio=0.0 if not n else 1.3,
                      calibration_error=0.0 if not n else 0.03, validated=bool(n >= 50))

    def reject_storm(self) -> None:
        for i in range(self.sc.reject_storm):
            self.emit("order_rejected", "warning", coin=self.coins[0], cloid=self.cloid(), side="B", px="96000",
                      sz="0.00100", reason="Insufficient margin to place order.")
            self.st.rejects["Insufficient margin to place order."] = \
                self.st.rejects.get("Insufficient margin to place order.", 0) + 1
            self.b.advance(20.0 / max(1, self.sc.reject_storm))

    def reconnect_storm(self) -> None:
        for i in range(self.sc.reconnect_storm):
            self.emit("ws_disconnected", "warning", url="ws://127.0.0.1:8765/ws", reason="connection reset", code=1006,
                      connected_s=5.0)
            self.emit("ws_reconnect", url="ws://127.0.0.1:8765/ws", attempt=i + 1, delay_s=0.5)
            self.b.advance(1.0)
            self.emit("ws_connected", url="ws://127.0.0.1:8765/ws", attempt=i + 1, elapsed_ms=10.0)
            self.b.advance(120.0 / max(1, self.sc.reconnect_storm))
