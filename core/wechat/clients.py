"""The WeChat-facing clients a process holds. (Spine placeholder: the WeChat layer fills it.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class WeChatClients:
    miniprogram: Any = None
    pay: Any = None
    wecom: Any = None


def create_wechat_clients(settings, http, redis) -> WeChatClients:
    return WeChatClients()
