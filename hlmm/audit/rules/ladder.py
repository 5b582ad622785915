"""Ladder levels funded vs configured, and the constraint that binds.

Reads ``quote_cycle`` (coin bid_levels ask_levels bid_binding ask_binding) and counts
``ladder_level_dropped.cause`` values (in the scanner, undecoded); the configured count is ``strategy.levels_per_side``
(per-coin overrides included) from the session's config.  A side pulled by a gate
(binding ``toxicity_gate``) is not counted as under-funded.  Under-funded in at least half of
the cycles, bound by margin or notional limits: warning (a ladder configured for 25 levels that
margin funds 13 spreads the budget in the reader's head, not on the book).  Bound by position
room (inventory control doing its job), or short less often: info.  Cycles before ``estimator_warm`` and
sides held by a gate (``gate_active`` … ``gate_cleared``, per coin and side) are not judged: a
gated side quotes nothing on purpose.
"""
from __future__ import annotations

from collections import Counter

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event, num

_PULLED = {"toxicity_gate", "gate", "pulled", "reduce_only", "kill_switch"}
_SIDES = (("bid", "bid_levels", "bid_binding"), ("ask", "ask_levels", "ask_binding"))


def _side(value: object) -> str | None:
    s = str(value or "").lower()
    return "bid" if s in ("b", "bid", "buy") else "ask" if s in ("a", "ask", "sell") else None
_ADVICE = {
    "margin": "margin funds fewer levels: lower strategy.levels_per_side, or add margin",
    "min_notional": "levels fall under the $10 minimum after rounding: fewer levels concentrate the budget",
    "position": "position room is used up: risk.max_position_usd binds",
    "max_notional": "strategy.max_order_notional_usd caps each level",
}


class LadderFunding(Rule):
    """Quote cycles whose ladder has fewer levels than configured."""

    id = "ladder_underfunded"
    events = ("quote_cycle", "session_start", "estimator_warm", "gate_active", "gate_cleared")
    counted_fields = (("ladder_level_dropped", "cause"),)
    requires = ("quote_cycle",)
    look_at = ["strategy.levels_per_side", "strategy.max_order_notional_usd", "risk.max_position_usd",
               "available margin / risk.leverage"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.tally = ctx.tally()
        self.cycles = 0
        self.funded: dict[str, Counter[int]] = {"bid": Counter(), "ask": Counter()}
        self.short: dict[str, int] = {"bid": 0, "ask": 0}
        self.binding: Counter[str] = Counter()
        self.drop_causes: Counter[str] = Counter()
        self.configured: dict[str, int] = {}
        self._configured_cache: dict[tuple[int, str | None], int | None] = {}
        self._warming = False
        self._warm: set[str] = set()
        self._gated: dict[tuple[str, str], set[str]] = {}  # (coin, side) -> active gates
        self.skipped_gated = 0

    def on_session_start(self, ev: Event) -> None:
        self._warming = True
        self._warm = set()
        self._gated.clear()

    def on_estimator_warm(self, ev: Event) -> None:
        coin = ev.get("coin")
        if isinstance(coin, str):
            self._warm.add(coin)
        else:
            self._warming = False

    def _gate(self, ev: Event, on: bool) -> None:
        coin, side, gate = ev.get("coin"), _side(ev.get("side")), str(ev.get("gate") or "?")
        for s in (side,) if side else ("bid", "ask"):
            active = self._gated.setdefault((coin if isinstance(coin, str) else "?", s), set())
            if on:
                active.add(gate)
            else:
                active.discard(gate)

    def on_gate_active(self, ev: Event) -> None:
        self._gate(ev, True)

    def on_gate_cleared(self, ev: Event) -> None:
        self._gate(ev, False)

    def on_quote_cycle(self, ev: Event) -> None:
        rec = ev.rec
        if rec is None:
            return
        coin = rec.get("coin")
        coin = coin if isinstance(coin, str) else None
        if self._warming and coin not in self._warm:
            return  # warming up: not quoting yet, on purpose
        configured = self._configured(coin)
        if configured is None:
            return
        self.cycles += 1
        hit = False
        for side, levels_key, binding_key in _SIDES:
            if self._gated and (self._gated.get((coin or "?", side)) or self._gated.get(("?", side))):
                self.skipped_gated += 1
                continue
            levels = rec.get(levels_key)
            if type(levels) is not int:
                levels = num(levels)
                if levels is None:
                    continue
                levels = int(levels)
            binding = rec.get(binding_key)
            if binding in _PULLED:
                continue
            self.funded[side][levels] += 1
            if levels < configured:
                self.short[side] += 1
                self.binding[binding if isinstance(binding, str) and binding else "(not logged)"] += 1
                hit = True
        if hit:
            self.ctx.hit(self.tally, ev)

    def _configured(self, coin: str | None) -> int | None:
        cfg = self.ctx.config
        key = (cfg.version, coin)
        try:
            return self._configured_cache[key]
        except KeyError:
            value = cfg.number("strategy.levels_per_side", coin)
            configured = None if value is None else int(value)
            self._configured_cache[key] = configured
            if configured is not None:
                self.configured[coin or "?"] = configured
            return configured

    def finish(self) -> None:
        self.drop_causes.update(self.ctx.field_counts.get("ladder_level_dropped", {}))

    def findings(self) -> list[Finding]:
        if not self.tally:
            return []
        share = self.tally.count / self.cycles if self.cycles else 0.0
        typical = {side: (c.most_common(1)[0][0] if c else None) for side, c in self.funded.items()}
        least = {side: (min(c) if c else None) for side, c in self.funded.items()}
        configured = max(self.configured.values()) if self.configured else None
        named = [b for b, _ in self.binding.most_common() if b not in ("(not logged)", "none")]
        binding = named[0] if named else (self.drop_causes.most_common(1)[0][0] if self.drop_causes else "unknown")
        advice = _ADVICE.get(binding, f"binding constraint: {binding}")
        by_design = binding in ("position", "toxicity_gate")
        return [self.tally.finding(
            self.id, Severity.WARNING if share >= 0.5 and not by_design else Severity.INFO,
            f"ladder configured for {configured} levels per side, usually funds {typical['bid']} bids / "
            f"{typical['ask']} asks ({share:.0%} of cycles short; binding: {binding})",
            advice, self.look_at,
            {"configured": self.configured, "config_source": self.ctx.config.source, "cycles": self.cycles,
             "short_cycles": self.tally.count, "short_by_side": self.short, "gated_sides_skipped": self.skipped_gated, "typical_funded": typical,
             "least_funded": least, "binding": dict(self.binding.most_common()),
             "drop_causes": dict(self.drop_causes.most_common())})]
