from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class OutboxKind(StrEnum):
    subscribe_message = "subscribe_message"
    wecom_message = "wecom_message"
    robot_push = "robot_push"
    refund = "refund"
    transfer = "transfer"
    wechat_shipping_info = "wechat_shipping_info"  # 小程序发货信息录入 (upload_shipping_info)
    wechat_confirm_receive = "wechat_confirm_receive"  # 确认收货提醒 (notify_confirm_receive)
    transfer_cancel = "transfer_cancel"
    notification = "notification"  # a Notification row (services.notifications)
    wecom_poster = "wecom_poster"  # a share poster sent as an image to a WeCom member (posters.chat)
    unmatched_refund = "unmatched_refund"  # a payment with no order of ours, returned by its transaction id


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up (max attempts or a permanent error); an operator looks at these


class OutboxMessage(Model):
    """A side effect that leaves the process, written in the same transaction as its cause
    and delivered after commit (docs/ARCHITECTURE.md, State and concurrency)."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(OutboxKind, max_length=32)
    # Unique so that a retried cause never queues the same message twice.
    dedupe_key = fields.CharField(191, unique=True)
    payload = fields.JSONField()
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.pending, db_index=True)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(default="")
    next_attempt_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_message"
        # the delivery query: pending rows by due time (stays fast as sent rows pile up)
        indexes = (("status", "next_attempt_at"),)
