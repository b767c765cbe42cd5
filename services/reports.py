"""Operator reports: an order looked up by number, the China day's figures, recent job runs.
Read-only; they return plain data and each edge (bot, admin API) formats it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise.functions import Count, Sum

from huituan.core.clock import china_date, china_day_bounds
from huituan.core.errors import NotFound, ValidationFailed
from huituan.core.inbound import text_problem
from huituan.models.ops import JobRun
from huituan.models.order import Order, OrderItem, OrderStatus, Refund, RefundStatus
from huituan.models.user import Operator


@dataclass
class OrderItemLine:
    title: str
    sku_name: str
    quantity: int
    unit_price_fen: int
    paid_fen: int
    refunded_quantity: int


@dataclass
class OrderSummary:
    order_no: str
    status: str
    delivery_mode: str
    goods_fen: int
    discount_fen: int
    shipping_fen: int
    payable_fen: int
    paid_fen: int
    refunded_fen: int
    created_at: datetime
    paid_at: datetime | None
    items: list[OrderItemLine] = field(default_factory=list)


@dataclass
class DaySummary:
    day: str  # YYYY-MM-DD, China time
    orders_created: int
    orders_paid: int
    paid_fen: int
    pending_refunds: int
    pending_refund_fen: int


async def find_operator_by_wecom_userid(wecom_userid: str) -> Operator | None:
    """The active operator bound to this WeCom user id, or None."""
    if not wecom_userid:
        return None
    return await Operator.filter(wecom_userid=wecom_userid, is_active=True).first()


async def order_summary(order_no: str) -> OrderSummary:
    order_no = order_no.strip()
    if not order_no or len(order_no) > 32 or text_problem(order_no) is not None:
        raise ValidationFailed("订单号格式不正确", field="order_no")
    order = await Order.filter(order_no=order_no).first()
    if order is None:
        raise NotFound(f"没有找到订单 {order_no}", code="order_not_found")
    items = await OrderItem.filter(order_id=order.id).order_by("id")
    return OrderSummary(
        order_no=order.order_no, status=str(order.status), delivery_mode=str(order.delivery_mode),
        goods_fen=order.goods_fen, discount_fen=order.discount_fen, shipping_fen=order.shipping_fen,
        payable_fen=order.payable_fen, paid_fen=order.paid_fen, refunded_fen=order.refunded_fen,
        created_at=order.created_at, paid_at=order.paid_at,
        items=[OrderItemLine(i.title, i.sku_name, i.quantity, i.unit_price_fen, i.paid_fen, i.refunded_quantity)
               for i in items],
    )


def _today(now: datetime | None) -> tuple[str, datetime, datetime]:
    # "Today" for people in the business is the China calendar day.
    start, end = china_day_bounds(now)
    return china_date(now).isoformat(), start, end


async def day_summary(now: datetime | None = None) -> DaySummary:
    """Orders created today, orders paid today and their amount, refunds waiting (any day)."""
    day, start, end = _today(now)
    created = await Order.filter(created_at__gte=start, created_at__lt=end).count()
    paid = (
        await Order.filter(paid_at__gte=start, paid_at__lt=end)
        .annotate(n=Count("id"), total=Sum("paid_fen"))
        .values("n", "total")
    )
    pending = (
        await Refund.filter(status__in=[RefundStatus.requested, RefundStatus.processing])
        .annotate(n=Count("id"), total=Sum("amount_fen"))
        .values("n", "total")
    )
    return DaySummary(
        day=day,
        orders_created=created,
        orders_paid=int((paid[0]["n"] if paid else 0) or 0),
        paid_fen=int((paid[0]["total"] if paid else 0) or 0),
        pending_refunds=int((pending[0]["n"] if pending else 0) or 0),
        pending_refund_fen=int((pending[0]["total"] if pending else 0) or 0),
    )


async def recent_job_runs(limit: int = 10) -> list[JobRun]:
    return await JobRun.all().order_by("-started_at", "-id").limit(max(1, min(limit, 50)))


__all__ = [
    "OrderStatus", "OrderSummary", "DaySummary", "find_operator_by_wecom_userid", "order_summary",
    "day_summary", "recent_job_runs",
]
