"""InfoClient / ExchangeClient over real sockets against the real sim (a subprocess), plus
small raw servers for failures the sim does not produce (silence, 5xx, dropped sockets)."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from hlmm.exchange import urls, wire
from hlmm.exchange.errors import (
    ActionError,
    BadRequestError,
    ConnectError,
    ConnectionLost,
    RateLimitedError,
    RequestTimeout,
    ServerError,
)
from hlmm.exchange.http import ExchangeClient, HttpTransport, InfoClient
from hlmm.exchange.keys import Credentials, Wallet
from hlmm.exchange.nonces import NonceSource
from hlmm.exchange.signing import recover_l1_signer

from simproc import SimProcess, Trader

DESERIALIZE = "Failed to deserialize the JSON body into the target type"


@pytest.fixture(scope="module")
def maker_wallet():
    return Wallet.generate()


@pytest.fixture(scope="module")
def sim(maker_wallet):
    with SimProcess(seed=5, assets="BTC,ETH,SOL", ip_weight=1_000_000, fund=f"{maker_wallet.address}=500000") as s:
        yield s


@pytest.fixture(scope="module")
def demo(sim):
    return Trader(sim.url, Wallet.from_hex(sim.demo_key))


@pytest.fixture(scope="module")
def maker(sim, maker_wallet):
    return Trader(sim.url, maker_wallet)


# ------------------------------------------------------------------------- info
def test_every_info_endpoint(sim, demo, maker):
    info = demo.info
    user = sim.demo_address
    meta = info.meta()
    assert [a["name"] for a in meta["universe"]] == ["BTC", "ETH", "SOL"]
    meta2, ctxs = info.meta_and_asset_ctxs()
    assert meta2["universe"] == meta["universe"] and len(ctxs) == 3 and "markPx" in ctxs[0]
    mids = info.all_mids()
    assert set(mids) >= {"BTC", "ETH", "SOL"} and float(mids["BTC"]) > 0
    book = info.l2_book("BTC")
    assert book["coin"] == "BTC" and len(book["levels"]) == 2
    assert info.l2_book("BTC", n_sig_figs=3)["coin"] == "BTC"

    # make a trade between the two accounts so fills, trades and candles have content
    mid = demo.mid("SOL")
    cloid = "0x" + "5" * 32
    rest = maker.ex.order([maker.wire("SOL", False, mid * 1.001, 1.0)])
    assert rest[0].status == "resting"
    resting = {o["oid"]: o for o in info.open_orders(maker.wallet.address)}
    assert resting[rest[0].oid]["side"] == "A" and float(resting[rest[0].oid]["sz"]) == 1.0
    fe = {o["oid"]: o for o in info.frontend_open_orders(maker.wallet.address)}
    assert fe[rest[0].oid]["orderType"] == "Limit" and fe[rest[0].oid]["tif"] == "Gtc"
    filled = demo.ex.order([demo.wire("SOL", True, mid * 1.01, 1.0, tif="Ioc", cloid=cloid)])
    assert filled[0].status == "filled", filled
    assert float(filled[0].total_sz) == 1.0

    state = info.clearinghouse_state(user)
    assert float(state["marginSummary"]["accountValue"]) > 0
    assert any(p["position"]["coin"] == "SOL" for p in state["assetPositions"])
    assert rest[0].oid not in {o["oid"] for o in info.open_orders(maker.wallet.address)}
    fills = info.user_fills(user)
    assert fills and fills[0]["coin"] == "SOL" and fills[0]["cloid"] == cloid
    by_time = info.user_fills_by_time(user, start_time=fills[0]["time"] - 1000)
    assert [f["tid"] for f in by_time] == [f["tid"] for f in fills]
    status = info.order_status(user, cloid)
    assert status["status"] == "order" and status["order"]["status"] == "filled"
    assert info.order_status(user, filled[0].oid)["order"]["order"]["oid"] == filled[0].oid
    assert info.order_status(user, 999_999_999)["status"] == "unknownOid"
    limits = info.user_rate_limit(user)
    assert limits["nRequestsCap"] >= 10_000 and limits["nRequestsUsed"] >= 1
    trades = info.recent_trades("SOL")
    assert trades and trades[-1]["coin"] == "SOL"
    now = int(time.time() * 1000)
    candles = info.candle_snapshot("SOL", "1m", now - 3_600_000, now + 60_000)
    assert candles and candles[-1]["s"] == "SOL" and candles[-1]["i"] == "1m"
    assert isinstance(info.funding_history("SOL", now - 86_400_000), list)
    assert info.post({"type": "meta"}) == info.meta()


def test_bad_info_request_is_422_with_the_exchange_text(demo):
    with pytest.raises(BadRequestError) as err:
        demo.info.post({"type": "definitelyNotAType"})
    assert err.value.status == 422 and err.value.text == DESERIALIZE
    with pytest.raises(BadRequestError) as err:
        demo.info.transport.post_json("/info", [1, 2, 3], idempotent=True)   # valid JSON, not an object
    assert err.value.text == DESERIALIZE


# ------------------------------------------------------------------------- actions
def test_order_statuses_are_typed_results_not_exceptions(demo):
    mid = demo.mid("BTC")
    ok = demo.wire("BTC", True, mid * 0.9, 0.001)
    # hlmm's wire builder refuses these; hand-edited wires show the exchange's own answers
    tiny = dict(ok, s="0.00001")                                          # ~$1: below the $10 minimum
    bad_tick = dict(ok, p=str(int(mid * 0.9)) + ".5")                     # 7 significant figures
    results = demo.ex.order([ok, tiny, bad_tick])
    assert [r.status for r in results] == ["resting", "error", "error"]
    assert results[1].error == "Order must have minimum value of $10."
    assert results[2].error.startswith("Price must be divisible by tick size.")
    cancel = demo.ex.cancel([(0, results[0].oid), (0, results[0].oid)])
    assert cancel[0].ok and not cancel[1].ok
    assert cancel[1].error == "Order was never placed, already canceled, or filled."


def test_cancel_by_cloid_modify_and_batch_modify(demo):
    mid = demo.mid("ETH")
    c1, c2 = "0x" + "1" * 31 + "a", "0x" + "1" * 31 + "b"
    placed = demo.ex.order([demo.wire("ETH", True, mid * 0.9, 0.01, cloid=c1),
                            demo.wire("ETH", True, mid * 0.89, 0.01, cloid=c2)])
    assert [r.status for r in placed] == ["resting", "resting"]
    assert [r.cloid for r in placed] == [c1, c2]
    modified = demo.ex.modify(c1, demo.wire("ETH", True, mid * 0.88, 0.02, cloid=c1))
    assert modified.ok, modified
    batch = demo.ex.batch_modify([(c1, demo.wire("ETH", True, mid * 0.87, 0.02, cloid=c1)),
                                  (placed[1].oid, demo.wire("ETH", True, mid * 0.86, 0.03, cloid=c2))])
    assert all(r.ok for r in batch), batch
    open_ = {o["cloid"]: o for o in demo.info.frontend_open_orders(demo.wallet.address) if o.get("cloid")}
    assert float(open_[c1]["sz"]) == 0.02 and float(open_[c2]["sz"]) == 0.03
    gone = demo.ex.cancel_by_cloid([(1, c1), (1, c2), (1, "0x" + "9" * 32)])
    assert [r.ok for r in gone] == [True, True, False]


def test_schedule_cancel_leverage_noop(demo):
    now = int(time.time() * 1000)
    demo.ex.schedule_cancel(now + 60_000)
    demo.ex.schedule_cancel(None)
    with pytest.raises(ActionError) as err:
        demo.ex.schedule_cancel(now + 1_000)
    assert "too early" in err.value.text
    demo.ex.update_leverage(0, True, 10)
    state = demo.info.clearinghouse_state(demo.wallet.address)
    assert isinstance(state, dict)
    demo.ex.noop()


def test_approve_agent_then_trade_as_the_agent(sim, demo):
    agent = Wallet.generate()
    demo.ex.approve_agent(agent.address, "bot")
    as_agent = Trader(sim.url, agent, Credentials(agent, account_address=demo.wallet.address))
    mid = demo.mid("BTC")
    res = as_agent.ex.order([as_agent.wire("BTC", True, mid * 0.8, 0.001)])
    assert res[0].status == "resting"
    orders = demo.info.open_orders(demo.wallet.address)
    assert res[0].oid in {o["oid"] for o in orders}
    assert as_agent.ex.cancel([(0, res[0].oid)])[0].ok
    with pytest.raises(Exception) as err:
        as_agent.ex.approve_agent(Wallet.generate().address)
    assert "master account" in str(err.value)


def test_whole_action_errors_raise_action_error_with_the_text(sim, demo):
    payload = demo.ex.signed_payload(wire.noop_action())
    assert demo.ex.post_payload(payload)["status"] == "ok"
    with pytest.raises(ActionError) as err:
        from hlmm.exchange.results import check_default
        check_default(demo.ex.post_payload(payload))                      # the same nonce again
    assert err.value.text == f"Invalid nonce: duplicate nonce {payload['nonce']}"
    stranger = Trader(sim.url, Wallet.generate())
    with pytest.raises(ActionError) as err:
        stranger.ex.noop()
    assert stranger.wallet.address.lower() in err.value.text.lower()


def test_local_url_signs_as_testnet(sim, demo):
    payload = demo.ex.signed_payload(wire.noop_action(), nonce=123)
    signer = recover_l1_signer(payload["action"], None, 123, None, False, payload["signature"])
    assert signer == demo.wallet.address
    assert not demo.ex.is_mainnet
    assert ExchangeClient(urls.MAINNET_API_URL, Credentials(demo.wallet), NonceSource()).is_mainnet


def test_rate_limit_answers_429():
    with SimProcess(seed=1, assets="BTC", ip_weight=50) as sim:
        info = InfoClient(sim.url)
        with pytest.raises(RateLimitedError) as err:
            for _ in range(10):
                info.meta()                    # weight 20 each
        assert err.value.status == 429
        assert err.value.text == "Too many requests: the IP weight limit (50 per minute) is exceeded"
    with SimProcess(seed=1, assets="BTC", http_429_next=2) as sim:
        info = InfoClient(sim.url)
        for _ in range(2):
            with pytest.raises(RateLimitedError):
                info.all_mids()
        assert "BTC" in info.all_mids()


# ------------------------------------------------------------------------- transport failures
class RawServer:
    """A loopback TCP server whose per-connection behaviour is a function (runs in a thread)."""

    def __init__(self, behaviour):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            self.behaviour(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(b":")[1])
    while len(body) < length:
        body += conn.recv(65536)
    return body


def respond(conn, status, body, content_type="text/plain", close=False):
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    if close:
        head += "Connection: close\r\n"
    conn.sendall(head.encode() + b"\r\n" + body)


def test_no_reply_is_a_timeout_with_unknown_outcome():
    def silent(conn):
        read_request(conn)
        time.sleep(2)

    with RawServer(silent) as server:
        info = InfoClient(server.url, timeout=0.3)
        with pytest.raises(RequestTimeout) as err:
            info.all_mids()
        assert err.value.outcome_unknown and "outcome unknown" in err.value.text


def test_connection_refused_is_a_connect_error_nothing_sent():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ConnectError) as err:
        InfoClient(f"http://127.0.0.1:{port}").meta()
    assert not err.value.outcome_unknown


def test_5xx_is_a_server_error_with_the_body_text():
    def broken(conn):
        read_request(conn)
        respond(conn, "503 Service Unavailable", b"upstream is restarting")

    with RawServer(broken) as server:
        with pytest.raises(ServerError) as err:
            InfoClient(server.url).meta()
        assert err.value.status == 503 and err.value.text == "upstream is restarting"


def test_connection_dropped_after_an_action_is_sent_is_unknown_not_retried():
    def hang_up(conn):
        read_request(conn)          # read the action, then vanish without a reply

    with RawServer(hang_up) as server:
        ex = ExchangeClient(server.url, Credentials(Wallet.generate()), NonceSource())
        with pytest.raises(ConnectionLost) as err:
            ex.noop()
        assert err.value.outcome_unknown
        assert server.connections == 1     # an action is never resent


def test_a_keepalive_connection_closed_by_the_server_is_reopened_before_sending():
    def one_request_then_close(conn):
        read_request(conn)
        respond(conn, "200 OK", b'{"BTC":"1.0"}', "application/json")   # keep-alive, then close anyway
        time.sleep(0.05)

    with RawServer(one_request_then_close) as server:
        transport = HttpTransport(server.url)
        for _ in range(3):
            time.sleep(0.2)           # the server has closed the idle connection by now
            assert transport.post_json("/exchange", {"action": {"type": "noop"}}, idempotent=False) == {"BTC": "1.0"}
        assert server.connections == 3


def test_keepalive_reuses_one_connection(sim):
    info = InfoClient(sim.url)
    for _ in range(5):
        info.all_mids()
    assert info.transport.requests == 5
    sock = info.transport._conn.sock
    info.all_mids()
    assert info.transport._conn.sock is sock


# ------------------------------------------------------------------------- urls
def test_urls():
    assert urls.base_url("mainnet") == "https://api.hyperliquid.xyz"
    assert urls.base_url("http://127.0.0.1:3001/") == "http://127.0.0.1:3001"
    assert urls.ws_url("https://api.hyperliquid.xyz") == "wss://api.hyperliquid.xyz/ws"
    assert urls.ws_url("testnet") == "wss://api.hyperliquid-testnet.xyz/ws"
    assert urls.ws_url("http://127.0.0.1:3001") == "ws://127.0.0.1:3001/ws"
    assert urls.ws_url("ws://127.0.0.1:9/ws") == "ws://127.0.0.1:9/ws"
    assert urls.is_mainnet("https://api.hyperliquid.xyz/")
    assert not urls.is_mainnet(urls.TESTNET_API_URL) and not urls.is_mainnet("http://localhost:3001")
    for bad in ("ftp://x", "http://", "http://host/info", "http://h:99999"):
        with pytest.raises(ValueError):
            urls.base_url(bad)


# ------------------------------------------------------------------------- response parsing
def test_result_parsing_edge_cases():
    from hlmm.exchange.errors import ProtocolError
    from hlmm.exchange.results import OrderResult, parse_cancel_statuses, parse_order_statuses, parse_single_modify

    def ok(statuses, kind="order"):
        return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}

    # TP/SL children come back as bare strings
    got = parse_order_statuses(ok([{"resting": {"oid": 1}}, "waitingForFill", "waitingForTrigger"]), 3)
    assert [r.status for r in got] == ["resting", "waitingForFill", "waitingForTrigger"]
    # pre-validation: one error for the whole batch is given to every order, marked as such
    got = parse_order_statuses(ok([{"error": "Order has invalid price."}]), 3)
    assert [(r.status, r.error, r.batch_error) for r in got] == [("error", "Order has invalid price.", True)] * 3
    with pytest.raises(ProtocolError):
        parse_order_statuses(ok([{"resting": {"oid": 1}}]), 2)
    with pytest.raises(ProtocolError):
        parse_order_statuses(ok([{"mystery": {}}]), 1)
    with pytest.raises(ProtocolError):
        parse_order_statuses({"status": "ok", "response": {"type": "default"}}, 1)
    with pytest.raises(ActionError) as err:
        parse_cancel_statuses({"status": "err", "response": "Too many cumulative requests sent"}, 1)
    assert err.value.text == "Too many cumulative requests sent"
    assert parse_single_modify({"status": "ok", "response": {"type": "default"}}) == OrderResult("success")
    assert parse_single_modify(ok([{"resting": {"oid": 9}}], "batchModify")).oid == 9
