"""Safety sync and resync: the exchange's state read back and the local cache corrected.

One sync asks, in this order and over the same connection, for ``clearinghouseState``
(positions, margin, the snapshot time T), ``openOrders`` and ``userFillsByTime`` since the last
fill seen. When the three answers are in:

1. the fills are fed to the fill processor first (deduplicated by (tid, oid): a fill lost on
   the stream is applied now, one already counted is ignored), so the local position includes
   every fill up to T;
2. open orders are reconciled (``OrderManager.apply_open_orders``): orphans cancelled or
   adopted (``risk.on_start``), tracked orders missing on the exchange closed, unknown orders
   queried with ``orderStatus``;
3. each coin's position is compared in integer lots *as of T* with the exchange's ``szi``. A
   difference is first re-checked with a fresh sync (a fill stamped T itself may straddle the
   snapshot); only a confirmed difference is a ``position_mismatch``: the exchange's position
   wins, the coin stops quoting until a later sync agrees, and a mismatch that comes back after
   that correction fires the kill switch;
4. the account figures (account value, the exchange's free margin) become the quote cycle's.

Every reconnect runs the same sync (``reason="resync"``); the engine does not quote again until
it has completed. The startup read is the same sync too.
"""
from __future__ import annotations

import time
from decimal import Decimal
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from hlmm.engine.executor import OK, Answer, Executor
from hlmm.engine.fills import FillProcessor, FillReport
from hlmm.engine.gates import Gates
from hlmm.engine.orders import OrderManager, SyncReport
from hlmm.engine.snapshot import AccountSnapshot
from hlmm.log import get_logger

log = get_logger("engine.sync")

FILLS_PAGE = 2000          # userFillsByTime answers at most this many fills
FILL_LOOKBACK_MS = 60_000  # re-read fills from this long before the newest one seen (dedup makes it free)


@dataclass
class CoinCheck:
    """One coin's position at a sync: local vs exchange, in lots, as of the snapshot time."""

    coin: str
    local_lots: int
    exchange_lots: int
    szi: str
    entry_px: str | None
    unrealized_pnl: str | None
    position_value: str | None

    @property
    def ok(self) -> bool:
        return self.local_lots == self.exchange_lots


@dataclass
class SyncResult:
    """What one completed sync found (handed to the engine's ``on_sync`` callbacks)."""

    reason: str
    started_ms: int
    time_ms: int                      # the clearinghouseState snapshot time T
    duration_ms: float
    account: AccountSnapshot
    clearinghouse: Mapping[str, Any]
    open_orders: int
    orders: SyncReport
    fills: FillReport
    coins: list[CoinCheck] = field(default_factory=list)
    mismatches: int = 0               # confirmed position mismatches (corrected)
    suspect: bool = False             # a difference was seen and is being re-checked

    @property
    def positions_ok(self) -> bool:
        return all(c.ok for c in self.coins)


class SafetySync:
    """Runs syncs through the executor and applies them (see the module docstring)."""

    def __init__(self, user: str, coins: Sequence[str], executor: Executor, manager: OrderManager,
                 fills: FillProcessor, gates: Gates, *, now_ms: Callable[[], int],
                 on_fills: Callable[[FillReport], None] | None = None,
                 on_done: Callable[[SyncResult], None] | None = None,
                 on_status_query: Callable[[Any], None] | None = None,
                 record_ip: Callable[[int], None] | None = None) -> None:
        self.user = user
        self.coins = tuple(coins)
        self.executor = executor
        self.manager = manager
        self.fills = fills
        self.gates = gates
        self.now_ms = now_ms
        self.on_fills = on_fills
        self.on_done = on_done
        self.on_status_query = on_status_query
        self.record_ip = record_ip
        self.last_fill_ms: int | None = None   # newest fill time applied (the next read starts before it)
        self.in_progress: str | None = None
        self._answers: dict[str, Any] = {}
        self._fill_pages: list[list[Any]] = []
        self._started_ms = 0
        self._started_mono = 0.0
        self._requested_ms = 0
        self._suspect: set[str] = set()        # coins whose difference awaits a re-check
        self._corrected: set[str] = set()      # coins corrected at the last confirmed mismatch
        self._rerun: str | None = None
        self.completed = 0
        self.mismatches_total = 0
        self.failures = 0
        self.last: SyncResult | None = None

    # ------------------------------------------------------------------ starting
    def start(self, reason: str = "periodic") -> bool:
        """Send the three requests; False if a sync is already running (it will be re-run after)."""
        if self.in_progress is not None:
            if reason == "resync" or self._rerun is None:
                self._rerun = reason
            return False
        self.in_progress = reason
        self._answers = {}
        self._fill_pages = []
        self._started_ms = self._requested_ms = self.now_ms()
        self._started_mono = time.monotonic()
        self._request("clearinghouse", {"type": "clearinghouseState", "user": self.user}, 2)
        self._request("open_orders", {"type": "openOrders", "user": self.user}, 20)
        self._request_fills(self._fills_start())
        return True

    def _fills_start(self) -> int:
        if self.last_fill_ms is None:
            return max(0, self._started_ms - 24 * 3_600_000)
        return max(0, self.last_fill_ms - FILL_LOOKBACK_MS)

    def _request(self, key: str, body: dict[str, Any], weight: int) -> None:
        if self.record_ip is not None and not self.executor.ws.connected:
            self.record_ip(weight)   # over HTTP it spends REST weight
        self.executor.send_info(body, lambda answer, k=key: self._on_answer(k, answer))

    def _request_fills(self, start_ms: int) -> None:
        body = {"type": "userFillsByTime", "user": self.user, "startTime": int(start_ms), "aggregateByTime": False}
        self._request("fills", body, 20)

    # ------------------------------------------------------------------ answers
    def _on_answer(self, key: str, answer: Answer) -> None:
        if self.in_progress is None:
            return
        if answer.kind != OK:
            self._fail(f"{key}: {answer.kind} ({answer.error})")
            return
        if key == "fills":
            page = answer.response if isinstance(answer.response, list) else None
            if page is None:
                self._fail(f"userFillsByTime answered {str(answer.response)[:120]}")
                return
            self._fill_pages.append(page)
            if len(page) >= FILLS_PAGE:      # more than one page since the last fill: read on
                newest = max(int(f.get("time", 0)) for f in page if isinstance(f, Mapping))
                self._request_fills(newest)
                return
        self._answers[key] = answer.response
        if len(self._answers) == 3:
            self._complete()

    def _fail(self, why: str) -> None:
        self.failures += 1
        reason = self.in_progress
        self.in_progress = None
        log.warning("error", where="engine.sync", error="sync_failed", detail=f"{reason} sync: {why}")
        rerun, self._rerun = self._rerun, None
        if rerun is not None or reason == "resync":
            self.start(rerun or "resync")

    def _complete(self) -> None:
        reason = self.in_progress or "periodic"
        ch = self._answers["clearinghouse"]
        orders = self._answers["open_orders"]
        if not isinstance(ch, Mapping) or not isinstance(orders, list):
            self._fail("clearinghouseState or openOrders has an unexpected shape")
            return
        now = self.now_ms()
        fills = [f for page in self._fill_pages for f in page]
        freport = self.fills.on_fills(fills, now, source="sync")
        if freport.applied:
            self.note_fills(freport)
            if self.on_fills is not None:
                self.on_fills(freport)
        mine = [o for o in orders if isinstance(o, Mapping) and o.get("coin") in self.coins]
        oreport = self.manager.apply_open_orders(mine, self._requested_ms, now, self.coins)
        for query in oreport.queries:
            if self.on_status_query is not None:
                self.on_status_query(query)
        snap_ms = int(ch.get("time") or self._requested_ms)
        result = SyncResult(reason, self._started_ms, snap_ms, (time.monotonic() - self._started_mono) * 1000,
                            account_snapshot(ch, snap_ms), ch, len(mine), oreport, freport)
        positions = _positions(ch)
        suspect = set()
        for coin in self.coins:
            szi, entry, upnl, value = positions.get(coin, ("0", None, None, None))
            check = self.fills.check_position(coin, szi, snap_ms)
            cc = CoinCheck(coin, check.local_lots, check.exchange_lots, szi, entry, upnl, value)
            result.coins.append(cc)
            if cc.ok:
                self._suspect.discard(coin)
                self._corrected.discard(coin)
                self.gates.on_position_match(coin)
                continue
            if coin not in self._suspect:
                suspect.add(coin)          # re-check before believing it
                self.gates.on_position_mismatch(coin, f"re-checking: local {cc.local_lots} vs exchange "
                                                      f"{cc.exchange_lots} lots", now, persistent=False)
                continue
            result.mismatches += 1
            self.mismatches_total += 1
            log.warning("position_mismatch", coin=coin,
                        local=_size_str(check.local_lots, self.fills.assets[coin].sz_decimals), exchange=szi)
            self.fills.adopt_exchange_position(coin, szi, entry, snap_ms)
            persistent = coin in self._corrected
            self._corrected.add(coin)
            self.gates.on_position_mismatch(coin, f"local {cc.local_lots} vs exchange {cc.exchange_lots} lots, "
                                                  "corrected to the exchange's", now, persistent=persistent)
        self._suspect = suspect
        result.suspect = bool(suspect)
        log.info("safety_sync", open_orders=len(mine), positions={c.coin: c.szi for c in result.coins},
                 account_value=result.account.account_value, margin_available=result.account.available_margin,
                 mismatches=oreport.mismatches + result.mismatches, duration_ms=round(result.duration_ms, 3))
        self.in_progress = None
        self.completed += 1
        self.last = result
        if self.on_done is not None:
            self.on_done(result)
        rerun, self._rerun = self._rerun, None
        if suspect:
            self.start("recheck")
        elif rerun is not None:
            self.start(rerun)

    def note_fills(self, report: FillReport) -> None:
        """Fills applied from the stream: the next sync reads fills from just before the newest."""
        for f in report.applied:
            if self.last_fill_ms is None or f.time_ms > self.last_fill_ms:
                self.last_fill_ms = f.time_ms


def _positions(ch: Mapping[str, Any]) -> dict[str, tuple[str, str | None, str | None, str | None]]:
    out = {}
    for entry in ch.get("assetPositions") or []:
        pos = entry.get("position") if isinstance(entry, Mapping) else None
        if isinstance(pos, Mapping) and isinstance(pos.get("coin"), str):
            out[pos["coin"]] = (str(pos.get("szi", "0")), pos.get("entryPx"), pos.get("unrealizedPnl"),
                                pos.get("positionValue"))
    return out


def account_snapshot(ch: Mapping[str, Any], time_ms: int) -> AccountSnapshot:
    """Account value and the exchange's free margin (``withdrawable``, as is) from a clearinghouseState."""
    summary = ch.get("marginSummary") or {}
    try:
        value = float(summary.get("accountValue", "nan"))
    except (TypeError, ValueError):
        value = float("nan")
    try:
        free = max(0.0, float(ch.get("withdrawable", "0")))
    except (TypeError, ValueError):
        free = 0.0
    return AccountSnapshot(value, free, time_ms)


def _size_str(lots: int, sz_decimals: int) -> str:
    """Lots as the exchange writes a size (``"-0.0012"``)."""
    return str(Decimal(lots).scaleb(-sz_decimals))
