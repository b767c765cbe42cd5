"""In-process domain events: how one domain reacts to another without importing it.

The emitter calls ``await emit(EVENT, **payload)`` *inside its transaction* (pass ``conn``)
so subscribers' writes commit or roll back with the cause. Subscribers are plain functions;
the composition root (``huituan.wiring``) subscribes them with ``subscribe(EVENT, fn)``.

Events (payload keys):
- ORDER_PAID: order_id, conn
- ORDER_COMPLETED: order_id, conn           (receipt confirmed, picked up, or auto-confirmed)
- ORDER_CANCELLED: order_id, conn           (before payment)
- REFUND_SUCCEEDED: refund_id, order_id, conn  (order money is back with the buyer; not emitted
  for automatic refunds of late or duplicate payments, which the order never counted)
- USER_LOGGED_IN: user_id, scene, is_new, conn  (scene: the share code the client kept)
- WALLET_IN_DEBT: user_id, debt_fen, conn   (a ledger change booked debt on the user's wallet)
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Awaitable, Callable

ORDER_PAID = "order_paid"
ORDER_COMPLETED = "order_completed"
ORDER_CANCELLED = "order_cancelled"
REFUND_SUCCEEDED = "refund_succeeded"
USER_LOGGED_IN = "user_logged_in"
WALLET_IN_DEBT = "wallet_in_debt"

Subscriber = Callable[..., Awaitable[Any]]
EVENTS = (ORDER_PAID, ORDER_COMPLETED, ORDER_CANCELLED, REFUND_SUCCEEDED, USER_LOGGED_IN, WALLET_IN_DEBT)
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


def subscribe(event: str, fn: Subscriber) -> None:
    """Idempotent: subscribing the same function twice keeps one subscription."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if fn not in _subscribers[event]:
        _subscribers[event].append(fn)


def subscribers(event: str) -> list[Subscriber]:
    return list(_subscribers.get(event, ()))


async def emit(event: str, **payload: Any) -> None:
    for fn in list(_subscribers.get(event, ())):
        await fn(**payload)
