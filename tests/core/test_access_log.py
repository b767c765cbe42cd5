"""One access-log line per request (request id, route, status, latency), off by a setting."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer

from huituan.app import create_app


async def _get(settings, path: str):
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=settings.port))
    await client.start_server()
    try:
        resp = await client.get(path, headers={"X-Request-Id": "rid-access-1"})
        return resp.status
    finally:
        await client.close()


@pytest.mark.parametrize("enabled", [True, False])
async def test_access_log_line_per_request_unless_turned_off(make_settings, caplog, enabled):
    caplog.set_level(logging.INFO, logger="huituan.access")
    assert await _get(make_settings(access_log=enabled), "/api/v1/products/999999") == 404
    lines = [r for r in caplog.records if r.name == "huituan.access"]
    if not enabled:
        assert lines == []
        return
    assert len(lines) == 1
    fields = lines[0].fields
    assert fields["request_id"] == "rid-access-1"
    assert fields["route"] == "/api/v1/products/{id}" and fields["status"] == 404
    assert fields["method"] == "GET" and fields["ms"] >= 0


def test_not_installed_when_its_lines_would_not_be_written(make_settings, caplog):
    from huituan.core.web.access_log import access_log_middleware

    caplog.set_level(logging.WARNING, logger="huituan.access")  # HUITUAN_LOG_LEVEL=WARNING
    assert access_log_middleware not in create_app(make_settings(access_log=True)).middlewares
    caplog.set_level(logging.INFO, logger="huituan.access")
    assert access_log_middleware in create_app(make_settings(access_log=True)).middlewares


async def test_a_request_the_http_parser_refuses_is_one_warning_line_not_an_error_traceback(client, caplog):
    """Attacker pass, session 7: a control character in any header (no login needed) made
    aiohttp log ERROR with a traceback before any handler of ours ran."""
    import asyncio
    import logging

    from huituan.core.logging import BadRequestLine

    server_log = logging.getLogger("aiohttp.server")
    line_filter = BadRequestLine()
    server_log.addFilter(line_filter)
    try:
        with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
            for header in (b"Idempotency-Key: ab\x01cd", b"X-Thing: a\x7fb", b"X-Thing: a\x00b"):
                reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
                writer.write(b"POST /api/v1/group-buys/open HTTP/1.1\r\nHost: x\r\n" + header +
                             b"\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(4096), 5)
                writer.close()
                assert answer.split(b" ", 2)[1] == b"400", answer[:80]
    finally:
        server_log.removeFilter(line_filter)
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(records) == 3 and all(r.levelno == logging.WARNING and r.exc_info is None for r in records), [
        (r.levelname, r.getMessage()) for r in records]
    assert all(r.getMessage().startswith("bad HTTP request from 127.0.0.1") for r in records)
