"""hlmm.exchange.ws.WsClient over real sockets: against the real sim, and against small
test servers for what the sim never does on purpose (garbage frames, TLS)."""
from __future__ import annotations

import asyncio
import select
import shutil
import ssl
import subprocess
import time

import orjson
import pytest
from aiohttp import web

from hlmm.exchange.keys import Wallet
from hlmm.exchange.ws import WsClient, subscription_key
from hlmm.sim.runner import SimThread
from hlmm.sim.server import ServerOptions

from aioapp import AppThread
from simproc import Trader


@pytest.fixture(scope="module")
def sim():
    trader = Wallet.generate()
    with SimThread(seed=11, assets=("BTC", "ETH"), fund={trader.address: 1_000_000.0},
                   options=ServerOptions(ip_weight_per_min=1_000_000, l2_book_interval_ms=200)) as s:
        s.trader = trader
        yield s


@pytest.fixture
def client(sim):
    states = []
    ws = WsClient(sim.url, on_state=lambda event, info: states.append((event, info)), backoff_initial_s=0.05,
                  backoff_max_s=0.2, seed=1)
    ws.states = states
    ws.connect()
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def demo(sim):
    return Trader(sim.url, Wallet.from_hex(sim.demo.key))


# --------------------------------------------------------------------------- real sim
def test_banner_is_recorded_and_skipped(client):
    assert client.run_until(lambda: client.banner is not None, 5)
    assert client.banner == "Websocket connection established."
    assert client.stats.malformed == 0


def test_subscribe_ack_and_unsubscribe(sim, client):
    books = []
    client.on("l2Book", books.append)
    sub = {"type": "l2Book", "coin": "ETH"}
    client.subscribe(sub)
    assert client.run_until(lambda: client.is_acked(sub) and books, 5)
    assert books[0]["coin"] == "ETH" and len(books[0]["levels"]) == 2
    client.unsubscribe(sub)
    assert client.subscriptions == []
    # the unsubscribe ack comes back and no further ETH books arrive once it is processed
    acks_before = client.stats.by_channel.get(b"subscriptionResponse", 0)
    assert client.run_until(lambda: client.stats.by_channel.get(b"subscriptionResponse", 0) > acks_before, 5)
    count = len(books)
    client.run_until(lambda: False, 1.0)
    assert len(books) == count


def test_server_error_for_a_bad_subscription_is_reported_not_fatal(client):
    errors = []
    client.on("error", errors.append)
    client.subscribe({"type": "l2Book", "coin": "NOPE"})
    assert client.run_until(lambda: errors, 5)
    assert "unknown coin 'NOPE'" in errors[0]
    assert client.connected and client.stats.server_errors == 1


def test_l2book_pushes_follow_the_cadence_and_only_on_change(demo, client):
    arrivals = []
    client.on("l2Book", lambda data: arrivals.append((time.monotonic(), data)))
    client.subscribe({"type": "l2Book", "coin": "BTC"})
    assert client.run_until(lambda: arrivals, 5)       # the snapshot right after subscribing
    px = int(demo.mid("BTC") * 0.9)
    for i in range(6):
        res = demo.ex.order([demo.wire("BTC", True, px - i, 0.001)])
        assert res[0].status == "resting", res
        client.run_until(lambda: False, 0.12)
    client.run_until(lambda: False, 1.0)
    pushes = arrivals[1:]
    assert pushes, "changed book was never pushed"
    # cadence 200 ms in this sim: the server stamps its snapshots; two pushes of one book
    # are about one interval apart (half of it allows for a late clock tick under load)
    stamps = [p[1]["time"] for p in pushes]
    assert all(b - a >= 100 for a, b in zip(stamps, stamps[1:])), stamps
    # fewer pushes than changes (changes inside one interval coalesce), and the last has them all
    assert len(pushes) < 6
    bids = {float(lvl["px"]) for lvl in pushes[-1][1]["levels"][0]}
    assert {float(px - i) for i in range(6)} <= bids
    # no change, no push
    count = len(arrivals)
    client.run_until(lambda: False, 0.6)
    assert len(arrivals) == count


def test_post_info_and_action_replies_are_matched_by_id(demo, client):
    wire = demo.wire("BTC", True, demo.mid("BTC") * 0.9, 0.001, cloid="0x" + "ab" * 16)
    posts = [client.post_info({"type": "l2Book", "coin": "BTC"}),
             client.post_action(demo.ex.signed_payload({"type": "order", "orders": [wire], "grouping": "na"})),
             client.post_info({"type": "allMids"}),
             client.post_info({"type": "nonsense"})]
    assert len({p.id for p in posts}) == 4
    assert client.run_until(lambda: all(p.done for p in posts), 5)
    book, action, mids, bad = posts
    assert book.state == "ok" and book.response["coin"] == "BTC"
    assert action.state == "ok" and action.response["status"] == "ok"
    resting = action.response["response"]["data"]["statuses"][0]["resting"]
    assert resting["cloid"] == "0x" + "ab" * 16
    assert mids.state == "ok" and "BTC" in mids.response
    assert bad.state == "error" and "Failed to deserialize" in bad.error.text


def test_ping_pong(sim):
    ws = WsClient(sim.url, ping_interval_s=0.2, pong_timeout_s=2.0)
    ws.connect()
    try:
        assert ws.run_until(lambda: ws.stats.by_channel.get(b"pong", 0) >= 2, 5)
        assert ws.connected
    finally:
        ws.close()


def test_reconnect_and_resubscribe_after_a_server_drop(sim, client):
    subs = [{"type": "l2Book", "coin": "BTC"}, {"type": "trades", "coin": "ETH"},
            {"type": "userFills", "user": sim.demo.address}]
    fills = []
    client.on("userFills", fills.append)
    for sub in subs:
        client.subscribe(sub)
    assert client.run_until(lambda: all(client.is_acked(s) for s in subs) and fills, 5)
    assert fills[0]["isSnapshot"] is True
    fd_before = client.fileno()
    sim.control({"drop_ws_now": True})
    assert client.run_until(lambda: any(e == "resubscribed" for e, _ in client.states), 10)
    events = [e for e, _ in client.states]
    assert events == ["connected", "disconnected", "connected", "resubscribed"]
    assert all(client.is_acked(s) for s in subs)
    assert client.fileno() >= 0 and client.stats.connects == 2
    # the snapshot is sent again after the resubscription: the engine resyncs from it
    assert client.run_until(lambda: sum(1 for f in fills if f["isSnapshot"]) == 2, 5)
    assert fd_before >= 0


def test_reconnect_after_an_abrupt_tcp_cut_fails_pending_posts_as_lost(sim, client):
    sim.control({"post_delay_ms": 2000})
    try:
        post = client.post_info({"type": "allMids"})
        time.sleep(0.1)
        sim.control({"drop_ws_now": "abort"})
        assert client.run_until(lambda: post.done, 5)
        assert post.state == "lost" and post.outcome_unknown
        assert client.run_until(lambda: client.connected, 5)
    finally:
        sim.control({"post_delay_ms": 0})


def test_post_timeout_is_unknown_not_rejected_and_late_reply_is_kept(sim):
    late = []
    ws = WsClient(sim.url, post_timeout_s=0.3, on_late_reply=late.append)
    ws.connect()
    sim.control({"post_delay_ms": 800})
    try:
        post = ws.post_info({"type": "allMids"})
        assert ws.run_until(lambda: post.done, 3)
        assert post.state == "timeout" and post.outcome_unknown
        assert post.error.outcome_unknown
        assert ws.run_until(lambda: late, 3)
        assert post.late and "BTC" in post.response and not post.outcome_unknown
        assert ws.stats.post_timeouts == 1 and ws.stats.late_replies == 1
    finally:
        sim.control({"post_delay_ms": 0})
        ws.close()


def test_post_while_disconnected_fails_at_once(sim):
    ws = WsClient(sim.url)
    post = ws.post_info({"type": "allMids"})
    assert post.state == "error" and not post.outcome_unknown and "not connected" in post.error.text


def test_server_drops_a_silent_client_and_it_comes_back():
    # a sim whose idle timeout is short; the client pings too rarely to keep it open
    with SimThread(seed=2, assets=("BTC",), options=ServerOptions(idle_timeout_s=0.5)) as s:
        states = []
        ws = WsClient(s.url, ping_interval_s=60, backoff_initial_s=0.05, on_state=lambda e, i: states.append(e))
        ws.subscribe({"type": "allMids"})
        ws.connect()
        try:
            assert ws.run_until(lambda: "resubscribed" in states, 5)
            assert states[:4] == ["connected", "disconnected", "connected", "resubscribed"]
        finally:
            ws.close()


def test_fault_drop_every_n_seconds(sim):
    states = []
    ws = WsClient(sim.url, backoff_initial_s=0.05, backoff_max_s=0.1, on_state=lambda e, i: states.append(e))
    ws.subscribe({"type": "l2Book", "coin": "BTC"})
    ws.connect()
    sim.control({"drop_ws_every_s": 0.4})
    try:
        assert ws.run_until(lambda: states.count("resubscribed") >= 2, 10)
    finally:
        sim.control({"drop_ws_every_s": 0})
        ws.close()


def test_push_faults_drop_and_duplicate(sim, demo, client):
    updates = []
    client.on("orderUpdates", updates.append)
    client.subscribe({"type": "orderUpdates", "user": sim.demo.address})
    assert client.run_until(lambda: client.is_acked({"type": "orderUpdates", "user": sim.demo.address}), 5)
    px = int(demo.mid("BTC") * 0.9)
    sim.control({"push_dup_every": 1})
    try:
        demo.ex.order([demo.wire("BTC", True, px - 10, 0.001)])
        assert client.run_until(lambda: len(updates) >= 2, 5)
        assert updates[0] == updates[1]
    finally:
        sim.control({"push_dup_every": 0})
    sim.control({"push_drop_every": 1})
    try:
        n = len(updates)
        demo.ex.order([demo.wire("BTC", True, px - 11, 0.001)])
        client.run_until(lambda: False, 0.5)
        assert len(updates) == n
    finally:
        sim.control({"push_drop_every": 0})


def test_poll_drains_every_available_frame_in_one_call(sim, client):
    client.subscribe({"type": "l2Book", "coin": "BTC"})
    client.subscribe({"type": "l2Book", "coin": "ETH"})
    for _ in range(20):
        client.post_info({"type": "allMids"})
    time.sleep(0.5)
    handled = client.poll()
    assert handled >= 22
    assert select.select([client.fileno()], [], [], 0)[0] == []


def test_subscription_key_ignores_user_case_and_key_order():
    a = subscription_key({"type": "userFills", "user": "0xABCDEF0000000000000000000000000000000000"})
    b = subscription_key({"user": "0xabcdef0000000000000000000000000000000000", "type": "userFills"})
    assert a == b


# --------------------------------------------------------------------------- garbage server
GOOD_BOOK = b'{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"1.0","sz":"2","n":1}],[]]}}'
GARBAGE = [
    "this is not json",
    '{"channel":"l2Book","data":',               # truncated
    "[1, 2, 3]",                                 # JSON, not an object
    '{"data":{"coin":"BTC"}}',                   # no channel
    '{"channel":"l2Book"}',                      # no data
    '{"channel":"post","data":{"id":"seven"}}',  # post reply without an integer id
    '{"channel":"post","data":{"id":99,"response":{"type":"action","payload":{}}}}',  # unknown id
    '{"channel":"subscriptionResponse","data":{"method":"subscribe"}}',
]


def garbage_app():
    async def ws_handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("Websocket connection established.")
        async for msg in ws:
            if msg.data == '{"method":"ping"}':
                await ws.send_str('{"channel":"pong"}')
                continue
            for text in GARBAGE:
                await ws.send_str(text)
            await ws.send_bytes(b"\xff\xfe not utf-8 \x00")
            await ws.send_str(GOOD_BOOK.decode())
            await ws.send_str('{"data":{"coin":"ETH","time":2,"levels":[[],[]]},"channel":"l2Book"}')
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    return app


def test_malformed_frames_are_counted_and_never_fatal():
    with AppThread(garbage_app()) as server:
        books, raw = [], []
        ws = WsClient(server.url)
        ws.on("l2Book", raw.append, raw=True)       # registered first: still sees only valid frames
        ws.on("l2Book", books.append)
        ws.connect()
        ws.subscribe({"type": "l2Book", "coin": "BTC"})     # any message triggers the garbage
        assert ws.run_until(lambda: len(books) == 2, 5)
        assert ws.connected
        assert ws.stats.malformed == len(GARBAGE) + 1       # + the binary non-UTF-8 frame
        assert [b["coin"] for b in books] == ["BTC", "ETH"]  # a frame with keys in another order still works
        assert raw[0] == GOOD_BOOK and len(raw) == 2
        ws.close()


def test_raw_only_channels_pass_frames_through_undecoded():
    ws = WsClient("ws://127.0.0.1:9/ws")
    seen = []
    ws.on("l2Book", seen.append, raw=True)
    ws.dispatch_frame(b'{"channel":"l2Book","data":{"trunc')   # the raw consumer validates it
    ws.dispatch_frame(GOOD_BOOK)
    assert seen == [b'{"channel":"l2Book","data":{"trunc', GOOD_BOOK] and ws.stats.malformed == 0


def test_a_raising_callback_is_counted_and_the_stream_goes_on():
    with AppThread(garbage_app()) as server:
        seen = []

        def explode(data):
            seen.append(data)
            raise ValueError("handler bug")

        ws = WsClient(server.url)
        ws.on("l2Book", explode)
        ws.connect()
        ws.subscribe({"type": "l2Book", "coin": "BTC"})
        assert ws.run_until(lambda: len(seen) == 2, 5)
        assert ws.stats.handler_errors == 2 and ws.connected
        ws.close()


# --------------------------------------------------------------------------- TLS
@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a throwaway certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


def burst_app(n):
    async def ws_handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("Websocket connection established.")
        async for _msg in ws:
            for i in range(n):
                await ws.send_str(orjson.dumps({"channel": "trades", "data": [{"coin": "BTC", "tid": i}]}).decode())
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    return app


def test_tls_frames_buffered_inside_ssl_are_all_drained(tls_cert):
    cert, key = tls_cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    app = burst_app(200)
    server = AppThread(app)

    async def start_tls():   # the helper serves plain TCP; restart its site with TLS
        await server._runner.cleanup()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        server._runner = runner
        return runner.addresses[0][1]

    with server:
        port = asyncio.run_coroutine_threadsafe(start_tls(), server.loop).result(10)
        trades = []
        ws = WsClient(f"wss://127.0.0.1:{port}/ws", sslopt={"ca_certs": str(cert)})
        ws.on("trades", trades.append)
        ws.connect()
        ws.subscribe({"type": "trades", "coin": "BTC"})
        # select on the fd only, as an engine loop would, asking has_buffered() too
        deadline = time.monotonic() + 10
        while len(trades) < 200 and time.monotonic() < deadline:
            if not ws.has_buffered():
                select.select([ws.fileno()], [], [], 0.5)
            ws.poll()
            # poll() leaves nothing behind inside TLS that select() could not see
            assert not ws.has_buffered()
        assert [t[0]["tid"] for t in trades] == list(range(200))
        assert not ws.has_buffered()
        ws.close()
