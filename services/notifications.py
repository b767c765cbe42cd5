"""Subscribe messages to buyers (订阅消息) when their order moves: shipped, ready for pickup,
refund finished. Queued in the outbox inside the transaction that moves the order, delivered
after commit; a template id left empty in the settings means that message is not sent.

The template's field names are fixed here and documented in the settings table: create the
templates in the mini-program console with these keywords.

- order shipped:          character_string1 订单号, thing2 商品, thing3 快递公司, character_string4 快递单号
- order ready for pickup: character_string1 订单号, thing2 商品, thing3 提货点, thing4 温馨提示
- refund result:          character_string1 订单号, amount2 退款金额, phrase3 退款状态, thing4 备注
"""

from __future__ import annotations

import logging

from huituan.core.money import yuan
from huituan.core.runtime import get_runtime
from huituan.models.order import Order, OrderItem
from huituan.models.outbox import OutboxKind
from huituan.models.user import User
from huituan.services import outbox

log = logging.getLogger("huituan.notifications")

ORDER_PAGE = "pages/order/detail?id={order_id}"

# Sandbox: placeholder template ids so a demo shows the messages in GET /sandbox/outbox.
SANDBOX_TEMPLATES = {
    "order_shipped": "sandbox-tpl-order-shipped",
    "order_ready_for_pickup": "sandbox-tpl-order-ready",
    "refund_result": "sandbox-tpl-refund-result",
}


def _thing(text: str, limit: int = 20) -> str:
    """WeChat's `thing` keyword takes at most 20 characters."""
    text = (text or "").strip() or "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def template_id(name: str) -> str:
    try:
        settings = get_runtime().settings
    except RuntimeError:  # CLI commands without a running service send nothing
        return ""
    configured = getattr(settings, f"wechat_template_{name}", "")
    if configured:
        return configured
    return SANDBOX_TEMPLATES[name] if settings.sandbox else ""


async def _queue(name: str, order: Order, data: dict[str, str], conn) -> bool:
    tid = template_id(name)
    if not tid:
        return False
    openid = await User.filter(id=order.user_id).using_db(conn).values_list("openid", flat=True)
    if not openid:
        return False
    await outbox.enqueue(OutboxKind.subscribe_message, f"subscribe:{name}:{order.id}:{data.get('_key', '')}", {
        "openid": openid[0], "template_id": tid, "page": ORDER_PAGE.format(order_id=order.id),
        "data": {k: v for k, v in data.items() if not k.startswith("_")},
    }, conn=conn)
    return True


async def _first_title(order_id: int, conn) -> str:
    items = await OrderItem.filter(order_id=order_id).using_db(conn).order_by("id").values_list("title", flat=True)
    if not items:
        return "-"
    return items[0] if len(items) == 1 else f"{items[0]} 等{len(items)}件"


async def order_shipped(order_id: int, conn) -> bool:
    order = await Order.get(id=order_id).using_db(conn)
    return await _queue("order_shipped", order, {
        "character_string1": order.order_no,
        "thing2": _thing(await _first_title(order.id, conn)),
        "thing3": _thing(order.express_company),
        "character_string4": order.express_no[:32] or "-",
    }, conn)


async def order_ready_for_pickup(order_id: int, conn) -> bool:
    from huituan.models.leader import PickupPoint

    order = await Order.get(id=order_id).using_db(conn)
    names = await PickupPoint.filter(id=order.pickup_point_id or 0).using_db(conn).values_list("name", flat=True)
    return await _queue("order_ready_for_pickup", order, {
        "character_string1": order.order_no,
        "thing2": _thing(await _first_title(order.id, conn)),
        "thing3": _thing(names[0] if names else "自提点"),
        "thing4": "商品已到自提点，请凭提货码及时提货",
    }, conn)


async def refund_result(order_id: int, refund_no: str, amount_fen: int, succeeded: bool, conn) -> bool:
    order = await Order.get(id=order_id).using_db(conn)
    return await _queue("refund_result", order, {
        "_key": refund_no,
        "character_string1": order.order_no,
        "amount2": f"{yuan(amount_fen)}元",
        "phrase3": "退款成功" if succeeded else "退款失败",
        "thing4": "款项将原路退回" if succeeded else "请联系客服处理",
    }, conn)


def kick() -> None:
    """Deliver after commit (the outbox job retries if this process cannot)."""
    try:
        outbox.kick(get_runtime())
    except Exception as exc:  # the runtime is missing in CLI use; the job delivers later
        log.debug("outbox kick skipped: %s", exc)
