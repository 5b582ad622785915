"""Prometheus metrics: series from a status snapshot, served by the loop over a real socket."""
from __future__ import annotations

import socket
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hlmm.engine.loop import EventLoop
from hlmm.engine.status import AssetStatus, EngineStatus, PnL
from hlmm.metrics import Metrics, MetricsServer


def _status(fills_bid=3, fills_ask=2, gates=("stale_book",), reconnects=1) -> EngineStatus:
    btc = AssetStatus("BTC", mid=100_000.5, market_spread_bps=0.1, best_bid=99_900.0, best_ask=100_100.0,
                      levels_bid=3, levels_ask=2, position=0.0012, notional_usd=120.0,
                      pnl=PnL(realized=1.5, unrealized=-0.25, fees=0.1, funding=0.0, spread_capture=2.0,
                              adverse_selection=0.4),
                      fills=fills_bid + fills_ask, fills_bid=fills_bid, fills_ask=fills_ask, volume_usd=500.0,
                      regime="high", gates=list(gates), markouts_bps={"1s": 0.8, "10s": 1.6})
    return EngineStatus(venue="sim", account="0xabc", assets=[btc], ws_connected=True, reconnects=reconnects,
                        rate_headroom=0.93, ip_weight_used=42, address_requests_used=700,
                        address_requests_cap=10_000, account_value=10_001.25, open_orders=5,
                        model_scores={"fill_probability": {"samples": 40, "brier": 0.12, "information_ratio": 1.3}})


def _samples(metrics: Metrics) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(metrics.exposition().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_update_sets_every_series_from_the_snapshot():
    m = Metrics()
    m.update(_status())
    s = _samples(m)
    assert s[("hlmm_position", (("coin", "BTC"),))] == pytest.approx(0.0012)
    assert s[("hlmm_pnl_usd", (("coin", "BTC"), ("component", "total")))] == pytest.approx(1.5 - 0.25 - 0.1)
    assert s[("hlmm_pnl_usd", (("coin", "BTC"), ("component", "spread_capture")))] == 2.0
    assert s[("hlmm_spread_bps", (("coin", "BTC"), ("kind", "quoted")))] == pytest.approx(200 / 100_000.5 * 1e4)
    assert s[("hlmm_fills_total", (("coin", "BTC"), ("side", "bid")))] == 3
    assert s[("hlmm_markout_adverse_selection_bps", (("coin", "BTC"), ("horizon", "10s")))] == 1.6
    assert s[("hlmm_gate_active", (("coin", "BTC"), ("gate", "stale_book")))] == 1
    assert s[("hlmm_volatility_regime", (("coin", "BTC"),))] == 2
    assert s[("hlmm_rate_headroom_fraction", ())] == 0.93
    assert s[("hlmm_model_score", (("model", "fill_probability"), ("score", "brier")))] == 0.12
    assert s[("hlmm_ws_reconnects_total", ())] == 1


def test_counters_advance_by_the_new_part_only_and_gates_clear():
    m = Metrics()
    m.update(_status())
    m.update(_status(fills_bid=5, gates=(), reconnects=1))
    s = _samples(m)
    assert s[("hlmm_fills_total", (("coin", "BTC"), ("side", "bid")))] == 5
    assert s[("hlmm_ws_reconnects_total", ())] == 1
    assert s[("hlmm_gate_active", (("coin", "BTC"), ("gate", "stale_book")))] == 0


def test_latencies_are_histograms():
    m = Metrics()
    m.observe_loop(0.0003)
    m.observe_cycle("BTC", 0.002)
    m.observe_tick_to_order("BTC", 0.004)
    s = _samples(m)
    assert s[("hlmm_loop_busy_seconds_count", ())] == 1
    assert s[("hlmm_quote_cycle_seconds_sum", (("coin", "BTC"),))] == pytest.approx(0.002)
    assert s[("hlmm_tick_to_order_seconds_count", (("coin", "BTC"),))] == 1


def test_server_answers_get_metrics_from_the_loop_without_threads():
    m = Metrics()
    m.update(_status())
    loop = EventLoop()
    server = MetricsServer(m, "127.0.0.1", 0)
    loop.add_source(server)
    try:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(b"GET /metr")              # a request in two pieces
        loop.run_once(0.2)
        client.sendall(b"ics HTTP/1.1\r\nHost: x\r\n\r\n")
        client.settimeout(0.05)
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            loop.run_once(0.05)
            try:
                chunk = client.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            data += chunk
        client.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 OK")
        assert b'hlmm_position{coin="BTC"} 0.0012' in body
        assert server.served == 1
    finally:
        server.close()
        loop.close()


@pytest.mark.parametrize("request_line,status", [(b"GET /nope HTTP/1.1", b"404"), (b"POST /metrics HTTP/1.1", b"405")])
def test_server_refuses_other_paths_and_methods(request_line, status):
    loop = EventLoop()
    server = MetricsServer(Metrics(), "127.0.0.1", 0)
    loop.add_source(server)
    try:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(request_line + b"\r\n\r\n")
        client.settimeout(0.05)
        data = b""
        deadline = time.monotonic() + 5
        while not data.endswith(b"\n") and time.monotonic() < deadline:
            loop.run_once(0.05)
            try:
                data += client.recv(65536)
            except socket.timeout:
                pass
        client.close()
        assert data.split(b" ")[1] == status
    finally:
        server.close()
        loop.close()


def test_a_silent_client_is_dropped_after_the_timeout():
    now = [0.0]
    loop = EventLoop()
    server = MetricsServer(Metrics(), "127.0.0.1", 0, client_timeout_s=1.0, clock=lambda: now[0])
    loop.add_source(server)
    try:
        client = socket.create_connection(("127.0.0.1", server.port))
        deadline = time.monotonic() + 5
        while not server._clients and time.monotonic() < deadline:
            server.poll()
        assert len(server._clients) == 1
        now[0] = 2.0
        server.poll()
        assert not server._clients
        client.settimeout(2)
        assert client.recv(10) == b""          # closed without an answer
        client.close()
    finally:
        server.close()
        loop.close()


def test_port_in_use_raises_oserror():
    server = MetricsServer(Metrics(), "127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            MetricsServer(Metrics(), "127.0.0.1", server.port)
    finally:
        server.close()
