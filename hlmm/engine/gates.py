"""Gates: the risk checks a reconcile plan passes before anything is sent, each with a reason code.

Account-wide **kill switch** (latched until :meth:`Gates.reset_kill`): session loss beyond
``max_loss_usd``, drawdown from the session's peak beyond ``max_drawdown_usd`` or
``max_drawdown_fraction``, a position beyond ``kill_position_multiple`` x ``max_position_usd``,
a reject storm (``reject_storm_count`` rejects within ``reject_storm_window_s``), or a position
mismatch with the exchange that persists after correction. ``kill_action`` decides what follows:
``stop`` (cancel everything, quote nothing) or ``reduce_only``.

Per coin and side, a side is **blocked** (its places dropped, its modifies and keeps turned into
cancels) by the first of: kill switch (stop), ``disconnected`` (WebSocket down longer than
``max_disconnected_s``, until resynced), ``stale_book``, ``warmup`` (estimators not ready),
``position_mismatch`` (until the next sync agrees), ``reduce_only`` (the side that would grow the
position), ``inventory_forcing`` (rate headroom below 10 % with a position: only the reducing side
quotes), ``toxicity`` (the side's score above the pull threshold).

Per intent: ``requote_interval`` (modifies and places at most every ``min_requote_interval_ms``,
``throttled_requote_interval_ms`` when the rate headroom is low), ``position_limit`` (a side's
exposure = position + open orders + in flight + this plan, never beyond ``max_position``; sizes
are trimmed touch first), ``rate_budget`` (``RateBudget.check``). **Cancels always pass** (neither
the IP window nor a REST 429 holds them; only the exchange's own cancel allowance limits them). Every change is a :class:`~hlmm.engine.plan.Decision`;
side gates log ``gate_active`` / ``gate_cleared`` when they start and stop.

The toxic-hours gamma multiplier (:meth:`Gates.tod_gamma_mult`) feeds the ladder's
``tod_gamma_mult`` and is logged as the ``toxic_hours`` gate.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping

from hlmm.engine.order_state import ASK, BID, SIDE_NAMES
from hlmm.engine.orders import OrderManager
from hlmm.engine.plan import Cancel, Decision, Modify, Place, Plan
from hlmm.engine.ratebudget import RateBudget
from hlmm.engine.snapshot import MarketInputs
from hlmm.exchange import wire
from hlmm.exchange.assets import AssetInfo
from hlmm.log import get_logger

log = get_logger("engine.gates")
risk_log = get_logger("engine.risk")
rate_log = get_logger("engine.rate")

# gate names (the ``gate`` field of gate_active / gate_cleared and of decisions)
KILL_SWITCH = "kill_switch"
DISCONNECTED = "disconnected"
STALE_BOOK = "stale_book"
WARMUP = "warmup"
POSITION_MISMATCH = "position_mismatch"
REDUCE_ONLY = "reduce_only"
INVENTORY_FORCING = "inventory_forcing"
TOXICITY = "toxicity"
TOXIC_HOURS = "toxic_hours"
REQUOTE_INTERVAL = "requote_interval"
POSITION_LIMIT = "position_limit"
RATE_BUDGET = "rate_budget"

# kill switch reasons
KILL_MAX_LOSS = "max_loss"
KILL_MAX_DRAWDOWN = "max_drawdown"
KILL_MAX_POSITION = "max_position"
KILL_REJECT_STORM = "reject_storm"
KILL_POSITION_MISMATCH = "position_mismatch"
KILL_MANUAL = "manual"

BOTH = "both"


@dataclass(frozen=True, slots=True)
class GateConfig:
    """The gates' limits (from ``[risk]``, ``[strategy]`` and ``[rate]``; see ``from_config``)."""

    max_loss_usd: float = 25.0
    max_drawdown_usd: float = 25.0
    max_drawdown_fraction: float = 0.1
    max_position_usd: float = 100.0
    kill_position_multiple: float = 1.5
    stale_book_ms: int = 5_000
    max_disconnected_ms: int = 10_000
    reject_storm_count: int = 10
    reject_storm_window_ms: int = 60_000
    kill_action: str = "stop"
    toxicity_pull: float = 0.8
    toxic_hours_utc: tuple[int, ...] = (6, 7, 14)
    toxic_gamma_multiplier: float = 2.0
    min_requote_interval_ms: int = 100
    throttled_requote_interval_ms: int = 5_000
    inventory_threshold_fraction: float = 0.01   # |position| / max_position above which forcing applies
    per_coin_max_position_usd: Mapping[str, float] = field(default_factory=dict)

    @staticmethod
    def from_config(config: Any) -> "GateConfig":
        """Build from a loaded ``hlmm.config.Config`` (per-coin ``max_position_usd`` overrides too)."""
        risk, strategy, rate = config.risk, config.strategy, config.rate
        return GateConfig(
            max_loss_usd=risk.max_loss_usd, max_drawdown_usd=risk.max_drawdown_usd,
            max_drawdown_fraction=risk.max_drawdown_fraction, max_position_usd=risk.max_position_usd,
            kill_position_multiple=risk.kill_position_multiple, stale_book_ms=int(risk.stale_book_s * 1000),
            max_disconnected_ms=int(risk.max_disconnected_s * 1000), reject_storm_count=risk.reject_storm_count,
            reject_storm_window_ms=int(risk.reject_storm_window_s * 1000), kill_action=risk.kill_action,
            toxicity_pull=strategy.toxicity_pull_threshold, toxic_hours_utc=tuple(strategy.toxic_hours_utc),
            toxic_gamma_multiplier=strategy.toxic_gamma_multiplier,
            min_requote_interval_ms=strategy.min_requote_interval_ms,
            throttled_requote_interval_ms=int(rate.throttled_requote_interval_s * 1000),
            per_coin_max_position_usd={c: config.risk_for(c).max_position_usd for c in config.assets.coins},
        )

    def max_position_usd_for(self, coin: str) -> float:
        return self.per_coin_max_position_usd.get(coin, self.max_position_usd)


@dataclass(slots=True)
class KillState:
    reason: str
    detail: str
    at_ms: int
    action: str


class Gates:
    """Kill switch, side gates and per-intent gates; see the module doc."""

    def __init__(self, config: GateConfig, manager: OrderManager, rate: RateBudget,
                 assets: Mapping[str, AssetInfo] | Any) -> None:
        self.config = config
        self.manager = manager
        self.rate = rate
        self.assets = assets
        self.kill: KillState | None = None
        self.manual_reduce_only = False
        self._rejects: deque[int] = deque()
        self._connected = True
        self._down_since_ms: int | None = None
        self._disconnect_gate = False      # on once down too long, off after a resync
        self._mismatch: dict[str, str] = {}
        self._active: dict[tuple[str, str, str], tuple[int, str]] = {}  # (coin, side, gate) -> (since, reason)
        self._side_gate: dict[tuple[str, int], str | None] = {}         # the gate blocking each (coin, side)
        self._last_requote_ms: dict[str, int] = {}
        self.peak_equity: float | None = None
        self.start_equity: float | None = None

    # ------------------------------------------------------------------ kill switch
    @property
    def killed(self) -> bool:
        return self.kill is not None

    @property
    def stopped(self) -> bool:
        """The kill switch fired with action ``stop``: quote nothing, cancel everything."""
        return self.kill is not None and self.kill.action == "stop"

    @property
    def reduce_only(self) -> bool:
        return self.manual_reduce_only or (self.kill is not None and self.kill.action == "reduce_only")

    def fire(self, reason: str, detail: str, now_ms: int, action: str | None = None) -> bool:
        """Fire the kill switch (first reason wins; later ones are ignored). True if it fired now."""
        if self.kill is not None:
            return False
        act = action or self.config.kill_action
        self.kill = KillState(reason, detail, now_ms, act)
        risk_log.critical("kill_switch", reason=reason, detail=detail, action=act)
        if act == "reduce_only":
            risk_log.warning("reduce_only_mode", active=True, reason=f"kill switch: {reason}")
        return True

    def reset_kill(self) -> None:
        """Clear a fired kill switch (an operator's decision; never automatic)."""
        if self.kill is not None and self.kill.action == "reduce_only" and not self.manual_reduce_only:
            risk_log.info("reduce_only_mode", active=False, reason="kill switch reset")
        self.kill = None
        self._rejects.clear()

    def set_reduce_only(self, active: bool, reason: str = "manual") -> None:
        if active != self.manual_reduce_only:
            self.manual_reduce_only = active
            risk_log.warning("reduce_only_mode", active=active, reason=reason)

    def on_reject(self, now_ms: int, reason: str) -> None:
        """An order was rejected by the exchange; a storm of them fires the kill switch."""
        self._rejects.append(now_ms)
        cutoff = now_ms - self.config.reject_storm_window_ms
        while self._rejects and self._rejects[0] <= cutoff:
            self._rejects.popleft()
        if len(self._rejects) >= self.config.reject_storm_count:
            self.fire(KILL_REJECT_STORM, f"{len(self._rejects)} rejects within "
                      f"{self.config.reject_storm_window_ms / 1000:g} s, last: {reason}", now_ms)

    def on_account(self, now_ms: int, session_pnl_usd: float, account_value: float | None = None,
                   position_notional: Mapping[str, float] | None = None) -> None:
        """Check the loss, drawdown and position limits (call each cycle and after fills).

        ``session_pnl_usd``: realized + unrealized - fees + funding since the session began.
        ``account_value``: the exchange's figure when known (the drawdown fraction is of the peak
        equity = account value at start + session PnL)."""
        c = self.config
        if session_pnl_usd <= -c.max_loss_usd:
            self.fire(KILL_MAX_LOSS, f"session PnL {session_pnl_usd:.2f} USD <= -{c.max_loss_usd:g}", now_ms)
        if self.start_equity is None and account_value is not None:
            self.start_equity = account_value - session_pnl_usd
        equity = (self.start_equity or 0.0) + session_pnl_usd
        if self.peak_equity is None or equity > self.peak_equity:
            self.peak_equity = equity
        drop = self.peak_equity - equity
        if drop >= c.max_drawdown_usd:
            self.fire(KILL_MAX_DRAWDOWN, f"equity {equity:.2f} is {drop:.2f} USD below its peak "
                      f"{self.peak_equity:.2f} (limit {c.max_drawdown_usd:g})", now_ms)
        elif self.start_equity and self.peak_equity > 0 and drop >= c.max_drawdown_fraction * self.peak_equity:
            self.fire(KILL_MAX_DRAWDOWN, f"equity {equity:.2f} is {drop / self.peak_equity:.1%} below its peak "
                      f"{self.peak_equity:.2f} (limit {c.max_drawdown_fraction:.0%})", now_ms)
        for coin, notional in (position_notional or {}).items():
            limit = c.max_position_usd_for(coin) * c.kill_position_multiple
            if abs(notional) > limit:
                self.fire(KILL_MAX_POSITION, f"{coin} position notional {abs(notional):.2f} USD > {limit:.2f} "
                          f"({c.kill_position_multiple:g} x max_position_usd)", now_ms)

    def on_position_mismatch(self, coin: str, detail: str, now_ms: int, persistent: bool) -> None:
        """The local position disagreed with the exchange's: quoting of ``coin`` stops until a
        later sync agrees; a mismatch that persists after correction fires the kill switch."""
        self._mismatch[coin] = detail
        if persistent:
            self.fire(KILL_POSITION_MISMATCH, f"{coin}: {detail}", now_ms)

    def on_position_match(self, coin: str) -> None:
        self._mismatch.pop(coin, None)

    # ------------------------------------------------------------------ connection
    def on_connection(self, up: bool, now_ms: int) -> None:
        """The WebSocket went up or down (a reconnect still needs :meth:`on_resynced`)."""
        if up == self._connected:
            return
        self._connected = up
        self._down_since_ms = None if up else now_ms

    def on_resynced(self) -> None:
        """Open orders and fills were re-read after a reconnect: quoting may resume."""
        self._disconnect_gate = False

    def disconnected_too_long(self, now_ms: int) -> bool:
        """WebSocket down longer than ``max_disconnected_s`` (then: cancel everything)."""
        if not self._connected and self._down_since_ms is not None and \
                now_ms - self._down_since_ms >= self.config.max_disconnected_ms:
            self._disconnect_gate = True
        return self._disconnect_gate

    # ------------------------------------------------------------------ time of day
    def tod_gamma_mult(self, now_ms: int) -> float:
        """``toxic_gamma_multiplier`` during the toxic UTC hours, else 1 (feeds MarketParams)."""
        hour = (now_ms // 3_600_000) % 24
        active = hour in self.config.toxic_hours_utc and self.config.toxic_gamma_multiplier != 1.0
        self._mark(BOTH, BOTH, TOXIC_HOURS, active, now_ms, f"utc_hour_{hour}",
                   f"gamma x {self.config.toxic_gamma_multiplier:g}")
        return self.config.toxic_gamma_multiplier if active else 1.0

    # ------------------------------------------------------------------ gating a plan
    def side_blocks(self, inputs: MarketInputs, position_lots: int, now_ms: int) -> dict[int, tuple[str, str, str]]:
        """The gate blocking each side of ``inputs.coin`` (side -> (gate, reason, detail)); logs
        gate_active / gate_cleared transitions."""
        c = self.config
        coin = inputs.coin
        both: tuple[str, str, str] | None = None
        if self.stopped:
            both = (KILL_SWITCH, self.kill.reason, self.kill.detail)  # type: ignore[union-attr]
        elif self.disconnected_too_long(now_ms):
            both = (DISCONNECTED, "websocket_down", "WebSocket down too long; waiting for a resync")
        elif now_ms - inputs.book_ms > c.stale_book_ms:
            both = (STALE_BOOK, "no_book_update", f"book {(now_ms - inputs.book_ms) / 1000:.1f} s old "
                                                  f"(limit {c.stale_book_ms / 1000:g} s)")
        elif not inputs.warm:
            both = (WARMUP, "estimators_not_ready", inputs.warm_detail or "estimators warming up")
        elif coin in self._mismatch:
            both = (POSITION_MISMATCH, "local_vs_exchange", self._mismatch[coin])
        blocks: dict[int, tuple[str, str, str]] = {}
        if both is not None:
            blocks = {BID: both, ASK: both}
        else:
            grow = BID if position_lots > 0 else ASK if position_lots < 0 else None
            if self.reduce_only:
                why = "kill switch" if self.kill is not None else "manual"
                for side in (BID, ASK):
                    if position_lots == 0 or side == grow:
                        blocks[side] = (REDUCE_ONLY, "reduce_only_mode", f"reduce-only ({why})")
            elif self.rate.low and grow is not None:
                max_lots = self._max_lots(coin, inputs.mid)
                if max_lots and abs(position_lots) >= c.inventory_threshold_fraction * max_lots:
                    blocks[grow] = (INVENTORY_FORCING, "low_rate_headroom",
                                    f"headroom {self.rate.headroom:.1%}: quoting only the reducing side")
            for side, tox in ((BID, inputs.tox_bid), (ASK, inputs.tox_ask)):
                if side not in blocks and tox > c.toxicity_pull:
                    blocks[side] = (TOXICITY, "toxicity_above_pull", f"score {tox:.3f} > {c.toxicity_pull:g}")
        for side in (BID, ASK):
            b = blocks.get(side)
            gate = b[0] if b is not None else None
            key = (coin, side)
            was = self._side_gate.get(key)
            if gate == was:
                continue        # the usual cycle: nothing started or stopped
            name = SIDE_NAMES[side]
            if was is not None:
                self._mark(coin, name, was, False, now_ms, "", "")
            self._side_gate[key] = gate
            if b is None:
                continue
            self._mark(coin, name, gate, True, now_ms, b[1], b[2])
            if gate == TOXICITY:
                log.warning("toxicity_pull", coin=coin, side=name,
                            score=inputs.tox_bid if side == BID else inputs.tox_ask, threshold=c.toxicity_pull)
            elif gate == INVENTORY_FORCING:
                rate_log.warning("inventory_forcing", coin=coin, position=position_lots,
                                 reduce_side=SIDE_NAMES[ASK if side == BID else BID],
                                 headroom_fraction=round(self.rate.headroom, 6))
        return blocks

    def _mark(self, coin: str, side: str, gate: str, active: bool, now_ms: int, reason: str, detail: str) -> bool:
        """Track a gate's on/off state; log the transitions. True if it just became active."""
        key = (coin, side, gate)
        was = self._active.get(key)
        if active and was is None:
            self._active[key] = (now_ms, reason)
            log.warning("gate_active", coin=coin, side=side, gate=gate, reason=reason, detail=detail)
            return True
        if not active and was is not None:
            del self._active[key]
            log.info("gate_cleared", coin=coin, side=side, gate=gate, duration_s=(now_ms - was[0]) / 1000)
        return False

    def active_gates(self) -> list[tuple[str, str, str, str]]:
        """(coin, side, gate, reason) of every gate blocking now."""
        return sorted((k[0], k[1], k[2], v[1]) for k, v in self._active.items())

    def _max_lots(self, coin: str, mid: float) -> int:
        asset = self.assets[coin]
        if not (mid > 0 and math.isfinite(mid)):
            return 0
        return wire.size_lots(self.config.max_position_usd_for(coin) / mid, asset)

    def note_requoted(self, coin: str, now_ms: int) -> None:
        """The gated plan with modifies or places was sent (the requote interval starts)."""
        self._last_requote_ms[coin] = now_ms

    def apply(self, plan: Plan, inputs: MarketInputs, position_lots: int, now_ms: int) -> Plan:
        """The plan as it may be sent: the gates' verdicts are in ``plan.decisions``."""
        coin = plan.coin
        blocks = self.side_blocks(inputs, position_lots, now_ms)
        if not blocks and plan.empty:
            return plan              # the usual cycle: nothing to send, nothing to hold back
        out = Plan(coin, kept=plan.kept, frozen=plan.frozen, blocked=plan.blocked, mode=plan.mode,
                   ladder=plan.ladder, relabels=list(plan.relabels))
        decisions = out.decisions
        cancels: list[Cancel] = list(plan.cancels)
        modifies: list[Modify] = plan.modifies     # shared until something is taken out (never mutated)
        places: list[Place] = plan.places
        # 1. blocked sides: nothing new, every movable order of the side goes
        if blocks:
            cancelled = {c.handle for c in cancels}
            modifying = {m.handle for m in plan.modifies}
            for side, (gate, reason, detail) in blocks.items():
                for o in self.manager.live_orders(coin, side):
                    if o.frozen or o.handle in cancelled:
                        continue
                    cancels.append(Cancel(o.handle, coin, side, gate))
                    cancelled.add(o.handle)
                    kind = "modify" if o.handle in modifying else "keep"
                    decisions.append(Decision(kind, coin, side, o.slot, "converted", gate, reason, detail))
            out.relabels = [(h, lvl) for h, lvl in plan.relabels if h not in cancelled]
            modifies = [m for m in plan.modifies if m.handle not in cancelled]
            places = []
            for p in plan.places:
                b = blocks.get(p.side)
                if b is not None:
                    decisions.append(Decision("place", coin, p.side, p.level, "deferred", b[0], b[1], b[2]))
                else:
                    places.append(p)
        # 2. reduce-only: what is left on the reducing side is reduce-only and capped at the position
        if self.reduce_only and (modifies or places):
            modifies, places = self._reduce_only(coin, position_lots, modifies, places, decisions)
        # 3. requote interval
        if modifies or places:
            interval = self.config.throttled_requote_interval_ms if self.rate.low else self.config.min_requote_interval_ms
            last = self._last_requote_ms.get(coin)
            if last is not None and now_ms - last < interval:
                reason = "low_rate_headroom" if self.rate.low else "min_interval"
                for m in modifies:
                    decisions.append(Decision("modify", coin, m.side, m.level, "deferred", REQUOTE_INTERVAL, reason,
                                              f"{now_ms - last} ms since the last requote < {interval} ms"))
                for p in places:
                    decisions.append(Decision("place", coin, p.side, p.level, "deferred", REQUOTE_INTERVAL, reason,
                                              f"{now_ms - last} ms since the last requote < {interval} ms"))
                modifies, places = [], []
        # 4. exposure per side: position + open + in flight + this plan <= max position
        if modifies or places:
            modifies, places = self._exposure(coin, inputs.mid, position_lots, modifies, places, decisions)
        # 5. rate budget (cancels first)
        d = self.rate.check(len(cancels), len(modifies), len(places), now_ms)
        if d.cancels < len(cancels):
            for c in cancels[d.cancels:]:
                decisions.append(Decision("cancel", coin, c.side, None, "deferred", RATE_BUDGET, d.reason,
                                          f"headroom {d.headroom:.1%}"))
            cancels = cancels[:d.cancels]
        if d.requotes < len(modifies) + len(places):
            # keep the touch: intents sorted by level, the deepest go first
            both = sorted([(m.level, 0, i) for i, m in enumerate(modifies)] + [(p.level, 1, i) for i, p in enumerate(places)])
            keep = set((k, i) for _, k, i in both[:d.requotes])
            for i, m in enumerate(modifies):
                if (0, i) not in keep:
                    decisions.append(Decision("modify", coin, m.side, m.level, "deferred", RATE_BUDGET, d.reason,
                                              f"headroom {d.headroom:.1%}"))
            for i, p in enumerate(places):
                if (1, i) not in keep:
                    decisions.append(Decision("place", coin, p.side, p.level, "deferred", RATE_BUDGET, d.reason,
                                              f"headroom {d.headroom:.1%}"))
            modifies = [m for i, m in enumerate(modifies) if (0, i) in keep]
            places = [p for i, p in enumerate(places) if (1, i) in keep]
            rate_log.info("rate_limit_throttle", coin=coin, headroom_fraction=round(d.headroom, 6), reason=d.reason,
                          skipped=len(both) - d.requotes)
        if len(modifies) != len(plan.modifies):
            # a modify held back still takes its target slot (its order stays where it is for now):
            # the plan's slot assignment is one matching, so applying it whole keeps slots unique
            sent = {m.handle for m in modifies}
            gone = {c.handle for c in cancels}
            out.relabels.extend((m.handle, m.level) for m in plan.modifies
                                if m.handle not in sent and m.handle not in gone)
        out.cancels, out.modifies, out.places = cancels, modifies, places
        return out

    def _reduce_only(self, coin: str, position_lots: int, modifies: list[Modify], places: list[Place],
                     decisions: list[Decision]) -> tuple[list[Modify], list[Place]]:
        """Only the side that reduces the position, flagged reduce-only, in total at most |position|."""
        reducing = ASK if position_lots > 0 else BID
        room = abs(position_lots) - sum(o.exposure_lots for o in self.manager.live_orders(coin, reducing)
                                        if o.reduce_only and o.inflight != "cancel")
        new_m, new_p = [], []
        for m in sorted(modifies, key=lambda m: m.level):
            if m.side != reducing:
                continue
            o = self.manager.get(m.handle)
            freed = o.exposure_lots if o is not None and o.reduce_only else 0
            sz = min(m.sz_lots, room + freed)
            if sz <= 0:
                decisions.append(Decision("modify", coin, m.side, m.level, "deferred", REDUCE_ONLY, "position_covered",
                                          "reduce-only orders already cover the position"))
                continue
            room -= sz - freed
            new_m.append(Modify(m.handle, m.coin, m.side, m.level, m.px_units, sz, m.old_px_units, m.old_sz_lots, True))
            if sz != m.sz_lots or not m.reduce_only:
                decisions.append(Decision("modify", coin, m.side, m.level, "approved", REDUCE_ONLY, "reduce_only",
                                          f"reduce-only, {sz} of {m.sz_lots} lots"))
        for p in sorted(places, key=lambda p: p.level):
            if p.side != reducing:
                continue
            sz = min(p.sz_lots, room)
            if sz <= 0:
                decisions.append(Decision("place", coin, p.side, p.level, "deferred", REDUCE_ONLY, "position_covered",
                                          "reduce-only orders already cover the position"))
                continue
            room -= sz
            new_p.append(Place(p.coin, p.side, p.level, p.px_units, sz, True, p.tif))
            decisions.append(Decision("place", coin, p.side, p.level, "approved", REDUCE_ONLY, "reduce_only",
                                      f"reduce-only, {sz} of {p.sz_lots} lots"))
        return new_m, new_p

    def _exposure(self, coin: str, mid: float, position_lots: int, modifies: list[Modify], places: list[Place],
                  decisions: list[Decision]) -> tuple[list[Modify], list[Place]]:
        """Trim or drop modifies/places (touch first wins) so that on each side position + every
        live order (orders being cancelled too: they may still fill) + this plan stays within the
        coin's max position. Reduce-only intents pass (they cannot grow the position)."""
        max_lots = self._max_lots(coin, mid)
        used_side = [position_lots + self.manager.open_lots(coin, BID), -position_lots + self.manager.open_lots(coin, ASK)]
        new_side = [0, 0]
        for m in modifies:
            new_side[m.side] += m.sz_lots
        for p in places:
            new_side[p.side] += p.sz_lots
        if used_side[0] + new_side[0] <= max_lots and used_side[1] + new_side[1] <= max_lots:
            return modifies, places      # even every new size on top of every live order fits
        asset = self.assets[coin]
        out_m: list[Modify] = []
        out_p: list[Place] = []
        for side in (BID, ASK):
            used = used_side[side]
            mine_m = [m for m in modifies if m.side == side]
            mine_p = [p for p in places if p.side == side]
            if used + new_side[side] <= max_lots:
                out_m.extend(mine_m)
                out_p.extend(mine_p)
                continue
            items = sorted([(m.level, 0, m) for m in mine_m] + [(p.level, 1, p) for p in mine_p],
                           key=lambda t: (t[0], t[1]))
            for level, kind, it in items:
                dest = out_m if kind == 0 else out_p
                if it.reduce_only:
                    dest.append(it)
                    continue
                base = 0
                if kind == 0:
                    o = self.manager.get(it.handle)
                    base = o.exposure_lots if o is not None else 0
                extra = max(0, it.sz_lots - base)
                if used + extra <= max_lots:
                    used += extra
                    dest.append(it)
                    continue
                fit = min(it.sz_lots, max_lots - used + base)
                what = "modify" if kind == 0 else "place"
                if fit > 0 and wire.check_order(it.px_units, fit, asset) is None:
                    used += max(0, fit - base)
                    if kind == 0:
                        dest.append(Modify(it.handle, it.coin, it.side, it.level, it.px_units, fit, it.old_px_units,
                                           it.old_sz_lots, it.reduce_only))
                    else:
                        dest.append(Place(it.coin, it.side, it.level, it.px_units, fit, it.reduce_only, it.tif))
                    decisions.append(Decision(what, coin, side, level, "approved", POSITION_LIMIT, "trimmed",
                                              f"{fit} of {it.sz_lots} lots fit under {max_lots} lots of exposure"))
                else:
                    decisions.append(Decision(what, coin, side, level, "deferred", POSITION_LIMIT, "exposure",
                                              f"exposure {used} + {extra} lots > {max_lots} lots "
                                              "(position + open + in flight)"))
        return out_m, out_p
