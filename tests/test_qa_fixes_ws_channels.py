"""QA fix: WsClient.stats.by_channel stays bounded whatever channel names a server sends.

Hyperliquid's channels and the channels a caller listens on are counted per name; anything else
(a broken or hostile server's junk) is counted in the one ``OTHER_CHANNELS`` bucket.
"""
from __future__ import annotations

import orjson
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm.exchange.ws import KNOWN_CHANNELS, OTHER_CHANNELS, WsClient

from aioapp import AppThread

N_JUNK = 2_000


def test_random_channel_names_share_one_bucket_and_known_ones_keep_their_names():
    client = WsClient("http://127.0.0.1:1")      # never connected: frames are fed as recorded bytes
    seen = []
    client.on("myFeed", seen.append)             # a caller's own channel counts under its name
    for i in range(N_JUNK):
        client.dispatch_frame(b'{"channel":"junk%d","data":1}' % i)
    client.dispatch_frame(b'{"channel":"trades","data":[]}')
    client.dispatch_frame(b'{"channel":"l2Book","data":{}}')
    client.dispatch_frame(b'{"channel":"myFeed","data":7}')
    client.dispatch_frame(b'{"data":1,"channel":"junkInAnotherKeyOrder"}')
    assert client.stats.by_channel == {OTHER_CHANNELS: N_JUNK + 1, b"trades": 1, b"l2Book": 1, b"myFeed": 1}
    assert client.stats.unhandled == N_JUNK + 3
    assert seen == [7]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=30), min_size=1, max_size=200))
def test_by_channel_keys_are_only_known_names_and_the_bucket(tails):
    client = WsClient("http://127.0.0.1:1")
    for tail in tails:
        client.dispatch_frame(b'{"channel":"' + tail)
    assert set(client.stats.by_channel) <= KNOWN_CHANNELS | {OTHER_CHANNELS}


def junk_app():
    """Sends N_JUNK frames with made-up channel names, then one allMids frame."""
    async def ws_handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("Websocket connection established.")
        for i in range(N_JUNK):
            await ws.send_str('{"channel":"x%d","data":null}' % i)
        await ws.send_str(orjson.dumps({"channel": "allMids", "data": {"mids": {"BTC": "1"}}}).decode())
        async for _msg in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    return app


def test_a_server_sending_junk_channels_over_a_real_socket_grows_one_counter():
    with AppThread(junk_app()) as server:
        ws = WsClient(server.url)
        mids = []
        ws.on("allMids", mids.append)
        ws.connect()
        try:
            assert ws.run_until(lambda: mids, 10)
        finally:
            ws.close()
    assert mids == [{"mids": {"BTC": "1"}}]
    assert ws.stats.by_channel == {OTHER_CHANNELS: N_JUNK, b"allMids": 1}
