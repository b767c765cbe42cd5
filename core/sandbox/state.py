"""In-memory state of one sandbox (one per app): what WeChat would remember."""

from __future__ import annotations

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
    robot_pushes: list[dict[str, Any]] = field(default_factory=list)
    # 小程序发货信息管理: transaction_id -> {"uploads": [...], "confirm_receive": [...], "state": ..}
    shipping: dict[str, dict[str, Any]] = field(default_factory=dict)
    # api name ("upload_shipping_info" | "notify_confirm_receive") -> errcodes the next calls answer
    fail_next: dict[str, list[int]] = field(default_factory=dict)
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


SANDBOX_KEY = web.AppKey("sandbox_state", SandboxState)


def sandbox_route(app: web.Application, method: str, path: str, handler) -> None:
    """Sandbox endpoints are declared like every route (auth=sandbox) and kept out of the docs."""
    from huituan.core.web.auth import Auth
    from huituan.core.web.openapi import api

    api(app, method, path, handler, summary="微信模拟器", tag="sandbox", auth=Auth.sandbox, public=False)
