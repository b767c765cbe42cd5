"""Fulfilment by the platform: paid -> shipped (express, with tracking) and paid ->
ready_for_pickup (pickup orders); operators' versions return the order detail. Both queue the
WeChat shipping-info upload (services.orders.wechat_shipping) in the same transaction."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from huituan.core.clock import utcnow
from huituan.core.errors import InvalidState, NotFound, ValidationFailed
from huituan.models.order import DeliveryMode, Order, OrderStatus, order_status_label
from huituan.services import notifications
from huituan.services.orders import activity, wechat_shipping
from huituan.services.orders.admin_queries import get_order_detail
from huituan.services.orders.queries import load_order_dict


async def ship_order(order_id: int, express_company: str, express_no: str) -> dict[str, Any]:
    """paid -> shipped (express orders), with the tracking number."""
    if not express_company or not express_company.strip():
        raise ValidationFailed("express_company: 请填写快递公司", field="express_company")
    if not express_no or not express_no.strip():
        raise ValidationFailed("express_no: 请填写快递单号", field="express_no")
    order = await Order.get_or_none(id=order_id)
    if order is None:
        raise NotFound("订单不存在", code="order_not_found", field="order_id")
    if order.delivery_mode != DeliveryMode.express:
        raise InvalidState("自提订单不能发快递", code="order_not_express")
    if await activity.fulfilment_held(order):
        raise activity.held_error()
    async with in_transaction() as conn:
        moved = await Order.filter(id=order_id, status=OrderStatus.paid).using_db(conn).update(
            status=OrderStatus.shipped, shipped_at=utcnow(), express_company=express_company.strip()[:32],
            express_no=express_no.strip()[:64])
        if moved != 1:
            raise InvalidState(f"订单当前状态（{order_status_label(order.status)}）不能发货", code="order_not_shippable",
                               status=str(order.status))
        queued = await notifications.order_shipped(order_id, conn)
        queued = await wechat_shipping.enqueue_shipping_info(order_id, conn) or queued
    if queued:
        notifications.kick()
    return await load_order_dict(await Order.get(id=order_id))


async def mark_ready_for_pickup(order_id: int) -> bool:
    """paid -> ready_for_pickup (pickup orders; the leader announced arrival).
    Returns False if the order was not paid (idempotent for batch announcements)."""
    order = await Order.get_or_none(id=order_id)
    if order is not None and await activity.fulfilment_held(order):
        return False
    async with in_transaction() as conn:
        moved = await Order.filter(id=order_id, status=OrderStatus.paid, delivery_mode=DeliveryMode.pickup).using_db(
            conn).update(status=OrderStatus.ready_for_pickup, ready_at=utcnow())
        queued = moved == 1 and await notifications.order_ready_for_pickup(order_id, conn)
        queued = moved == 1 and await wechat_shipping.enqueue_shipping_info(order_id, conn) or queued
    if queued:
        notifications.kick()
    return moved == 1


async def ship(order_id: int, express_company: str, express_no: str) -> dict[str, Any]:
    """The operator ships: paid -> shipped; returns the order detail."""
    await ship_order(order_id, express_company, express_no)
    return await get_order_detail(order_id)


async def mark_ready(order_id: int) -> dict[str, Any]:
    """The operator marks a pickup order ready: paid -> ready_for_pickup; returns the detail."""
    if not await mark_ready_for_pickup(order_id):
        detail = await get_order_detail(order_id)  # NotFound when there is no such order
        if detail["delivery_mode"] != "pickup":
            raise InvalidState("快递订单不能标记为待自提", code="order_not_pickup")
        if await activity.fulfilment_held(await Order.get(id=order_id)):
            raise activity.held_error()
        raise InvalidState(f"订单当前状态（{order_status_label(detail['status'])}）不能标记为待自提", code="order_not_ready",
                           status=detail["status"])
    return await get_order_detail(order_id)
