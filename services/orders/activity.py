"""The activity seam of order creation: one policy per ``ActivityType``.

An order is "normal" unless the caller hands ``create_order`` an ``ActivityRequest``. The
policy registered for that type (``register_policy``, from the composition root) is looked
up and called *inside the order's own transaction* at each step of the order's life:

- ``price``   before writing: the unit price per SKU (validates the request, may set ``ref``)
- ``reserve`` after the order row is inserted: take the seat / the claim / the bargain
- ``release`` unpaid order cancelled (buyer, payment timeout, group expiry): give it back
- ``on_paid`` unpaid -> paid (the payment notify, or a zero-amount order at creation)
- ``on_late_payment`` money arrived for a cancelled order (refunded automatically elsewhere)
- ``on_refunded`` a refund of the order's own money succeeded
- ``holds_fulfilment`` asked by shipping: a paid order that must wait (its group is not full)

``normal`` has no policy: its orders take today's fast path untouched (the single-statement
PostgreSQL insert of ``services.orders.create``) and none of these hooks costs it anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from huituan.core.errors import InvalidState, ValidationFailed
from huituan.models.order import ActivityType


@dataclass
class ActivityRequest:
    """What the activity service asks of order creation. ``params`` is the policy's own input
    (group id, bargain id, claim); ``ref`` is stored on the order (``activity_ref``)."""

    type: ActivityType
    params: dict[str, Any] = field(default_factory=dict)
    ref: str = ""
    pay_timeout_seconds: int | None = None
    # What the activity part of the request asks for (the group, the bargain, the item): part
    # of the Idempotency-Key's request hash, so a key reused for another group is refused.
    fingerprint: str = ""
    # Filled by reserve() for the caller (the seat, the claim ...).
    result: dict[str, Any] = field(default_factory=dict)
    # Many such orders are made at once (a flash-sale line): their reads share one query each
    # batch on PostgreSQL (``orders.context.read_in_batch``).
    batch_reads: bool = False


class ActivityPolicy:
    """Base policy: does nothing. Subclasses override what their activity needs."""

    type: ActivityType = ActivityType.normal
    # False: the activity holds its own stock (flash sale): the SKU's stock is not touched.
    takes_sku_stock: bool = True

    async def price(self, request: ActivityRequest, user_id: int, lines: dict[int, int],
                    skus: dict[int, dict[str, Any]]) -> dict[int, int]:
        """Unit price in fen per SKU id for these lines (the SKU price when not overridden)."""
        return {sid: skus[sid]["price_fen"] for sid in lines}

    async def reserve(self, conn, order: Any, request: ActivityRequest) -> None:
        return None

    async def insert_single_pg(self, conn, order: Any, item: Any, request: ActivityRequest) -> bool:
        """Optional, PostgreSQL, one SKU line, something to pay: write the order, its item and
        the reservation in ONE statement (a hot activity's lock then lives for that statement
        only) and return True, or raise. False: not offered, ``reserve`` runs in a transaction."""
        return False

    async def release(self, conn, order_id: int, ref: str, reason: str) -> None:
        return None

    async def on_paid(self, conn, order_id: int, ref: str) -> None:
        return None

    async def on_late_payment(self, conn, order_id: int, ref: str) -> None:
        return None

    async def on_refunded(self, conn, order_id: int, ref: str) -> None:
        return None

    async def holds_fulfilment(self, order_id: int, ref: str) -> bool:
        """True while a paid order must wait before it is shipped (a group not yet full)."""
        return False

    async def pays_commission(self, conn, ref: str) -> bool:
        """Whether this activity's orders earn distribution commission (its own switch; the
        per-type switch of the distribution settings applies as well)."""
        return True


_policies: dict[str, ActivityPolicy] = {}


def register_policy(policy: ActivityPolicy) -> None:
    """Called by the composition root (``huituan.wiring``); idempotent."""
    _policies[str(policy.type)] = policy


def policy_for(activity_type: str) -> ActivityPolicy | None:
    """The policy of a stored order's activity type; None for normal orders."""
    if activity_type == ActivityType.normal:
        return None
    return _policies.get(str(activity_type))


def require_policy(activity_type: str) -> ActivityPolicy:
    policy = policy_for(activity_type)
    if policy is None:
        raise ValidationFailed(f"activity_type: 不支持的活动类型 {activity_type}", field="activity_type")
    return policy


async def pays_commission(conn, activity_type: str, ref: str) -> bool:
    """The activity's own commission switch (True for normal orders)."""
    policy = policy_for(activity_type)
    return True if policy is None else await policy.pays_commission(conn, ref)


async def dispatch(hook: str, conn, order_id: int, activity_type: str, ref: str, *args: Any) -> None:
    """Call one hook of the order's policy (nothing for normal orders)."""
    policy = policy_for(activity_type)
    if policy is not None:
        await getattr(policy, hook)(conn, order_id, ref, *args)


async def on_refund_succeeded(refund_id: int, order_id: int, conn) -> None:
    """REFUND_SUCCEEDED subscriber (wired in ``huituan.wiring``)."""
    from huituan.models.order import Order

    rows = await Order.filter(id=order_id).using_db(conn).values("activity_type", "activity_ref")
    if rows and rows[0]["activity_type"] != ActivityType.normal:
        await dispatch("on_refunded", conn, order_id, rows[0]["activity_type"], rows[0]["activity_ref"])


async def fulfilment_held(order: Any) -> bool:
    """Asked before every fulfilment (paid -> shipped | ready_for_pickup, a pickup verified):
    ``order`` needs ``id``, ``activity_type`` and ``activity_ref``."""
    policy = policy_for(order.activity_type)
    return policy is not None and await policy.holds_fulfilment(order.id, order.activity_ref)


def held_error() -> InvalidState:
    """The refusal of every fulfilment path for an order its activity holds."""
    return InvalidState("拼团尚未成团，暂不能发货或提货（未成团的订单会自动退款）", code="order_waiting_for_group")
