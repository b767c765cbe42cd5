from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class User(Model):
    """A WeChat mini-program user (consumer, and possibly promoter or leader)."""

    id = fields.BigIntField(primary_key=True)
    openid = fields.CharField(64, unique=True)
    unionid = fields.CharField(64, null=True)
    # session_key decrypts wx.getUserProfile payloads; never leaves the server.
    session_key = fields.CharField(64, default="")
    nickname = fields.CharField(64, default="")
    avatar_url = fields.CharField(512, default="")
    phone = fields.CharField(20, null=True)
    # The share scene seen at the very first login, kept for referral binding.
    first_scene = fields.CharField(128, default="")
    is_disabled = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "user"


class Address(Model):
    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="addresses", on_delete=fields.CASCADE)
    receiver = fields.CharField(32)
    phone = fields.CharField(20)
    province = fields.CharField(32)
    city = fields.CharField(32)
    district = fields.CharField(32, default="")
    detail = fields.CharField(200)
    is_default = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "address"


class Operator(Model):
    """A platform operator (运营): uses the admin API and the WeCom bot."""

    id = fields.BigIntField(primary_key=True)
    username = fields.CharField(64, unique=True)
    display_name = fields.CharField(64, default="")
    password_hash = fields.CharField(256)
    wecom_userid = fields.CharField(64, null=True, unique=True)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "operator"
