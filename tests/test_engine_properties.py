"""Property tests of the order manager + fill processor against the real simulated exchange.

Hypothesis drives random interleavings: reconcile cycles towards random targets (places,
modifies, cancels, signed and executed by hlmm's SimExchange), replies delivered at once, late
or never (timeouts), WebSocket pushes delivered late, reordered, duplicated or dropped, takers
filling our orders, safety syncs and orderStatus queries. After every step the manager's
structures must agree (one live order per slot, the C mirror equal to the orders); at the end,
once everything in flight has been delivered and the sync and queries have run, the engine must
agree with the exchange exactly: the same open orders with the same remaining sizes, the
position equal to ``szi`` in lots, every fill counted once.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, event, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine_harness import Venue
from hlmm.exchange.cloid import CloidFactory
from hlmm.engine.fills import FillProcessor
from hlmm.engine.gates import GateConfig, Gates
from hlmm.engine.order_state import OrderState
from hlmm.engine.orders import OrderManager
from hlmm.engine.ratebudget import RateBudget
from hlmm.engine.reconcile import Reconciler, Target
from hlmm.engine.snapshot import MarketInputs

COIN = "BTC"
MID = 1_000_000          # $100,000 in BTC price units (px_decimals 1)


class EngineAgainstSim(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.v = Venue(seed=11)
        self.v.quote_market(COIN, MID - 10_000, MID + 10_000, 200_000)
        self.m = OrderManager(self.v.assets, CloidFactory(session=0x5EED), orphan_policy="cancel",
                              query_delay_ms=0, query_interval_ms=0, unknown_oid_grace_ms=0)
        self.f = FillProcessor(self.v.assets, self.m)
        self.f.init_position(COIN, "0", None, self.v.now)
        self.v.advance(1)
        self.r = Reconciler(self.m, price_tolerance_bps=0.0, size_tolerance=0.0)
        self.rate = RateBudget()
        self.g = Gates(GateConfig(max_position_usd=1_500.0, min_requote_interval_ms=0, reject_storm_count=10**6),
                       self.m, self.rate, self.v.assets)
        self.late: list[tuple[int, dict]] = []      # replies held back (delivered later, after a timeout or not)
        self.pushes: list = []                      # pushes not delivered yet
        self.fill_tids: set[int] = set()            # every fill of ours the exchange pushed
        self.delivered_tids: set[int] = set()

    # ------------------------------------------------------------------ helpers
    def _collect(self) -> None:
        new = self.v.take_pushes()
        self.fill_tids |= {f["tid"] for p in new if "fills" in p.data for f in p.data["fills"]}
        self.pushes.extend(new)

    def _deliver(self, push) -> None:
        now = self.v.now
        if push.channel == "orderUpdates":
            self.m.on_order_updates(push.data, now)
        elif push.channel in ("user", "userFills"):
            if "fills" in push.data:
                self.f.on_fills(push.data["fills"], now)
                self.delivered_tids |= {f["tid"] for f in push.data["fills"]}
            elif "nonUserCancel" in push.data:
                self.m.on_non_user_cancel(push.data["nonUserCancel"], now)

    # ------------------------------------------------------------------ rules
    @rule(data=st.data())
    def cycle(self, data):
        def levels(sign):
            n = data.draw(st.integers(0, 4), label="levels")
            start = data.draw(st.integers(1, 60), label="start") * 50
            step = data.draw(st.integers(1, 8), label="step") * 50
            px = [MID - sign * (start + i * step) for i in range(n)]
            sz = [data.draw(st.sampled_from([100, 120, 200]), label="lots") for _ in range(n)]
            return px, sz
        bpx, bsz = levels(1)
        apx, asz = levels(-1)
        prefer = data.draw(st.sampled_from(["address", "ip"]), label="prefer")
        plan = self.r.plan(COIN, Target(bpx, bsz, apx, asz), mid_units=MID, prefer=prefer)
        now = self.v.now
        # the gates hold parts of the plan back: a nearly spent address budget, a toxic side
        self.rate.used = self.rate.cap - data.draw(st.sampled_from([10_000, 10_000, 5, 2, 1, 0]), label="budget")
        tox = data.draw(st.sampled_from([(0.0, 0.0), (0.0, 0.0), (0.9, 0.0), (0.0, 0.9)]), label="toxicity")
        inputs = MarketInputs(COIN, now, mid=MID / 10, sigma=1e-4, kappa=0.1, A=0.5, as_bps=5.0, book_ms=now,
                              tox_bid=tox[0], tox_ask=tox[1])
        plan = self.g.apply(plan, inputs, self.f.position_lots(COIN), now)
        for a in self.m.submit(plan, now):
            event(f"sent {a.kind}")
            resp = self.v.post(a.action)
            fate = data.draw(st.sampled_from(["now", "now", "now", "hold", "timeout", "timeout_late"]), label="fate")
            if fate == "now":
                self.m.on_action_result(a.batch_id, resp, now)
            elif fate == "hold":
                self.late.append((a.batch_id, resp))
            else:
                event("timeout")
                self.m.on_action_timeout(a.batch_id, now)
                if fate == "timeout_late":
                    self.late.append((a.batch_id, resp))
        self._collect()

    @rule(data=st.data())
    def cancel_everything(self, data):
        """The kill switch's cancel-all: by cloid, reaching orders whose fate is still open."""
        now = self.v.now
        for a in self.m.cancel_all(now, reason="test"):
            event("cancel all")
            resp = self.v.post(a.action)
            fate = data.draw(st.sampled_from(["now", "hold", "timeout"]), label="cancel-all fate")
            if fate == "now":
                self.m.on_action_result(a.batch_id, resp, now)
            elif fate == "hold":
                self.late.append((a.batch_id, resp))
            else:
                self.m.on_action_timeout(a.batch_id, now)
                self.late.append((a.batch_id, resp))
        self._collect()

    @precondition(lambda self: self.late)
    @rule(data=st.data())
    def deliver_reply(self, data):
        i = data.draw(st.integers(0, len(self.late) - 1), label="reply")
        batch_id, resp = self.late.pop(i)
        self.m.on_action_result(batch_id, resp, self.v.now)

    @precondition(lambda self: self.pushes)
    @rule(data=st.data())
    def deliver_pushes(self, data):
        k = data.draw(st.integers(1, len(self.pushes)), label="count")
        order = data.draw(st.permutations(range(k)), label="order")
        batch, self.pushes = self.pushes[:k], self.pushes[k:]
        for i in order:
            fate = data.draw(st.sampled_from(["once", "once", "twice", "drop"]), label="push fate")
            if fate == "drop":
                continue
            self._deliver(batch[i])
            if fate == "twice":
                self._deliver(batch[i])

    @rule(data=st.data())
    def taker(self, data):
        is_buy = data.draw(st.booleans(), label="taker buys")
        depth = data.draw(st.integers(0, 400), label="depth") * 10     # whole dollars: valid ticks
        lots = data.draw(st.integers(15, 400), label="taker lots")  # >= $10 at these prices
        res = self.v.trade_against(COIN, is_buy, MID + depth if is_buy else MID - depth, lots)
        assert "error" not in res or "could not immediately match" in res["error"], res
        self._collect()
        if any("fills" in p.data for p in self.pushes):
            event("our order filled")

    @rule()
    def sync(self):
        now = self.v.now
        self.m.apply_open_orders(self.v.info({"type": "openOrders", "user": self.v.user}), now, now)

    @rule()
    def status_queries(self):
        for q in self.m.status_queries(self.v.now):
            ans = self.v.info({"type": "orderStatus", "user": self.v.user, "oid": q.ref})
            self.m.on_order_status(q, ans, self.v.now)

    @rule(ms=st.integers(1, 3000))
    def advance(self, ms):
        self.v.advance(ms)
        self._collect()

    # ------------------------------------------------------------------ invariants
    @invariant()
    def structures_agree(self):
        self.m.check_invariants()

    @invariant()
    def position_is_exact_once_every_fill_arrived(self):
        local, exchange = self.f.position_lots(COIN), self.v.position_lots(COIN)
        if self.fill_tids <= self.delivered_tids:
            assert local == exchange, (local, exchange)     # duplicates and reordering change nothing

    def teardown(self):
        # settle: everything in flight arrives, then the sync and the status queries run
        self._collect()
        for p in self.pushes:
            self._deliver(p)
        self.pushes = []
        for batch_id, resp in self.late:
            self.m.on_action_result(batch_id, resp, self.v.now)
        self.late = []
        for _ in range(6):
            self.v.advance(10)
            self._collect()
            for p in self.pushes:
                self._deliver(p)
            self.pushes = []
            now = self.v.now
            rep = self.m.apply_open_orders(self.v.info({"type": "openOrders", "user": self.v.user}), now, now)
            assert not rep.adopted and not rep.doomed, "an order of ours was unknown to the manager"
            for q in self.m.status_queries(now):
                self.m.on_order_status(q, self.v.info({"type": "orderStatus", "user": self.v.user, "oid": q.ref}), now)
            self.m.check_invariants()
        # fills missed by the stream come back from REST (duplicates ignored)
        self.f.on_fills(self.v.info({"type": "userFills", "user": self.v.user}), self.v.now)
        live = {o.oid: o for o in self.m.live_orders()}
        assert all(o.state in (OrderState.RESTING, OrderState.PARTIAL) for o in live.values()), \
            [o.describe() for o in live.values()]
        exchange_open = {e["oid"]: e for e in self.v.info({"type": "openOrders", "user": self.v.user})}
        assert set(live) == set(exchange_open)
        for oid, e in exchange_open.items():
            assert live[oid].remaining_lots == round(float(e["sz"]) * 10 ** 5)
        assert self.f.position_lots(COIN) == self.v.position_lots(COIN)
        szi = self.v.position_szi(COIN)
        assert self.f.check_position(COIN, szi, self.v.now).ok
        fills = self.v.info({"type": "userFills", "user": self.v.user})
        assert self.f.position(COIN).fills == len(fills)


TestEngineAgainstSim = EngineAgainstSim.TestCase
TestEngineAgainstSim.settings = settings(max_examples=int(os.environ.get("HLMM_PROP_EXAMPLES", "300")), stateful_step_count=50, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
