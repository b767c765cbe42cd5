"""小程序发货信息管理: WeChat keeps a mini-program payment's funds frozen, and prompts the buyer
itself, until the merchant uploads how the order was delivered.

- ``enqueue_shipping_info(order_id, conn)``: in the transaction that moves an order paid ->
  shipped (express: company code and tracking number) or paid -> ready_for_pickup (self-pickup,
  logistics_type 4), queue kind ``wechat_shipping_info`` (dedupe ``wechat-shipping:<order id>``).
- ``on_completed`` (ORDER_COMPLETED, subscribed in huituan.wiring): an order whose shipping was
  uploaded queues ``wechat_confirm_receive`` (确认收货提醒) when it is confirmed or picked up.
- ``deliver_shipping_info`` / ``deliver_confirm_receive``: the outbox handlers. Temporary errors
  (system busy, the payment not yet known to WeChat's order system, network) are retried with
  the outbox's backoff; content WeChat refuses fails at once (``PermanentDeliveryError``); an
  upload WeChat already has counts as done.
- ``shipping_state(order_id)``: the two rows' state for operators (admin order detail).
"""

from __future__ import annotations

import logging
from typing import Any

from huituan.core.clock import as_utc, china_now
from huituan.core.runtime import Runtime
from huituan.core.wechat.base import WeChatApiError
from huituan.models.order import DeliveryMode, Order, OrderItem
from huituan.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from huituan.models.user import User
from huituan.services import outbox

log = logging.getLogger("huituan.orders.wechat_shipping")

LOGISTICS_EXPRESS = 1  # 实体物流配送
LOGISTICS_SELF_PICKUP = 4  # 用户自提
UNIFIED_DELIVERY = 1  # 统一发货 (everything in one go)

# WeChat's delivery company codes (运力 id) for the names operators type.
EXPRESS_CODES = {
    "顺丰": "SF", "顺丰速运": "SF", "圆通": "YTO", "圆通速递": "YTO", "中通": "ZTO", "中通快递": "ZTO",
    "申通": "STO", "申通快递": "STO", "韵达": "YUNDA", "韵达快递": "YUNDA", "京东": "JD", "京东物流": "JD",
    "京东快递": "JD", "邮政": "EMS", "EMS": "EMS", "中国邮政": "EMS", "极兔": "JTSD", "极兔速递": "JTSD",
    "德邦": "DBL", "德邦快递": "DBL",
}
DONE_ERRCODES = frozenset({10060002, 10060003})  # already shipped / correction already used
PERMANENT_ERRCODES = frozenset({10060004, 10060005, 10060006, 10060014, 10060025, 10060026})


def express_code(company: str) -> str:
    name = (company or "").strip()
    return EXPRESS_CODES.get(name) or EXPRESS_CODES.get(name.upper()) or name.upper()


def _mask_phone(phone: str) -> str:
    phone = (phone or "").strip()
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else phone


async def _item_desc(order_id: int, conn) -> str:
    rows = await OrderItem.filter(order_id=order_id).using_db(conn).order_by("id").values_list("title", "quantity")
    text = "；".join(f"{title}×{quantity}" for title, quantity in rows) or "商品"
    return text if len(text) <= 120 else text[:119] + "…"


def shipping_key(order_id: int) -> str:
    return f"wechat-shipping:{order_id}"


def confirm_key(order_id: int) -> str:
    return f"wechat-confirm-receive:{order_id}"


async def enqueue_shipping_info(order_id: int, conn) -> bool:
    """Queue the upload for an order that just shipped or became ready for pickup (in the
    caller's transaction). False when the order has no WeChat payment to attach it to."""
    order = await Order.get(id=order_id).using_db(conn)
    if not order.transaction_id:
        return False
    openid = await User.filter(id=order.user_id).using_db(conn).values_list("openid", flat=True)
    item = {"item_desc": await _item_desc(order.id, conn)}
    if order.delivery_mode == DeliveryMode.express:
        logistics_type = LOGISTICS_EXPRESS
        item.update(tracking_no=order.express_no, express_company=express_code(order.express_company))
        phone = (order.address or {}).get("phone") or ""
        if phone:
            item["contact"] = {"receiver_contact": _mask_phone(phone)}
    else:
        logistics_type = LOGISTICS_SELF_PICKUP
    await outbox.enqueue(OutboxKind.wechat_shipping_info, shipping_key(order.id), {
        "order_id": order.id, "order_no": order.order_no,
        "body": {
            "order_key": {"order_number_type": 2, "transaction_id": order.transaction_id},
            "logistics_type": logistics_type, "delivery_mode": UNIFIED_DELIVERY,
            "shipping_list": [item], "payer": {"openid": openid[0] if openid else ""},
        },
    }, conn=conn)
    return True


async def on_completed(order_id: int, conn, **_) -> None:
    """Confirmed, picked up or auto-confirmed: remind WeChat (only for uploaded orders)."""
    if not await OutboxMessage.filter(dedupe_key=shipping_key(order_id)).using_db(conn).exists():
        return
    order = await Order.get(id=order_id).using_db(conn)
    received = as_utc(order.completed_at) if order.completed_at else None
    await outbox.enqueue(OutboxKind.wechat_confirm_receive, confirm_key(order_id), {
        "order_id": order_id, "transaction_id": order.transaction_id,
        "received_time": int(received.timestamp()) if received else None,
    }, conn=conn)


def _classify(exc: WeChatApiError, what: str) -> None:
    if exc.errcode in PERMANENT_ERRCODES:
        raise outbox.PermanentDeliveryError(
            f"微信拒绝了{what}（errcode {exc.errcode}：{exc.details.get('errmsg', '')}）") from exc
    raise exc


async def deliver_shipping_info(rt: Runtime, payload: dict[str, Any]) -> None:
    body = dict(payload["body"], upload_time=china_now().isoformat(timespec="milliseconds"))
    try:
        await rt.wechat.miniprogram.upload_shipping_info(body)
    except WeChatApiError as exc:
        if exc.errcode in DONE_ERRCODES:  # an earlier attempt reached WeChat
            log.info("shipping info of order %s already with WeChat (errcode %s)", payload["order_id"], exc.errcode)
            return
        _classify(exc, "发货信息")


async def deliver_confirm_receive(rt: Runtime, payload: dict[str, Any]) -> None:
    upload = await OutboxMessage.get_or_none(dedupe_key=shipping_key(payload["order_id"]))
    if upload is not None and upload.status == OutboxStatus.failed:
        raise outbox.PermanentDeliveryError("发货信息上传失败，无法提醒确认收货")
    if upload is not None and upload.status != OutboxStatus.sent:
        raise RuntimeError("发货信息尚未上传，稍后重试")  # retried after the upload lands
    received = payload.get("received_time") or int(china_now().timestamp())
    try:
        await rt.wechat.miniprogram.notify_confirm_receive(payload["transaction_id"], received)
    except WeChatApiError as exc:
        _classify(exc, "确认收货提醒")


def _row_state(row: OutboxMessage | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"status": str(row.status), "attempts": row.attempts, "last_error": row.last_error,
            "next_attempt_at": row.next_attempt_at, "sent_at": row.sent_at}


async def shipping_state(order_id: int) -> dict[str, Any]:
    """What WeChat has been told about this order's delivery (None: nothing queued)."""
    rows = {r.dedupe_key: r for r in await OutboxMessage.filter(
        dedupe_key__in=[shipping_key(order_id), confirm_key(order_id)])}
    return {"upload": _row_state(rows.get(shipping_key(order_id))),
            "confirm_receive": _row_state(rows.get(confirm_key(order_id)))}
