"""A stand-in for *our* notify endpoint where the test needs to see exactly what WeChat sent:
a second loopback server that records requests. The sandbox POSTs to it over real HTTP."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer


class NotifySink:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=self.status)


@pytest.fixture
async def notify_sink():
    sink = NotifySink()
    app = web.Application()
    app.router.add_post("/notify", sink.handle)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    sink.url = str(srv.make_url("/notify"))
    yield sink
    await srv.close()
