"""The sim's transport (hlmm.sim.server) seen from the wire: raw HTTP and raw WebSocket
frames, the control request, faults, the CLI, and the official Hyperliquid SDK."""
from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time

import orjson
import pytest
import websocket
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm.exchange.keys import Wallet
from hlmm.exchange.urls import ws_url
from hlmm.sim.faults import FAULT_KEYS, FaultConfigError, TransportFaults
from hlmm.sim.runner import SimThread
from hlmm.sim.server import DESERIALIZE_ERROR, ServerOptions, WeightLimiter

from simproc import REPO, SimProcess, Trader


@pytest.fixture(scope="module")
def taker_wallet():
    return Wallet.generate()


@pytest.fixture(scope="module")
def sim(taker_wallet):
    with SimThread(seed=21, assets=("BTC", "ETH", "SOL"), fund={taker_wallet.address: 1_000_000.0},
                   options=ServerOptions(ip_weight_per_min=1_000_000, l2_book_interval_ms=100)) as s:
        yield s


@pytest.fixture(scope="module")
def demo(sim):
    return Trader(sim.url, Wallet.from_hex(sim.demo.key))


@pytest.fixture(scope="module")
def taker(sim, taker_wallet):
    return Trader(sim.url, taker_wallet)


class RawWs:
    """A bare websocket-client connection: send JSON, read frames as text."""

    def __init__(self, url: str, **kw) -> None:
        self.ws = websocket.create_connection(ws_url(url), timeout=5, **kw)
        self.seen: list[dict] = []     # frames skipped by until(), in order

    def send(self, obj) -> None:
        self.ws.send(json.dumps(obj))

    def recv(self) -> str:
        return self.ws.recv()

    def recv_json(self) -> dict:
        return json.loads(self.recv())

    def until(self, predicate, limit: int = 200) -> dict:
        """The first frame, already seen or coming, that matches; it is consumed."""
        for i, msg in enumerate(self.seen):
            if predicate(msg):
                del self.seen[i]
                return msg
        for _ in range(limit):
            msg = self.recv_json()
            if predicate(msg):
                return msg
            self.seen.append(msg)
        raise AssertionError("expected frame never came")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def raw(sim):
    conn = RawWs(sim.url)
    yield conn
    conn.close()


def post_raw(url: str, path: str, body: bytes, content_type: str = "application/json"):
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("POST", path, body=body, headers={"Content-Type": content_type})
    resp = conn.getresponse()
    out = resp.status, resp.getheader("Content-Type"), resp.read().decode()
    conn.close()
    return out


# ------------------------------------------------------------------------ HTTP
@pytest.mark.parametrize("body", [b"{not json", b"", b"[1,2]", b'"text"', b"null"])
@pytest.mark.parametrize("path", ["/info", "/exchange"])
def test_undeserializable_bodies_get_422_text_plain(sim, path, body):
    status, ctype, text = post_raw(sim.url, path, body)
    assert status == 422 and ctype.startswith("text/plain") and text == DESERIALIZE_ERROR


def test_info_answers_json(sim):
    status, ctype, text = post_raw(sim.url, "/info", b'{"type":"allMids"}')
    assert status == 200 and ctype.startswith("application/json") and "BTC" in json.loads(text)


def test_weight_limiter_refills_per_minute():
    now = [0.0]
    limiter = WeightLimiter(1200, clock=lambda: now[0])
    for _ in range(60):
        assert limiter.admits("1.2.3.4", 20)
        limiter.charge("1.2.3.4", 20)
    assert not limiter.admits("1.2.3.4", 1)       # 1200 spent
    assert limiter.admits("5.6.7.8", 20)          # per IP
    now[0] = 1.0                                  # 20 weight refilled per second
    assert limiter.admits("1.2.3.4", 20) and not limiter.admits("1.2.3.4", 21)
    limiter.charge("1.2.3.4", 45)                 # a big answer may overdraw: later requests wait
    now[0] = 2.0
    assert limiter.remaining("1.2.3.4") == pytest.approx(-5) and not limiter.admits("1.2.3.4", 1)
    now[0] = 1000.0
    assert limiter.remaining("1.2.3.4") == 1200   # capped at one minute's budget


def test_ip_weight_exhaustion_answers_429_then_recovers():
    with SimThread(seed=1, assets=("BTC",), options=ServerOptions(ip_weight_per_min=60)) as s:
        statuses = [post_raw(s.url, "/info", b'{"type":"meta"}')[0] for _ in range(5)]   # meta weighs 20
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        status, ctype, text = post_raw(s.url, "/info", b'{"type":"meta"}')
        assert status == 429 and "60 per minute" in text
        time.sleep(2.5)                                        # 1 weight/s refill; allMids weighs 2
        assert post_raw(s.url, "/info", b'{"type":"allMids"}')[0] == 200


# ------------------------------------------------------------------------ WebSocket wire
def test_banner_then_ping_pong(raw):
    assert raw.recv() == "Websocket connection established."
    raw.send({"method": "ping"})
    assert raw.recv() == '{"channel":"pong"}'


def test_subscribe_ack_echoes_the_subscription_then_snapshot(raw):
    raw.recv()
    sub = {"type": "l2Book", "coin": "BTC", "nSigFigs": 5, "mantissa": 2}
    raw.send({"method": "subscribe", "subscription": sub})
    assert raw.recv_json() == {"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": sub}}
    book = raw.recv_json()
    assert book["channel"] == "l2Book" and book["data"]["coin"] == "BTC" and len(book["data"]["levels"]) == 2
    raw.send({"method": "unsubscribe", "subscription": sub})
    assert raw.until(lambda m: m["channel"] == "subscriptionResponse")["data"]["method"] == "unsubscribe"


@pytest.mark.parametrize("request_, text", [
    ({"method": "subscribe", "subscription": {"type": "l2Book", "coin": "DOGE"}}, "Invalid subscription: unknown coin 'DOGE'"),
    ({"method": "subscribe", "subscription": {"type": "trades"}}, "Invalid subscription: missing field coin"),
    ({"method": "subscribe", "subscription": {"type": "userFills", "user": "bob"}}, "user must be a 0x address"),
    ({"method": "subscribe", "subscription": {"type": "l2Book", "coin": "BTC", "nSigFigs": 7}}, "nSigFigs must be"),
    ({"method": "subscribe", "subscription": {"type": "candle", "coin": "BTC", "interval": "1m"}}, "not served by the sim"),
    ({"method": "subscribe", "subscription": {"type": "nope"}}, "unknown type 'nope'"),
    ({"method": "unsubscribe", "subscription": {"type": "trades", "coin": "BTC"}}, 'Already unsubscribed: {"type":"trades","coin":"BTC"}'),
    ({"method": "dance"}, "Error parsing JSON into valid websocket request"),
    ({"method": "post", "id": "x", "request": {}}, "Post request needs a non-negative integer id"),
])
def test_bad_requests_get_an_error_frame_and_the_socket_stays_open(raw, request_, text):
    raw.recv()
    raw.send(request_)
    msg = raw.recv_json()
    assert msg["channel"] == "error" and text in msg["data"], msg
    raw.send({"method": "ping"})
    assert raw.recv_json() == {"channel": "pong"}


def test_duplicate_subscription_is_refused(raw):
    raw.recv()
    sub = {"type": "trades", "coin": "ETH"}
    raw.send({"method": "subscribe", "subscription": sub})
    raw.recv_json()
    raw.send({"method": "subscribe", "subscription": sub})
    assert raw.recv_json() == {"channel": "error", "data": 'Already subscribed: {"type":"trades","coin":"ETH"}'}


def test_not_json_gets_an_error_frame(raw):
    raw.recv()
    raw.ws.send("{{{")
    msg = raw.recv_json()
    assert msg["channel"] == "error" and msg["data"].startswith("Error parsing JSON")


def test_user_limit_per_connection(sim):
    conn = RawWs(sim.url)
    conn.recv()
    for i in range(10):
        conn.send({"method": "subscribe", "subscription": {"type": "orderUpdates", "user": f"0x{i:040x}"}})
        assert conn.recv_json()["channel"] == "subscriptionResponse"
    conn.send({"method": "subscribe", "subscription": {"type": "orderUpdates", "user": f"0x{99:040x}"}})
    assert conn.recv_json() == {"channel": "error", "data": "Cannot track more than 10 total users."}
    conn.close()


def test_post_info_and_action_envelopes(raw, demo):
    raw.recv()
    raw.send({"method": "post", "id": 7, "request": {"type": "info", "payload": {"type": "l2Book", "coin": "ETH"}}})
    msg = raw.recv_json()
    assert msg["channel"] == "post" and msg["data"]["id"] == 7
    assert msg["data"]["response"]["type"] == "info"
    assert msg["data"]["response"]["payload"]["type"] == "l2Book"
    assert msg["data"]["response"]["payload"]["data"]["coin"] == "ETH"
    payload = demo.ex.signed_payload({"type": "noop"})
    raw.send({"method": "post", "id": 8, "request": {"type": "action", "payload": payload}})
    msg = raw.recv_json()
    assert msg["data"] == {"id": 8, "response": {"type": "action", "payload": {"status": "ok", "response": {"type": "default"}}}}
    raw.send({"method": "post", "id": 9, "request": {"type": "action", "payload": payload}})       # replayed nonce
    msg = raw.recv_json()
    assert msg["data"]["response"]["payload"] == {"status": "err",
                                                  "response": f"Invalid nonce: duplicate nonce {payload['nonce']}"}
    raw.send({"method": "post", "id": 10, "request": {"type": "info", "payload": {"type": "bogus"}}})
    msg = raw.recv_json()
    assert msg["data"]["response"] == {"type": "error", "payload": f"422 Unprocessable Entity: {DESERIALIZE_ERROR}"}


def test_all_mids_trades_bbo_user_channels(sim, demo, taker):
    conn = RawWs(sim.url)
    conn.recv()
    user = demo.wallet.address.lower()
    for sub in ({"type": "allMids"}, {"type": "trades", "coin": "SOL"}, {"type": "bbo", "coin": "SOL"},
                {"type": "orderUpdates", "user": user}, {"type": "userEvents", "user": user}):
        conn.send({"method": "subscribe", "subscription": sub})
        assert conn.until(lambda m: m["channel"] == "subscriptionResponse")["data"]["subscription"] == sub
    mids = conn.until(lambda m: m["channel"] == "allMids")
    assert "SOL" in mids["data"]["mids"]
    mid = demo.mid("SOL")
    ask = demo.wire("SOL", False, mid * 1.002, 2.0)
    rest = demo.ex.order([ask])
    assert rest[0].status == "resting"
    update = conn.until(lambda m: m["channel"] == "orderUpdates")
    assert update["data"][0]["order"]["oid"] == rest[0].oid and update["data"][0]["status"] == "open"
    bbo = conn.until(lambda m: m["channel"] == "bbo")
    assert bbo["data"]["coin"] == "SOL" and float(bbo["data"]["bbo"][1]["px"]) == float(ask["p"])
    hit = taker.ex.order([taker.wire("SOL", True, mid * 1.01, 1.0, tif="Ioc")])
    assert hit[0].status == "filled"
    trades = conn.until(lambda m: m["channel"] == "trades")
    assert trades["data"][0]["coin"] == "SOL" and trades["data"][0]["side"] == "B"
    assert set(map(str.lower, trades["data"][0]["users"])) == {taker.wallet.address.lower(), user}
    event = conn.until(lambda m: m["channel"] == "user")
    assert event["data"]["fills"][0]["oid"] == rest[0].oid and event["data"]["fills"][0]["crossed"] is False
    conn.close()


def test_bbo_pushes_only_on_change(sim, demo):
    conn = RawWs(sim.url)
    conn.recv()
    conn.send({"method": "subscribe", "subscription": {"type": "bbo", "coin": "ETH"}})
    conn.recv_json()
    mid = demo.mid("ETH")
    first = demo.ex.order([demo.wire("ETH", True, mid * 0.95, 0.01)])
    top = conn.until(lambda m: m["channel"] == "bbo")["data"]["bbo"][0]
    behind = demo.ex.order([demo.wire("ETH", True, mid * 0.90, 0.01)])    # not at the top: no bbo push
    conn.send({"method": "ping"})
    assert conn.recv_json() == {"channel": "pong"}
    assert first[0].ok and behind[0].ok and top is not None
    conn.close()


def test_user_fills_snapshot_then_live(sim, demo, taker):
    mid = demo.mid("BTC")
    demo.ex.order([demo.wire("BTC", False, mid * 1.001, 0.001)])
    first = taker.ex.order([taker.wire("BTC", True, mid * 1.01, 0.001, tif="Ioc")])
    assert first[0].status == "filled"
    conn = RawWs(sim.url)
    conn.recv()
    user = taker.wallet.address
    conn.send({"method": "subscribe", "subscription": {"type": "userFills", "user": user}})
    conn.recv_json()
    snapshot = conn.recv_json()
    assert snapshot["channel"] == "userFills" and snapshot["data"]["isSnapshot"] is True
    assert snapshot["data"]["user"] == user.lower()
    # the snapshot holds the fills so far (newest first), as /info userFills does
    assert snapshot["data"]["fills"][0]["oid"] == first[0].oid
    assert [f["tid"] for f in snapshot["data"]["fills"]] == [f["tid"] for f in taker.info.user_fills(user)]
    demo.ex.order([demo.wire("BTC", False, mid * 1.001, 0.001)])
    second = taker.ex.order([taker.wire("BTC", True, mid * 1.01, 0.001, tif="Ioc")])
    live = conn.until(lambda m: m["channel"] == "userFills")
    assert live["data"]["isSnapshot"] is False and [f["oid"] for f in live["data"]["fills"]] == [second[0].oid]
    conn.close()


def test_push_delay_stalls_the_stream(sim):
    conn = RawWs(sim.url)
    conn.recv()
    sim.control({"push_delay_ms": 400})
    try:
        t0 = time.monotonic()
        conn.send({"method": "subscribe", "subscription": {"type": "allMids"}})
        assert conn.recv_json()["channel"] == "subscriptionResponse"       # an ack is not a push
        assert conn.recv_json()["channel"] == "allMids"
        assert time.monotonic() - t0 >= 0.35
    finally:
        sim.control({"push_delay_ms": 0})
        conn.close()


def test_slow_consumer_is_disconnected():
    import socket

    # ~1.2 KB answers x 8000 posts = ~9 MB: more than the kernel buffers (4 MB send max,
    # 4 KB receive) can hold, so the server's own queue must grow past its limit
    with SimThread(seed=4, assets=("BTC", "ETH", "SOL"), options=ServerOptions(max_queued_frames=50)) as s:
        conn = RawWs(s.url, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        body = json.dumps({"method": "post", "id": 1,
                           "request": {"type": "info", "payload": {"type": "metaAndAssetCtxs"}}})
        for _ in range(8000):
            try:
                conn.ws.send(body)
            except (ConnectionError, websocket.WebSocketConnectionClosedException):
                break                  # the server already hung up on us
        deadline = time.monotonic() + 10
        while s.server.stats["ws_slow_closed"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.server.stats["ws_slow_closed"] == 1
        conn.ws.shutdown()


# ------------------------------------------------------------------------ control request
def test_control_get_and_validation(sim):
    host, port = sim.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/sim/control")
    state = json.loads(conn.getresponse().read())
    assert state["status"] == "ok" and set(FAULT_KEYS) <= set(state["faults"])
    for body, text in ((b'{"bogus": 1}', "unknown control key(s) 'bogus'"),
                       (b'{"push_drop_prob": 2}', "push_drop_prob is a probability"),
                       (b'{"http_429_next": 1.5}', "http_429_next must be a whole number"),
                       (b'{"drop_ws_now": "later"}', "drop_ws_now must be"),
                       (b'{"freeze_book": {"NOPE": true}}', "unknown coin(s) NOPE"),
                       (b"[1]", "must be a JSON object")):
        status, _, answer = post_raw(sim.url, "/sim/control", body)
        assert status == 400 and text in answer, answer
    # a rejected control request changed nothing
    assert sim.control({})["faults"]["push_drop_prob"] == 0
    status, _, answer = post_raw(sim.url, "/sim/control", b'{"push_drop_prob": 0.5, "reject_next_orders": -1}')
    assert status == 400 and sim.control({})["faults"]["push_drop_prob"] == 0
    state = sim.control({"reject_next_orders": 3, "clear": True})
    assert state["exchange_faults"]["reject_next"] == 3       # clear is applied first
    assert sim.control({"clear": True})["exchange_faults"]["reject_next"] == 0


def test_control_passes_exchange_faults_through(sim, demo):
    sim.control({"reject_next_orders": 1})
    mid = demo.mid("ETH")
    first = demo.ex.order([demo.wire("ETH", True, mid * 0.9, 0.01)])
    second = demo.ex.order([demo.wire("ETH", True, mid * 0.9, 0.01)])
    assert first[0].status == "error" and "injected fault" in first[0].error
    assert second[0].status == "resting"
    sim.control({"freeze_book": {"ETH": True}})
    try:
        frozen = demo.ex.order([demo.wire("ETH", True, mid * 0.9, 0.01)])
        assert frozen[0].status == "error" and "frozen" in frozen[0].error
    finally:
        sim.control({"freeze_book": False})
    assert demo.ex.order([demo.wire("ETH", True, mid * 0.9, 0.01)])[0].status == "resting"


def test_forced_429_via_control(sim):
    sim.control({"http_429_next": 1})
    assert post_raw(sim.url, "/info", b'{"type":"allMids"}')[0] == 429
    assert post_raw(sim.url, "/info", b'{"type":"allMids"}')[0] == 200


# ------------------------------------------------------------------------ faults
def test_fault_validation_messages():
    faults = TransportFaults()
    with pytest.raises(FaultConfigError, match="unknown fault 'x'"):
        faults.update({"x": 1})
    with pytest.raises(FaultConfigError, match="must be >= 0"):
        faults.update({"post_delay_ms": -1})
    with pytest.raises(FaultConfigError, match="must be a number"):
        faults.update({"push_dup_every": True})
    faults.update({"push_drop_every": 3})
    assert [faults.push_plan()[0] for _ in range(6)] == [1, 1, 0, 1, 1, 0]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), drop=st.floats(0, 1), dup=st.floats(0, 1), delay=st.floats(0, 1),
       every=st.integers(0, 5))
def test_push_plans_are_seeded_and_well_formed(seed, drop, dup, delay, every):
    settings_ = {"push_drop_prob": drop, "push_dup_prob": dup, "push_delay_prob": delay,
                 "push_delay_ms": 50, "push_dup_every": every}
    a, b = TransportFaults(seed=seed), TransportFaults(seed=seed)
    a.update(settings_)
    b.update(settings_)
    plans = [a.push_plan() for _ in range(50)]
    assert plans == [b.push_plan() for _ in range(50)]
    for copies, wait in plans:
        assert copies in (0, 1, 2) and wait in (0.0, 0.05)
    assert a.pushes_dropped + sum(1 for c, _ in plans if c) == 50


def test_no_faults_means_every_push_once_without_delay():
    faults = TransportFaults(seed=9)
    assert {faults.push_plan() for _ in range(100)} == {(1, 0.0)}


# ------------------------------------------------------------------------ determinism
def _stable(obj):
    """Drop wall-clock fields so two runs can be compared."""
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if k not in ("time", "serverTime")}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def test_two_sims_with_the_same_seed_agree():
    with SimProcess(seed=77, assets="BTC,ETH,SOL") as a, SimProcess(seed=77, assets="BTC,ETH,SOL") as b:
        time.sleep(1.0)
        ia, ib = Trader(a.url, Wallet.generate()).info, Trader(b.url, Wallet.generate()).info
        for body in ({"type": "meta"}, {"type": "metaAndAssetCtxs"}, {"type": "allMids"},
                     {"type": "l2Book", "coin": "BTC"}, {"type": "l2Book", "coin": "SOL"},
                     {"type": "recentTrades", "coin": "ETH"}):
            assert _stable(ia.post(body)) == _stable(ib.post(body)), body


# ------------------------------------------------------------------------ CLI
def test_cli_ready_line_and_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "sim", "--port", "0", "--seed", "3", "--assets", "BTC,HYPE"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        fields = dict(item.split("=", 1) for item in line.split()[3:])
        assert line.startswith("hlmm sim ready url=http://127.0.0.1:")
        assert fields["demo_address"].startswith("0x") and len(fields["demo_key"]) == 66
        assert fields["coins"] == "BTC,HYPE"
        assert Wallet.from_hex(fields["demo_key"]).address == fields["demo_address"]
        info = Trader(fields["url"], Wallet.from_hex(fields["demo_key"])).info
        state = info.clearinghouse_state(fields["demo_address"])
        assert float(state["marginSummary"]["accountValue"]) == 100_000.0
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert "Traceback" not in err and "stopped (SIGINT)" in err


def test_cli_sigterm_exits_zero():
    sim_ = SimProcess(seed=1, assets="BTC").start()
    code, err = sim_.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in err


@pytest.mark.parametrize("args, text", [
    (["--assets", "BTC,NOPE"], "unknown asset 'NOPE'"),
    (["--fund", "bob=12"], "expected 0xADDRESS=USDC"),
    (["--push-drop-prob", "3"], "push_drop_prob is a probability"),
])
def test_cli_bad_options_are_usage_errors(args, text):
    out = subprocess.run([sys.executable, "-m", "cli.main", "sim", "--port", "0", *args], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and text in out.stderr and "Traceback" not in out.stderr


def test_cli_port_in_use_is_a_clean_error(sim):
    port = sim.port
    out = subprocess.run([sys.executable, "-m", "cli.main", "sim", "--port", str(port)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "cannot listen" in out.stderr and "Traceback" not in out.stderr


# ------------------------------------------------------------------------ official SDK
def test_official_sdk_runs_unchanged_against_the_sim():
    from eth_account import Account
    from hyperliquid.exchange import Exchange
    from hyperliquid.info import Info
    from hyperliquid.utils.types import Cloid

    maker = Account.create()
    with SimProcess(seed=8, assets="BTC,ETH", fund=f"{maker.address}=1000000") as s:
        me = Account.from_key(s.demo_key)
        info = Info(s.url, skip_ws=False)
        try:
            assert [a["name"] for a in info.meta()["universe"]] == ["BTC", "ETH"]
            fills = []
            info.subscribe({"type": "userFills", "user": me.address}, fills.append)
            ex, mex = Exchange(me, s.url), Exchange(maker, s.url)
            mid = float(info.all_mids()["ETH"])
            cloid = Cloid.from_int(42)
            placed = ex.order("ETH", True, 0.01, round(mid * 0.9, 1), {"limit": {"tif": "Gtc"}}, cloid=cloid)
            assert placed["status"] == "ok"
            assert placed["response"]["data"]["statuses"][0]["resting"]["cloid"] == cloid.to_raw()
            moved = ex.modify_order(cloid, "ETH", True, 0.02, round(mid * 0.91, 1), {"limit": {"tif": "Gtc"}},
                                    cloid=cloid)
            assert "resting" in moved["response"]["data"]["statuses"][0]
            status = info.query_order_by_cloid(me.address, cloid)
            assert status["order"]["order"]["sz"] == "0.02" and status["order"]["status"] == "open"
            assert ex.cancel_by_cloid("ETH", cloid)["response"]["data"]["statuses"] == ["success"]
            assert "resting" in mex.order("ETH", False, 0.05, mid, {"limit": {"tif": "Gtc"}})["response"]["data"]["statuses"][0]
            taker_cloid = Cloid.from_int(43)
            hit = ex.order("ETH", True, 0.05, round(mid * 1.01, 1), {"limit": {"tif": "Ioc"}}, cloid=taker_cloid)
            assert hit["response"]["data"]["statuses"][0]["filled"]["totalSz"] == "0.05"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(not m["data"]["isSnapshot"] for m in fills):
                time.sleep(0.05)
            assert fills[0]["data"]["isSnapshot"] is True
            live = [f for m in fills if not m["data"]["isSnapshot"] for f in m["data"]["fills"]]
            assert [f["cloid"] for f in live] == [taker_cloid.to_raw()]
            back = info.user_fills(me.address)
            assert [(f["tid"], f["cloid"]) for f in back] == [(f["tid"], f["cloid"]) for f in live]
        finally:
            info.disconnect_websocket()
