"""Share codes (分享码), what each code brought in (the share funnel), and the share
material library (素材库) operators fill for promoters."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class ShareTargetKind(StrEnum):
    """What a share points at; the same names are the poster kinds."""

    promoter_invite = "promoter_invite"  # target: the sharer (target_id = sharer id)
    product = "product"
    group_buy = "group_buy"
    bargain = "bargain"
    leader_store = "leader_store"


class ShareChannel(StrEnum):
    poster = "poster"
    link = "link"
    moments = "moments"  # 朋友圈 through the material library


class ShareCode(Model):
    """A short code that fits the scene of a mini-program code: one per sharer, target and channel."""

    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(16, unique=True)
    sharer_id = fields.BigIntField(db_index=True)
    target_kind = fields.CharEnumField(ShareTargetKind, max_length=16)
    target_id = fields.BigIntField()
    channel = fields.CharEnumField(ShareChannel, max_length=10)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "share_code"
        unique_together = (("sharer_id", "target_kind", "target_id", "channel"),)


class ShareEventKind(StrEnum):
    open = "open"  # the share was opened
    new_user = "new_user"  # an account was created by a login carrying the code
    bind = "bind"  # a referral binding was made through the code
    order = "order"  # a bound buyer paid (amount_fen = paid)
    refund = "refund"  # money of such an order went back (amount_fen negative)


class ShareEvent(Model):
    """One step of the share funnel, attributed to a code. Append-only, deduplicated by key."""

    id = fields.BigIntField(primary_key=True)
    share_code_id = fields.BigIntField(db_index=True)
    sharer_id = fields.BigIntField(db_index=True)
    channel = fields.CharEnumField(ShareChannel, max_length=10)
    kind = fields.CharEnumField(ShareEventKind, max_length=10)
    user_id = fields.BigIntField(null=True)
    order_id = fields.BigIntField(null=True, db_index=True)
    amount_fen = fields.BigIntField(default=0)
    # null for opens (every open counts), otherwise e.g. order:12 or refund:5
    dedupe_key = fields.CharField(64, null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "share_event"


class ShareMaterial(Model):
    """Share copy and images (素材) attached to a product or an activity by an operator."""

    id = fields.BigIntField(primary_key=True)
    product_id = fields.BigIntField(null=True, db_index=True)
    activity_kind = fields.CharField(16, default="")  # group_buy or bargain when attached to an activity
    activity_id = fields.BigIntField(null=True)
    title = fields.CharField(64, default="")
    texts = fields.JSONField(default=list)  # copy texts, {code} and {url} filled in per promoter
    images = fields.JSONField(default=list)  # image URLs
    sort = fields.IntField(default=0)
    is_active = fields.BooleanField(default=True)
    created_by = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "share_material"
