"""In-memory state of one sandbox (one per app): what WeChat would remember."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from huituan.core.settings import Settings


@dataclass
class SandboxState:
    settings: Settings
    # access_token -> {"kind": "mp"|"wecom", "expired": bool}
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_fetches: dict[str, int] = field(default_factory=lambda: {"mp": 0, "wecom": 0})
    # WeChat Pay
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)        # out_trade_no -> order
    prepay_index: dict[str, str] = field(default_factory=dict)             # prepay_id -> out_trade_no
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)       # out_refund_no -> refund
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)     # out_bill_no -> bill
    pay_requests: list[dict[str, Any]] = field(default_factory=list)       # every verified v3 call
    # what our service sent
    subscribe_messages: list[dict[str, Any]] = field(default_factory=list)
    wecom_messages: list[dict[str, Any]] = field(default_factory=list)
    # WeCom temporary media: media_id -> {"type", "filename", "format", "width", "height", "size",
    # "sha256", "content" (the bytes), "created_at", "expires_at"}
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    robot_pushes: list[dict[str, Any]] = field(default_factory=list)
    # 小程序发货信息管理: transaction_id -> {"uploads": [...], "confirm_receive": [...], "state": ..}
    shipping: dict[str, dict[str, Any]] = field(default_factory=dict)
    # api name ("upload_shipping_info" | "notify_confirm_receive") -> errcodes the next calls answer
    fail_next: dict[str, list[int]] = field(default_factory=dict)
    seq: int = 0
    # test controls: fail the next N sends, or hold one send (a process dies while it waits)
    failures: list[dict[str, Any]] = field(default_factory=list)  # {"api", "errcode", "left"}
    hold_after: int | None = None
    holding: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def take_failure(self, api: str) -> int | None:
        """The errcode to answer this send with, when a failure was asked for (POST /sandbox/fail-next)."""
        for rule in self.failures:
            if rule["left"] > 0 and rule["api"] in (api, "any"):
                rule["left"] -= 1
                return int(rule["errcode"])
        return None

    async def maybe_hold(self) -> bool:
        """True when this send is held (POST /sandbox/hold): it waits until released and is
        then answered with a system error without being recorded, as if it never reached
        WeChat (the sender was killed while waiting)."""
        if self.hold_after is None:
            return False
        if self.hold_after > 0:
            self.hold_after -= 1
            return False
        self.hold_after = None
        self.holding = True
        self.release.clear()
        try:
            await self.release.wait()
        finally:
            self.holding = False
        return True


SANDBOX_KEY = web.AppKey("sandbox_state", SandboxState)


def sandbox_route(app: web.Application, method: str, path: str, handler) -> None:
    """Sandbox endpoints are declared like every route (auth=sandbox) and kept out of the docs."""
    from huituan.core.web.auth import Auth
    from huituan.core.web.openapi import api

    api(app, method, path, handler, summary="微信模拟器", tag="sandbox", auth=Auth.sandbox, public=False)
