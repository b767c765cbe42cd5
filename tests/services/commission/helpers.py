"""Givens for the distribution tests, through the real orders domain: commission only ever
sees what the orders services emit.

- ``paid_order``: a product with one SKU per line at the line's unit price, ``create_order``,
  ``prepay_order`` (registers the payment with the WeChat Pay sandbox), then the sandbox pays
  and sends the signed notify to our ``/api/v1/pay/notify`` (-> ORDER_PAID).
- ``complete``: ``ship_order`` then the buyer's ``confirm_receipt`` (-> ORDER_COMPLETED).
- ``refund``: ``request_refund`` (amount computed by the server), ``approve_refund``, the outbox
  submits it to the sandbox, the sandbox sends the signed refund notify (-> REFUND_SUCCEEDED).

The sandbox helpers are called over real HTTP with the runtime's own session, so no ``client``
fixture is needed (the state machine runs in a worker thread with only ``rt``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Sequence

from huituan.core.runtime import Runtime
from huituan.models.catalog import Sku
from huituan.models.commission import DistributionSettings
from huituan.models.order import ActivityType, Order, OrderStatus, Refund, RefundStatus
from huituan.models.outbox import OutboxMessage, OutboxStatus
from huituan.models.referral import BindingStatus, ReferralBinding
from huituan.models.user import Address
from huituan.services import outbox
from huituan.services.distribution_settings import get_settings
from huituan.services.orders.create import create_order
from huituan.services.orders.lifecycle import confirm_receipt
from huituan.services.orders.payments import prepay_order
from huituan.services.orders.refunds import approve_refund, request_refund
from huituan.services.orders.shipping import ship_order
from tests.factories import make_address, make_product, make_user, prepay_id_of

OPERATOR_ID = 1  # approve_refund only records who reviewed (Refund.reviewed_by, no FK)


def now() -> datetime:
    return datetime.now(UTC)


def _id(x) -> int:
    return x.id if hasattr(x, "id") else int(x)


async def set_settings(**values: Any) -> DistributionSettings:
    await get_settings()
    await DistributionSettings.filter(id=1).update(**values)
    return await get_settings()


async def bind(user, promoter) -> None:
    await ReferralBinding.create(user_id=_id(user), promoter_id=_id(promoter),
                                 status=BindingStatus.active, bound_at=now())


async def chain(n: int = 3):
    """users u0 <- u1 <- u2 ... (u[i] bound to u[i-1])."""
    users = [await make_user() for _ in range(n)]
    for i in range(1, n):
        await bind(users[i], users[i - 1])
    return users


async def _sandbox(rt: Runtime, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Play WeChat's part through a sandbox helper (it sends the signed notify to us)."""
    async with rt.http.post(rt.settings.base_url() + "/sandbox/pay" + path, json=body or {}) as resp:
        data = await resp.json()
        assert resp.status == 200, data
    assert data.get("notify_status") == 200, data
    return data


async def _address_id(buyer_id: int) -> int:
    addr = await Address.filter(user_id=buyer_id).order_by("id").first()
    return (addr or await make_address(buyer_id)).id


async def paid_order(rt: Runtime, buyer, lines: Sequence[tuple[int, int]] | None = None, *,
                     product_id: int | None = None, activity: ActivityType = ActivityType.normal) -> Order:
    """A paid express order with lines [(line paid_fen, quantity)]; paid_fen must be a multiple
    of quantity (it becomes the SKU price). One SKU per line, on a fresh product, or added to
    ``product_id`` (e.g. a product with a ProductCommissionRule)."""
    lines = list(lines or [(10_000, 1)])
    buyer_id = _id(buyer)
    for paid, qty in lines:
        assert qty >= 1 and paid % qty == 0, f"line ({paid}, {qty}): paid_fen must be price x quantity"
    if product_id is None:
        skus = (await make_product(skus=[{"price_fen": paid // qty, "stock": qty} for paid, qty in lines])).sku_list
    else:
        skus = [await Sku.create(product_id=product_id, code=f"SKU-{product_id}-{uuid.uuid4().hex[:12]}",
                                 name=f"规格{i + 1}", price_fen=paid // qty, stock=qty)
                for i, (paid, qty) in enumerate(lines)]
    order, created = await create_order(
        rt.settings, buyer_id, uuid.uuid4().hex, delivery_mode="express", address_id=await _address_id(buyer_id),
        items=[{"sku_id": s.id, "quantity": qty} for s, (_, qty) in zip(skus, lines)])
    assert created
    by_sku = {it["sku_id"]: it for it in order["items"]}
    assert [(by_sku[s.id]["paid_fen"], by_sku[s.id]["quantity"]) for s in skus] == lines, order["items"]
    if activity != ActivityType.normal:
        # No group-buy/flash-sale order flow exists yet: tag the unpaid order as its flow will.
        assert await Order.filter(id=order["id"], status=OrderStatus.unpaid).update(activity_type=activity) == 1
    pay = await prepay_order(rt, buyer_id, order["id"])
    await _sandbox(rt, f"/{prepay_id_of(pay['payment'])}/complete")
    paid = await Order.get(id=order["id"])
    assert paid.status == OrderStatus.paid, paid.status
    return paid


async def complete(order) -> None:
    """paid -> shipped (if not yet) -> completed by the buyer's confirmation."""
    o = await Order.get(id=_id(order))
    if o.status == OrderStatus.paid:
        await ship_order(o.id, "顺丰速运", f"SF{o.id:012d}")
    await confirm_receipt(o.user_id, o.id)


async def submit_refund(rt: Runtime, order, items: Sequence[tuple[int, ...]] | None = None) -> dict:
    """A refund requested, approved and submitted to WeChat Pay (the sandbox): ``processing``,
    waiting for its notify. ``items`` [(item_id, quantity)] (or [(item_id, quantity,
    expected_amount_fen)] to check the server's proration), or the whole order when None."""
    o = await Order.get(id=_id(order))
    req = None if items is None else [{"item_id": t[0], "quantity": t[1]} for t in items]
    r = await request_refund(o.user_id, o.id, "测试退款", items=req)
    if items is not None and all(len(t) > 2 for t in items):
        assert [(x["item_id"], x["quantity"], x["amount_fen"]) for x in r["items"]] == [tuple(t) for t in items]
    await approve_refund(rt, r["id"], OPERATOR_ID, "同意")
    # approve_refund kicked the outbox: wait for the submission to the sandbox.
    await outbox.wait_idle()
    await outbox.deliver_pending(rt)
    sent = await OutboxMessage.get(dedupe_key=f"refund:{r['refund_no']}")
    assert sent.status == OutboxStatus.sent, sent.last_error
    return r


async def finish_refund(rt: Runtime, submitted: dict) -> Refund:
    """The sandbox sends the signed REFUND.SUCCESS notify to our endpoint."""
    await _sandbox(rt, f"/refunds/{submitted['refund_no']}/complete", {"status": "SUCCESS"})
    done = await Refund.get(id=submitted["id"])
    assert done.status == RefundStatus.succeeded, done.status
    return done


async def refund(rt: Runtime, order, items: Sequence[tuple[int, ...]] | None = None) -> Refund:
    """A succeeded refund: submitted, then finished by its notify."""
    return await finish_refund(rt, await submit_refund(rt, order, items))


async def fund(rt: Runtime, promoter, amount_fen: int, *, settle: bool = True) -> Order:
    """Give ``promoter`` ``amount_fen`` of commission through the real flow: a bound buyer pays
    for a product whose rule is a fixed commission of the amount, the order completes, the
    settlement job runs."""
    from huituan.models.commission import CommissionMode, ProductCommissionRule
    from huituan.services.commission.settlement import settle_commissions

    buyer = await make_user()
    await bind(buyer, promoter)
    product = await make_product(skus=[])
    await ProductCommissionRule.create(product_id=product.id, mode=CommissionMode.fixed, level1_value=amount_fen,
                                       level2_value=0)
    # Paid 4x the commission: the fixed rule stays under the order cap (30 % by default).
    order = await paid_order(rt, buyer, [(amount_fen * 4, 1)], product_id=product.id)
    if settle:
        await complete(order)
        await settle_commissions(now=now() + timedelta(days=60))
    return order
