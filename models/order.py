from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class OrderStatus(StrEnum):
    """See docs/STATE_MACHINES.md for the diagram and who moves each edge."""

    unpaid = "unpaid"
    paid = "paid"
    shipped = "shipped"
    ready_for_pickup = "ready_for_pickup"
    completed = "completed"
    cancelled = "cancelled"
    refunding = "refunding"
    refunded = "refunded"
    partly_refunded = "partly_refunded"


ORDER_STATUS_LABELS = {
    "unpaid": "待付款", "paid": "已付款", "shipped": "已发货", "ready_for_pickup": "待自提", "completed": "已完成",
    "cancelled": "已取消", "refunding": "退款中", "refunded": "已退款", "partly_refunded": "部分退款",
}


def order_status_label(status) -> str:
    """The Chinese name users and operators see (messages, bot replies)."""
    return ORDER_STATUS_LABELS.get(str(status), str(status))


class DeliveryMode(StrEnum):
    express = "express"
    pickup = "pickup"


class ActivityType(StrEnum):
    normal = "normal"
    group_buy = "group_buy"
    bargain = "bargain"
    flash_sale = "flash_sale"


class Order(Model):
    id = fields.BigIntField(primary_key=True)
    order_no = fields.CharField(32, unique=True)
    user = fields.ForeignKeyField("models.User", related_name="orders", on_delete=fields.RESTRICT)
    # Same (user, key) returns the same order: the client retries safely.
    idempotency_key = fields.CharField(64)
    # Hash of the request that used the key: the same key with another request is refused.
    request_hash = fields.CharField(64, default="")
    status = fields.CharEnumField(OrderStatus, max_length=20, default=OrderStatus.unpaid, db_index=True)
    status_before_refund = fields.CharField(20, default="")
    delivery_mode = fields.CharEnumField(DeliveryMode, max_length=10, default=DeliveryMode.express)
    address = fields.JSONField(null=True)  # snapshot at order time
    pickup_point_id = fields.BigIntField(null=True)
    activity_type = fields.CharEnumField(ActivityType, max_length=16, default=ActivityType.normal)
    activity_ref = fields.CharField(64, default="")
    goods_fen = fields.IntField()
    discount_fen = fields.IntField(default=0)
    shipping_fen = fields.IntField(default=0)
    payable_fen = fields.IntField()
    paid_fen = fields.IntField(default=0)
    refunded_fen = fields.IntField(default=0)
    remark = fields.CharField(200, default="")
    prepay_id = fields.CharField(64, null=True)
    transaction_id = fields.CharField(64, null=True, unique=True)
    pay_deadline = fields.DatetimeField()
    paid_at = fields.DatetimeField(null=True)
    shipped_at = fields.DatetimeField(null=True)
    ready_at = fields.DatetimeField(null=True, description="arrived at the pickup point")
    completed_at = fields.DatetimeField(null=True, db_index=True)
    cancelled_at = fields.DatetimeField(null=True)
    cancel_reason = fields.CharField(64, default="")
    express_company = fields.CharField(32, default="")
    express_no = fields.CharField(64, default="")
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "order"
        unique_together = (("user", "idempotency_key"),)
        indexes = (("status", "pay_deadline"),)


class OrderItem(Model):
    id = fields.BigIntField(primary_key=True)
    order = fields.ForeignKeyField("models.Order", related_name="items", on_delete=fields.CASCADE)
    product_id = fields.BigIntField()
    sku_id = fields.BigIntField()
    title = fields.CharField(100)
    sku_name = fields.CharField(100, default="")
    image = fields.CharField(512, default="")
    unit_price_fen = fields.IntField()
    quantity = fields.IntField()
    # What the buyer actually paid for this line after discounts, without shipping:
    # the commission base and the refund ceiling of the line.
    paid_fen = fields.IntField()
    refunded_quantity = fields.IntField(default=0)
    refunded_fen = fields.IntField(default=0)

    class Meta:
        table = "order_item"


class PaymentStatus(StrEnum):
    succeeded = "succeeded"  # the order moved unpaid -> paid
    amount_mismatch = "amount_mismatch"  # recorded, order not marked paid: refunded automatically
    late = "late"  # for a cancelled order, or a second payment of a paid one: refunded automatically


class Payment(Model):
    """One verified WeChat Pay payment notify, keyed by transaction id (WeChat retries)."""

    id = fields.BigIntField(primary_key=True)
    order = fields.ForeignKeyField("models.Order", related_name="payments", on_delete=fields.RESTRICT)
    transaction_id = fields.CharField(64, unique=True)
    amount_fen = fields.IntField()
    status = fields.CharEnumField(PaymentStatus, max_length=20)
    payer_openid = fields.CharField(128, default="")  # as long as a notify may carry (parse_payment_resource)
    notify_payload = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payment"


class UnmatchedPaymentStatus(StrEnum):
    open = "open"  # money received, no order of ours: an operator must act
    refunding = "refunding"  # an operator asked for it back: a refund by its transaction id is on its way
    refunded = "refunded"  # WeChat Pay says the money is back with the payer
    resolved = "resolved"  # an operator settled it by hand (matched to an order, refunded elsewhere)


class UnmatchedPayment(Model):
    """A verified WeChat Pay payment naming no order of ours, kept for an operator.

    With no order there is nothing to hang an automatic refund on: it is recorded once per
    transaction id and listed in the admin API until an operator resolves it."""

    id = fields.BigIntField(primary_key=True)
    transaction_id = fields.CharField(64, unique=True)
    out_trade_no = fields.CharField(64, db_index=True)
    amount_fen = fields.IntField()
    payer_openid = fields.CharField(128, default="")
    notify_payload = fields.JSONField(default=dict)
    status = fields.CharEnumField(UnmatchedPaymentStatus, max_length=16, default=UnmatchedPaymentStatus.open,
                                  db_index=True)
    resolved_by = fields.BigIntField(null=True)  # the operator who resolved it or asked for the refund
    resolution_note = fields.CharField(200, default="")
    # The refund by transaction id: one number per attempt (UP<id>R<attempt>), so a refund
    # WeChat closed can be asked again and a retried delivery never refunds twice.
    refund_attempts = fields.IntField(default=0)
    refund_no = fields.CharField(32, null=True, unique=True)
    wechat_refund_id = fields.CharField(64, null=True)
    refund_failure = fields.CharField(200, default="")  # why the last attempt did not return the money
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved_at = fields.DatetimeField(null=True)  # resolved, or the money back (refunded)
    refund_requested_at = fields.DatetimeField(null=True)

    class Meta:
        table = "unmatched_payment"


class RefundStatus(StrEnum):
    requested = "requested"  # buyer asked; an operator reviews
    processing = "processing"  # submitted to WeChat Pay; the refund notify finishes it
    succeeded = "succeeded"
    failed = "failed"
    rejected = "rejected"


REFUND_STATUS_LABELS = {"requested": "待审核", "processing": "退款处理中", "succeeded": "退款成功",
                        "failed": "退款失败", "rejected": "已驳回"}


def refund_status_label(status) -> str:
    return REFUND_STATUS_LABELS.get(str(status), str(status))


class Refund(Model):
    id = fields.BigIntField(primary_key=True)
    refund_no = fields.CharField(32, unique=True)
    order = fields.ForeignKeyField("models.Order", related_name="refunds", on_delete=fields.RESTRICT)
    user_id = fields.BigIntField(db_index=True)
    status = fields.CharEnumField(RefundStatus, max_length=16, default=RefundStatus.requested, db_index=True)
    amount_fen = fields.IntField()
    # [{"item_id": .., "quantity": .., "amount_fen": ..}]; empty list = the whole order
    items = fields.JSONField(default=list)
    whole_order = fields.BooleanField(default=False)
    reason = fields.CharField(200, default="")
    # Why: an automatic refund (a payment no paid order keeps) skips review.
    automatic = fields.BooleanField(default=False)
    # The payment an automatic refund gives back. UNIQUE, so each payment is returned once.
    payment_transaction_id = fields.CharField(64, null=True, unique=True)
    wechat_refund_id = fields.CharField(64, null=True)
    reviewed_by = fields.BigIntField(null=True)
    review_note = fields.CharField(200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refund"
