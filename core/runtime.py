"""What a process holds while it runs: settings, Redis, the HTTP session and WeChat clients.

Created once per process by ``start_runtime`` and shared by the HTTP edge, the bot and the
jobs. Services that reach the outside world take the runtime as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import redis.asyncio as aioredis

from huituan.core.settings import Settings

if TYPE_CHECKING:
    from huituan.core.wechat.clients import WeChatClients


@dataclass
class Runtime:
    settings: Settings
    redis: aioredis.Redis
    http: aiohttp.ClientSession
    wechat: "WeChatClients"
    node: str = "node"
    extras: dict[str, Any] = field(default_factory=dict)


_current: Runtime | None = None


def set_runtime(rt: Runtime | None) -> None:
    global _current
    _current = rt


def get_runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("runtime not started")
    return _current
