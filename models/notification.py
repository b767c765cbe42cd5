"""Notifications: one row per event and recipient (the record an operator reads), the
subscribe-message quota a user granted per template, and each user's reminder preferences."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Channel(StrEnum):
    subscribe = "subscribe"  # mini-program subscribe message to a user (service notices only)
    wecom_app = "wecom_app"  # WeCom application message to a linked leader or operator
    robot = "robot"  # WeCom group robot


class NotificationStatus(StrEnum):
    pending = "pending"  # queued in the outbox, maybe postponed to the end of quiet hours
    sent = "sent"
    skipped = "skipped"  # never queued: no quota, turned off, no template, no recipient
    failed = "failed"  # WeChat refused for good (error_code) or retries ran out


class Notification(Model):
    """One message to one recipient about one event, with why it was skipped or failed."""

    id = fields.BigIntField(primary_key=True)
    # event + business key + recipient: nobody gets the same reminder twice
    dedupe_key = fields.CharField(191, unique=True)
    claim = fields.CharField(32, description="random token of the insert that won the dedupe key")
    event = fields.CharField(48, db_index=True)
    channel = fields.CharEnumField(Channel, max_length=16)
    user_id = fields.BigIntField(null=True, db_index=True)
    operator_id = fields.BigIntField(null=True)
    touser = fields.CharField(64, default="", description="openid or WeCom userid")
    template_id = fields.CharField(64, default="", db_index=True)
    values = fields.JSONField(default=dict)
    page = fields.CharField(256, default="")
    urgent = fields.BooleanField(default=False)
    status = fields.CharEnumField(NotificationStatus, max_length=16, default=NotificationStatus.pending, db_index=True)
    reason = fields.CharField(64, default="", description="why skipped or failed (no_quota, disabled, errcode)")
    error_code = fields.IntField(null=True)
    error = fields.TextField(default="")
    due_at = fields.DatetimeField(null=True, description="not before this (end of quiet hours)")
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        indexes = (("status", "created_at"),)


class SubscriptionQuota(Model):
    """How many one-time subscribe messages of a template a user has allowed and not yet used."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField()
    template_id = fields.CharField(64)
    remaining = fields.IntField(default=0)
    granted_total = fields.IntField(default=0)
    used_total = fields.IntField(default=0)
    banned = fields.BooleanField(default=False, description="the user chose never to be asked again")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "subscription_quota"
        unique_together = (("user_id", "template_id"),)


class NotificationPreference(Model):
    """A reminder kind a user turned off or back on."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField()
    event = fields.CharField(48)
    enabled = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "notification_preference"
        unique_together = (("user_id", "event"),)


class ReminderRequest(Model):
    """A user pressed remind me on something that starts later (a flash-sale session)."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField()
    event = fields.CharField(48, description="the notification event to send, e.g. flash_sale_starting")
    ref_id = fields.BigIntField(description="what it is about, e.g. the flash-sale session id")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reminder_request"
        unique_together = (("user_id", "event", "ref_id"),)
        indexes = (("event", "ref_id"),)
