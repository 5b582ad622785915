"""QA: WsClient against a server sending replies of the wrong shape (real sockets)."""
from __future__ import annotations

import orjson
from aiohttp import web

from hlmm.exchange.ws import WsClient

from aioapp import AppThread


def bool_id_app():
    """Answers each post twice: first with ``"id": true`` (JSON's true is no post id, even though
    Python's True == 1), then with the post's real id."""
    async def ws_handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            req = orjson.loads(msg.data)
            if req.get("method") != "post":
                continue
            for post_id, mids in ((True, {"BOGUS": "1"}), (req["id"], {"BTC": "100000.0"})):
                await ws.send_str(orjson.dumps({"channel": "post", "data": {"id": post_id, "response": {
                    "type": "info", "payload": {"type": "allMids", "data": mids}}}}).decode())
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    return app


def test_a_post_reply_whose_id_is_a_boolean_answers_no_post():
    with AppThread(bool_id_app()) as server:
        ws = WsClient(server.url)
        ws.connect()
        post = ws.post_info({"type": "allMids"})
        assert post.id == 1
        assert ws.run_until(lambda: post.done, 5)
        assert post.state == "ok"
        assert post.response == {"BTC": "100000.0"}
        assert ws.stats.malformed == 1
        ws.close()
