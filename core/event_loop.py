"""The event loop the service runs on.

uvloop (libuv under asyncio's interface) serves the same aiohttp application with less CPU per
request: under the flash-sale burst's 512 connections every request waits for the ~512 before
it in the loop's turn, so CPU per request is latency. asyncio's own loop stays available
(``HUITUAN_EVENT_LOOP=asyncio``) and is what a platform without uvloop gets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A factory for a new event loop of ``kind`` (``uvloop`` or ``asyncio``)."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:  # not built for this platform (Windows): the service still runs
            log.warning("uvloop is not installed here; running on asyncio's event loop")
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    loop = loop_factory(kind)()
    asyncio.set_event_loop(loop)
    return loop


def run(coro, kind: str):
    """``asyncio.run`` on the configured loop (``huituan jobs``)."""
    with asyncio.Runner(loop_factory=loop_factory(kind)) as runner:
        return runner.run(coro)
