"""The serving loop (HUITUAN_EVENT_LOOP): uvloop by default, asyncio's own on request."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from huituan.core import event_loop
from huituan.core.settings import EventLoop, Settings


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_is_the_default_and_runs_coroutines():
    assert Settings().event_loop is EventLoop.uvloop
    assert event_loop.run(_loop_module(), "uvloop").startswith("uvloop")


def test_asyncio_on_request():
    assert event_loop.run(_loop_module(), "asyncio").startswith("asyncio")


def test_new_event_loop_is_current_for_the_caller():
    loop = event_loop.new_event_loop("uvloop")
    try:
        assert asyncio.get_event_loop_policy().get_event_loop() is loop
        assert loop.run_until_complete(_loop_module()).startswith("uvloop")
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def test_an_unknown_loop_is_refused_naming_the_setting(monkeypatch):
    monkeypatch.setenv("HUITUAN_EVENT_LOOP", "tokio")
    with pytest.raises(ValidationError) as err:
        Settings()
    assert "event_loop" in str(err.value)
