"""Shortage and damage reports (报损): the leader reports N units of a product short or damaged
for a point day; that many units are refunded automatically through the refund flow
(services.orders.refunds: request + approve, so commission is reduced by its usual rules),
taking the orders paid last first; the report is kept for the operator."""

from __future__ import annotations

from typing import Any

from huituan.core.clock import china_date
from huituan.core.errors import Conflict, HuituanError, ValidationFailed
from huituan.core.redis import try_lock
from huituan.core.runtime import Runtime
from huituan.models.leader import PickupTicket, ShortageKind, ShortageReport
from huituan.models.order import Order, OrderItem, OrderStatus
from huituan.services.orders import refunds
from huituan.services.pickup.day import point_for_actor

REFUNDABLE_AT_POINT = (OrderStatus.paid, OrderStatus.ready_for_pickup)
MAX_UNITS = 10_000
# One report at a time per point: a second one (a double tap, the bot and the mini-program at
# once) computed from the same waiting units was stored with all its refunds failed. Longer
# than a report takes (one refund per affected order), short enough to retry at once if a
# process dies holding it.
REPORT_LOCK_MS = 30_000


async def report_shortage(rt: Runtime, user_id: int, product_id: int, quantity: int, day: str | None = None, *,
                          kind: ShortageKind = ShortageKind.shortage, note: str = "") -> dict[str, Any]:
    """Refund ``quantity`` units of ``product_id`` at the leader's point for ``day`` (default:
    every day up to today, the goods now at the point). Only units not yet picked up count;
    asking for more than that is refused and nothing changes."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_UNITS:
        raise ValidationFailed("数量应为 1 到 10000 之间的整数", field="quantity")
    point = await point_for_actor(user_id, staff_ok=False)
    async with try_lock(rt.redis, f"shortage:point:{point.id}", REPORT_LOCK_MS) as mine:
        if not mine:
            raise Conflict("该自提点的另一份报损正在处理，请稍后再试", code="shortage_in_progress")
        return await _report(rt, point, product_id, quantity, day, kind=kind, note=note)


async def _report(rt: Runtime, point, product_id: int, quantity: int, day: str | None, *,
                  kind: ShortageKind, note: str) -> dict[str, Any]:
    today = china_date().isoformat()
    days = {"day": day} if day else {"day__lte": today}
    tickets = await PickupTicket.filter(pickup_point_id=point.id, verified_at=None, **days)
    orders = {o.id: o for o in await Order.filter(id__in=[t.order_id for t in tickets] or [0],
                                                   status__in=REFUNDABLE_AT_POINT)}
    lines = [i for i in await OrderItem.filter(order_id__in=list(orders) or [0], product_id=product_id)
             if i.quantity - i.refunded_quantity > 0]
    # The orders paid last lose their units first (they would have been packed last).
    lines.sort(key=lambda i: (orders[i.order_id].paid_at or orders[i.order_id].created_at, i.id), reverse=True)
    available = sum(i.quantity - i.refunded_quantity for i in lines)
    if not lines:
        # Nothing of this product waits at the point (or no such product): the product is at fault.
        raise ValidationFailed("product_id: 该商品在自提点没有待提货的订单", field="product_id", available=0)
    if available < quantity:
        raise ValidationFailed(f"该商品在自提点待提货的只有 {available} 件，不能报损 {quantity} 件",
                               field="quantity", available=available)
    plan: dict[int, list[dict[str, int]]] = {}
    left = quantity
    for item in lines:
        if left <= 0:
            break
        take = min(left, item.quantity - item.refunded_quantity)
        plan.setdefault(item.order_id, []).append({"item_id": item.id, "quantity": take})
        left -= take
    title = lines[0].title if lines else ""
    sku_id = lines[0].sku_id if lines else None
    report = await ShortageReport.create(leader_id=point.leader_id, pickup_point_id=point.id, day=day or today,
                                         product_id=product_id, sku_id=sku_id, title=title, kind=kind,
                                         quantity=quantity, note=(note or "")[:200])
    done: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    reason = f"自提点{'报损' if kind == ShortageKind.damage else '缺货'}自动退款（{title}）"[:60]
    for order_id, items in plan.items():
        order = orders[order_id]
        try:
            # Only from a status where the goods still wait at the point: an order picked up
            # since the read above is refused here, not refunded (attacker pass, session 8).
            refund = await refunds.request_refund(order.user_id, order_id, reason, items,
                                                  only_from=REFUNDABLE_AT_POINT)
            await refunds.approve_refund(rt, refund["id"], operator_id=None, note=f"报损单 {report.id}")
        except HuituanError as err:  # another refund of the order is open: the operator handles it
            failed.append({"order_id": order_id, "order_no": order.order_no, "reason": err.message})
            continue
        for ref_item in refund.get("items") or []:
            done.append({"order_id": order_id, "order_no": order.order_no, "refund_no": refund["refund_no"],
                         "item_id": ref_item["item_id"], "quantity": ref_item["quantity"],
                         "amount_fen": ref_item["amount_fen"]})
    refunded_q = sum(d["quantity"] for d in done)
    refunded_fen = sum(d["amount_fen"] for d in done)
    await ShortageReport.filter(id=report.id).update(refunds=done + [{"failed": f} for f in failed],
                                                     refunded_quantity=refunded_q, refunded_fen=refunded_fen)
    return {"id": report.id, "pickup_point_id": point.id, "day": day or today, "product_id": product_id, "title": title,
            "kind": str(kind), "quantity": quantity, "refunded_quantity": refunded_q, "refunded_fen": refunded_fen,
            "orders": len({d["order_id"] for d in done}), "refunds": done, "failed": failed}


async def list_reports(*, leader_id: int | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    qs = ShortageReport.all()
    if leader_id is not None:
        qs = qs.filter(leader_id=leader_id)
    total = await qs.count()
    rows = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [{"id": r.id, "leader_id": r.leader_id, "pickup_point_id": r.pickup_point_id, "day": r.day,
                       "product_id": r.product_id, "title": r.title, "kind": str(r.kind), "quantity": r.quantity,
                       "refunded_quantity": r.refunded_quantity, "refunded_fen": r.refunded_fen,
                       "refunds": r.refunds, "note": r.note, "created_at": r.created_at} for r in rows],
            "total": total, "page": page, "page_size": page_size}
