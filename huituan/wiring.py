"""Service wiring: which domain reacts to which event, and who delivers each outbox kind.

Called by the composition root before anything runs (``create_app``, the CLI commands that
touch the database, the jobs-only process). Plain calls, no import side effects: a kind or an
event whose line is missing here is visibly missing (``tests/test_wiring.py`` checks that every
outbox kind has a handler).
"""

from __future__ import annotations

from huituan.models.outbox import OutboxKind
from huituan.posters import chat as poster_chat
from huituan.services import events, outbox, pickup_points, product_sales, withdrawals
from huituan.services.activities import bargain, flash_sale, group_buy
from huituan.services.commission import events as commission_events
from huituan.services.notifications import delivery as notification_delivery
from huituan.services.orders import activity, refunds, unmatched_payments, wechat_shipping
from huituan.services.pickup import pushes as pickup_pushes
from huituan.services.pickup import tickets as pickup_tickets
from huituan.services.referrals import events as referral_events
from huituan.services.sharing import codes as sharing_codes
from huituan.services.sharing import funnel as sharing_funnel

_wired = False


def wire_services() -> None:
    """Once per process: every later call is a no-op (tests build many apps, the CLI wires
    before each command), so the wiring is what the first call made it."""
    global _wired
    if _wired:
        return
    _wired = True
    events.subscribe(events.ORDER_PAID, commission_events.on_paid)
    events.subscribe(events.ORDER_COMPLETED, commission_events.on_completed)
    events.subscribe(events.REFUND_SUCCEEDED, commission_events.on_refunded)
    events.subscribe(events.USER_LOGGED_IN, referral_events.on_user_logged_in)
    events.subscribe(events.ORDER_PAID, product_sales.on_paid)
    events.subscribe(events.REFUND_SUCCEEDED, product_sales.on_refunded)
    events.subscribe(events.ORDER_COMPLETED, wechat_shipping.on_completed)
    events.subscribe(events.WALLET_IN_DEBT, withdrawals.on_wallet_in_debt)
    # Share codes: a login carrying one counts a new user and binds; paid and refunded orders of
    # buyers bound through a code count for it (after the commission subscribers above).
    events.subscribe(events.USER_LOGGED_IN, sharing_codes.on_user_logged_in)
    events.subscribe(events.ORDER_PAID, sharing_funnel.on_order_paid)
    events.subscribe(events.REFUND_SUCCEEDED, sharing_funnel.on_refunded)
    events.subscribe(events.ORDER_PAID, pickup_tickets.on_paid)
    events.subscribe(events.USER_LOGGED_IN, pickup_points.on_user_logged_in)
    events.subscribe(events.REFUND_SUCCEEDED, activity.on_refund_succeeded)

    # The activity seam of order creation: one policy per activity type.
    activity.register_policy(group_buy.GroupBuyPolicy())
    activity.register_policy(bargain.BargainPolicy())
    activity.register_policy(flash_sale.FlashSalePolicy())

    for kind, handler in outbox.BUILTIN_HANDLERS.items():
        outbox.register_handler(kind, handler)
    outbox.register_handler(OutboxKind.refund, refunds.deliver_refund)
    outbox.register_handler(OutboxKind.unmatched_refund, unmatched_payments.deliver_refund,
                            on_failed=unmatched_payments.on_delivery_failed)
    outbox.register_handler(OutboxKind.transfer, withdrawals.deliver_transfer)
    outbox.register_handler(OutboxKind.wechat_shipping_info, wechat_shipping.deliver_shipping_info)
    outbox.register_handler(OutboxKind.wechat_confirm_receive, wechat_shipping.deliver_confirm_receive)
    outbox.register_handler(OutboxKind.transfer_cancel, withdrawals.deliver_transfer_cancel)
    # A leader's group robot (key in the payload), rate-limited per robot.
    outbox.register_handler(OutboxKind.robot_push, pickup_pushes.deliver_robot_push)
    outbox.register_handler(OutboxKind.notification, notification_delivery.deliver,
                            on_failed=notification_delivery.on_failed)
    # A share poster as an image in WeCom chat (the bot's 开团 and 海报): render, upload, send.
    outbox.register_handler(OutboxKind.wecom_poster, poster_chat.deliver_wecom_poster)
