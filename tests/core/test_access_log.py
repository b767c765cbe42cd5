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
