"""Referral binding: who brought whom (see docs/COMMISSION.md)."""

from huituan.services.referrals.binding import (  # noqa: F401
    BindResult,
    bind_from_scene,
    bind_user,
    expire_bindings,
    list_audit,
    manual_bind,
    parse_scene,
    referrer_of,
)
