"""The engine's whole quote cycle, in process: ``Quoter.cycle`` from its first line to the signed actions.

Group ``engine-cycle``. The parts are the engine's own (``Engine._build_core``: order manager,
fills, gates, market model, predictions, quoter with the engine's ``on_cycle`` hook), for BTC
with the trade tests' config (3 levels per side). The venue is hlmm's in-process
``SimExchange``: a background maker rests 10 levels a side around 100,000; our six orders rest
on it, placed by the engine's first cycle and acknowledged by the sim's own answers. The
market model is warmed on 10 minutes of that book (a random walk of the maker's levels, a
frame every 500 ms, a print a second), fed the way ``Engine._on_book`` feeds it.

The send is ``Engine._send`` without the socket write: the action is signed for real (the
executor's ``ExchangeClient.signed_payload``, secp256k1 + keccak), marked sent, counted and
accounted in the rate budget; the signed payload is kept. Between rounds (untimed) the kept
payloads go to the sim, its answers and pushes back to the order manager, as the loop would.
Logging goes to a JSON-lines file at ``info`` as in ``hlmm trade``.

Contenders:
- ``steady``: the book unchanged since the last cycle: the snapshot, ladder, reconcile and gates
  run, nothing is sent (the usual cycle).
- ``drift``: the book moved 1.5 bps since the last cycle (alternately up and down, a new frame
  each round, the clock 1 s later): all six orders are modified, one ``batchModify`` built,
  its predictions recorded, signed and handed over.
- ``core_steady`` / ``core_drift`` (baseline, same run, same world and book): the core alone,
  as ``bench_quote_cycle`` measures it: frozen snapshot -> ``compute_ladder`` into a reused
  Ladder -> ``Reconciler.plan`` -> ``Gates.apply``; nothing submitted or signed.
- ``sign_only``: ``signed_payload`` of the drift cycle's batchModify alone (its share).

Run: ``pytest benchmarks/bench_engine_cycle.py --benchmark-enable -q``.
"""
from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hlmm._core.ladder import Ladder, compute_ladder
from hlmm.engine.engine import Engine
from hlmm.engine.snapshot import MarketInputs
from hlmm.engine.sync import account_snapshot
from hlmm.exchange.keys import Credentials
from hlmm.log import FileSink, add_sink, remove_sink

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from engine_harness import MAKER, Venue  # noqa: E402
from trade_helpers import trade_config  # noqa: E402

COIN = "BTC"
MID_UNITS = 1_000_000            # 100,000.0 USD (BTC: px_decimals 1)
MAKER_LEVELS = 10
DRIFT_UNITS = 150                # 1.5 bps of 100,000: beyond the requote price tolerance
WARM_S = 600
CONFIG = trade_config(risk={"max_position_usd": 1_000.0})    # 3 levels a side quoted


class CycleWorld:
    """The engine's quote path for BTC against an in-process sim (see the module docstring)."""

    def __init__(self, log_path: Path) -> None:
        now = time.time_ns() // 1_000_000
        self.venue = Venue(seed=11, usdc=10_000.0, t0=now)
        self.now = now
        for i in range(MAKER_LEVELS):
            self.venue.ex.internal_place(MAKER, COIN, True, MID_UNITS - 10 * (i + 1), 200)
            self.venue.ex.internal_place(MAKER, COIN, False, MID_UNITS + 10 * (i + 1), 200)
        self.levels = self.venue.info({"type": "l2Book", "coin": COIN})["levels"]
        self.engine = Engine(CONFIG, "http://127.0.0.1:9", Credentials(self.venue.wallet), venue="bench")
        e = self.engine
        e.registry = self.venue.assets
        e._build_core()
        self.quoter = e.quoter
        self.quoter.wall_ms = lambda: self.now
        self.quoter.send = self._send
        self.st = e.coin_states[COIN]
        self.asset = self.st.asset
        ch = self.venue.info({"type": "clearinghouseState", "user": self.venue.user})
        e.fills.init_position(COIN, "0", None, ch["time"])
        e.account = account_snapshot(ch, ch["time"])
        e.rate.on_user_rate_limit(self.venue.info(e.rate.refresh_request(self.venue.user, now)), now)
        self.sink = FileSink(log_path, level=20)
        add_sink(self.sink)
        self.payloads: list[tuple[object, dict]] = []
        self.signing_ns = 0
        self._post_id = 0
        self._tid = 1
        self._warm()
        self.resting = len(e.manager.live_orders(COIN))
        assert self.resting == 6, e.manager.live_orders(COIN)

    # ------------------------------------------------------------------ the market
    def frame(self, shift_units: int) -> bytes:
        """An l2Book WebSocket frame: the maker's levels moved by ``shift_units``, at ``self.now``."""
        px_dec = self.asset.px_decimals

        def moved(level: dict) -> dict:
            units = round(float(level["px"]) * 10 ** px_dec) + shift_units
            return {"px": f"{units / 10 ** px_dec:.{px_dec}f}".rstrip("0").rstrip("."), "sz": level["sz"], "n": level["n"]}

        levels = [[moved(x) for x in side] for side in self.levels]
        data = {"coin": COIN, "time": self.now, "levels": levels}
        return json.dumps({"channel": "l2Book", "data": data}, separators=(",", ":")).encode()

    def book(self, shift_units: int) -> None:
        """One book frame into the model, as ``Engine._on_book`` applies it."""
        raw = self.frame(shift_units)
        st = self.st
        assert st.model.on_book(raw, time.monotonic_ns())
        st.book_frame_ms = self.now
        i = raw.find(b'"levels"')
        if raw[i:] != st.last_levels:
            st.last_levels = raw[i:]
            st.book_changed_ms = self.now
        book = st.model.book
        self.engine.fills.on_mid(COIN, book.time_ms, book.mid())

    def _warm(self) -> None:
        """10 minutes of market, a quote cycle every second (the risk tick's cadence) once the
        estimators are warm, answers delivered; it ends with the book back at the start and our
        orders resting there."""
        rng = random.Random(5)
        self.now -= WARM_S * 1000
        walk = 0
        for k in range(2 * WARM_S):
            walk = max(-200, min(200, walk + rng.choice((-10, 0, 10))))
            self.book(walk)
            if k % 2 == 0:
                side = rng.choice(("B", "A"))
                depth = 10 * rng.randint(1, 8)
                px = (MID_UNITS + walk + (depth if side == "B" else -depth)) / 10
                self.st.model.on_trades([{"coin": COIN, "side": side, "px": f"{px:.1f}", "sz": "0.01",
                                          "time": self.now, "tid": self._tid}])
                self._tid += 1
                self.cycle()
                self.deliver()
            self.now += 500
        self.shift = 0
        self.book(0)
        self.settle()

    def settle(self) -> None:
        """Answers delivered and cycles run until one sends nothing (the orders rest at the book's ladder)."""
        for _ in range(5):
            self.deliver()
            self.now += 1000
            if not self.cycle().actions:
                return
        raise AssertionError("the quote cycle does not settle")

    # ------------------------------------------------------------------ the engine's send, minus the socket
    def _send(self, action):
        e = self.engine
        t0 = time.perf_counter_ns()
        payload = e.exchange.signed_payload(action.action)
        self.signing_ns += time.perf_counter_ns() - t0
        self._post_id += 1
        e._on_sent(action.kind, action.n, "ws")
        e.manager.mark_sent(action.batch_id, self._post_id, self.now)
        e.readout.count_sent(action)
        self.payloads.append((action, payload))
        return self._post_id

    def cycle(self):
        return self.quoter.cycle(COIN)

    def deliver(self) -> None:
        """The kept signed payloads to the sim; its answers and our account's pushes back (the loop's
        ORDERS stage)."""
        e = self.engine
        self.venue.now = self.now
        for action, payload in self.payloads:
            answer = json.loads(json.dumps(self.venue.ex.handle_exchange(payload)))
            e.manager.on_action_result(action.batch_id, answer, self.now)
        self.payloads.clear()
        for push in self.venue.take_pushes():
            if push.channel == "orderUpdates":
                e.manager.on_order_updates(push.data, self.now)

    def next_drift(self):
        """Untimed set-up of a drift round: the previous round answered, 1 s later, the book moved."""
        self.deliver()
        self.now += 1000
        self.move()
        return (), {}

    def move(self) -> None:
        """A new frame with the book moved by the drift (up from the start, or back down to it)."""
        self.shift = DRIFT_UNITS if self.shift == 0 else 0
        self.book(self.shift)

    def close(self) -> None:
        remove_sink(self.sink)
        self.engine.ws.close()
        self.engine.info.close()
        self.engine.exchange.close()
        self.engine.loop.close()


@pytest.fixture(scope="module")
def world():
    with tempfile.TemporaryDirectory(prefix="hlmm-bench-cycle-") as tmp:
        w = CycleWorld(Path(tmp) / "hlmm.jsonl")
        yield w
        w.close()


def _core_inputs(world: CycleWorld):
    """The frozen snapshot and gate inputs of the book as it is now (the core's inputs)."""
    st, q = world.st, world.quoter
    params = st.model.params(q.account_state(st))
    d = params.to_dict()
    inputs = MarketInputs(COIN, world.now, d["mid"], d["sigma"], d["kappa"], d["A"], d["as_bps"], st.book_changed_ms,
                          d["microprice"], d["regime"], d["tox_bid"], d["tox_ask"], d["market_spread_bps"], True, "")
    return params, inputs


def core_cycle(world: CycleWorld, params, inputs, ladder: Ladder):
    """bench_quote_cycle's core on the engine's parts: ladder into a reused Ladder, reconcile, gates."""
    st, e = world.st, world.engine
    compute_ladder(params, st.model.ladder_config(), ladder)
    book = st.model.book
    s = st.model.strategy
    plan = world.quoter.reconciler.plan(COIN, ladder, mid_units=(book.best_bid_units() + book.best_ask_units()) // 2,
                                        prefer=e.rate.scarcer(world.now),
                                        price_tolerance_bps=s.requote_price_tolerance_bps,
                                        size_tolerance=s.requote_size_tolerance)
    return e.gates.apply(plan, inputs, e.fills.position_lots(COIN), world.now)


def _info(benchmark, world: CycleWorld, **extra) -> None:
    warm = world.st.model.warmup_status()
    benchmark.extra_info.update(resting_orders=len(world.engine.manager.live_orders(COIN)),
                                levels_per_side=CONFIG.strategy.levels_per_side,
                                cold_estimators=list(warm.cold), **extra)


@pytest.mark.benchmark(group="engine-cycle")
def test_engine_cycle_steady(benchmark, world):
    world.settle()
    outs = []
    benchmark.pedantic(lambda: outs.append(world.cycle()), rounds=2000, warmup_rounds=50)
    assert all(not o.actions and o.quote is not None for o in outs)
    _info(benchmark, world, actions=0)


@pytest.mark.benchmark(group="engine-cycle")
def test_core_steady_baseline(benchmark, world):
    world.settle()
    params, inputs = _core_inputs(world)
    ladder = Ladder()
    plan = benchmark.pedantic(core_cycle, args=(world, params, inputs, ladder), rounds=2000, warmup_rounds=50)
    assert plan.empty and plan.kept == world.resting
    _info(benchmark, world, actions=0)


@pytest.mark.benchmark(group="engine-cycle")
def test_engine_cycle_drift(benchmark, world):
    world.settle()
    outs = []
    world.signing_ns = 0
    benchmark.pedantic(lambda: outs.append(world.cycle()), setup=world.next_drift, rounds=400, warmup_rounds=10)
    kinds = {tuple((a.kind, a.n) for a in o.actions) for o in outs}
    assert kinds == {(("batchModify", world.resting),)}, kinds
    _info(benchmark, world, actions=1, modifies=world.resting,
          signing_us_mean=round(world.signing_ns / len(outs) / 1e3, 1))


@pytest.mark.benchmark(group="engine-cycle")
def test_core_drift_baseline(benchmark, world):
    world.settle()
    world.now += 1000
    world.move()
    params, inputs = _core_inputs(world)
    ladder = Ladder()
    plan = benchmark.pedantic(core_cycle, args=(world, params, inputs, ladder), rounds=2000, warmup_rounds=50)
    assert len(plan.modifies) == world.resting and not plan.places and not plan.cancels
    _info(benchmark, world, actions=1, modifies=world.resting)


@pytest.mark.benchmark(group="engine-cycle")
def test_sign_only(benchmark, world):
    """The signing share of a drift cycle: ``signed_payload`` of one of its batchModify actions."""
    world.settle()
    world.next_drift()
    out = world.cycle()
    action = out.actions[0].action
    assert action["type"] == "batchModify" and len(action["modifies"]) == world.resting
    payload = benchmark.pedantic(world.engine.exchange.signed_payload, args=(action,), rounds=2000, warmup_rounds=50)
    assert payload["signature"]["r"].startswith("0x")
