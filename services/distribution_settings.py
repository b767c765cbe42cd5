"""The single-row distribution settings (bind mode, promote mode, rates, freeze, withdrawals)."""

from __future__ import annotations

import time
from typing import Any

from tortoise import connections

from huituan.core.errors import ValidationFailed
from huituan.models.commission import BindMode, DistributionSettings, PromoteMode

SETTINGS_ID = 1

EDITABLE = (
    "enabled", "bind_mode", "new_user_window_seconds", "binding_valid_days", "promote_mode",
    "promote_spend_threshold_fen", "level1_bp", "level2_bp", "activity_normal", "activity_group_buy",
    "activity_bargain", "activity_flash_sale", "self_purchase_rebate", "freeze_days", "withdraw_min_fen",
    "withdraw_fee_bp", "withdraw_daily_count", "withdraw_daily_amount_fen", "withdraw_real_name_threshold_fen",
    "withdraw_auto_approve_fen", "commission_cap_bp", "leader_commission_bp",
)


async def get_settings(conn=None) -> DistributionSettings:
    """The current row, read from the database (and kept for get_settings_cached)."""
    q = DistributionSettings.get_or_none(id=SETTINGS_ID)
    row = await (q.using_db(conn) if conn else q)
    if row is None:
        # The first readers can race to create the row. ON CONFLICT DO NOTHING rather than
        # catching IntegrityError: on PostgreSQL the error would abort the caller's transaction.
        await DistributionSettings.bulk_create([DistributionSettings(id=SETTINGS_ID)], ignore_conflicts=True,
                                               using_db=conn)
        q = DistributionSettings.get(id=SETTINGS_ID)
        row = await (q.using_db(conn) if conn else q)
    _remember(row)
    return row


# In-process copy for the hot paths (the payment notify's commission snapshot reads the rules
# on every paid order). Staleness: a change made through update_settings in this process is
# seen at once; a change made by another process (or by writing the row directly) is seen by
# get_settings_cached within CACHE_SECONDS at most. Keyed by the ORM connection object, so a
# re-initialised ORM (a new app, a CLI command, a test) never sees another database's rules.
CACHE_SECONDS = 2.0
_cached: tuple[object, float, DistributionSettings] | None = None


def _orm_client() -> object:
    """The default connection client, not the transaction wrapper the context may hold."""
    c = connections.get("default")
    for _ in range(8):
        parent = getattr(c, "_parent", None)
        if parent is None or parent is c:
            break
        c = parent
    return c


def _remember(row: DistributionSettings) -> None:
    global _cached
    _cached = (_orm_client(), time.monotonic() + CACHE_SECONDS, row)


def invalidate_cache() -> None:
    global _cached
    _cached = None


async def get_settings_cached(conn=None) -> DistributionSettings:
    """The settings, at most CACHE_SECONDS stale (see above); read-only: do not modify."""
    c = _cached
    if c is not None and time.monotonic() < c[1] and c[0] is _orm_client():
        return c[2]
    return await get_settings(conn)


def settings_to_dict(s: DistributionSettings) -> dict[str, Any]:
    out = {name: getattr(s, name) for name in EDITABLE}
    out["bind_mode"] = str(s.bind_mode)
    out["promote_mode"] = str(s.promote_mode)
    return out


def _validate(values: dict[str, Any]) -> None:
    for name in ("level1_bp", "level2_bp", "withdraw_fee_bp", "commission_cap_bp", "leader_commission_bp"):
        if name in values and not 0 <= values[name] <= 10_000:
            raise ValidationFailed(f"{name}: 比例须在 0 到 10000 个基点之间", field=name)
    for name in ("new_user_window_seconds", "binding_valid_days", "promote_spend_threshold_fen", "freeze_days",
                 "withdraw_min_fen", "withdraw_daily_count", "withdraw_daily_amount_fen",
                 "withdraw_real_name_threshold_fen", "withdraw_auto_approve_fen"):
        if name in values and values[name] < 0:
            raise ValidationFailed(f"{name}: 不能为负数", field=name)
    if "bind_mode" in values:
        BindMode(values["bind_mode"])
    if "promote_mode" in values:
        PromoteMode(values["promote_mode"])
    if values.get("withdraw_min_fen", 1) < 1:
        raise ValidationFailed("withdraw_min_fen: 最低提现金额至少 1 分", field="withdraw_min_fen")


async def update_settings(values: dict[str, Any], operator_id: int | None = None) -> dict[str, Any]:
    """Patch the settings; unknown keys are refused; the combined level rates stay <= 100 %."""
    unknown = [k for k in values if k not in EDITABLE]
    if unknown:
        raise ValidationFailed(f"{unknown[0]}: 不支持的设置项", field=unknown[0])
    _validate(values)
    await get_settings()  # the row exists before the guarded update below
    # level1 + level2 <= 100 % holds at the moment of the write: a rate not being changed is
    # compared in the UPDATE itself (never read first), so two concurrent edits of one rate
    # each cannot both pass and together exceed it.
    l1, l2 = values.get("level1_bp"), values.get("level2_bp")
    guard: dict[str, Any] = {}
    if l1 is not None and l2 is not None:
        if l1 + l2 > 10_000:
            raise ValidationFailed("level2_bp: 一级与二级佣金比例之和不能超过 100%", field="level2_bp")
    elif l1 is not None:
        guard["level2_bp__lte"] = 10_000 - l1
    elif l2 is not None:
        guard["level1_bp__lte"] = 10_000 - l2
    if values:
        invalidate_cache()
        moved = await DistributionSettings.filter(id=SETTINGS_ID, **guard).update(updated_by=operator_id, **values)
        invalidate_cache()
        if not moved:
            raise ValidationFailed("level2_bp: 一级与二级佣金比例之和不能超过 100%",
                                   field="level1_bp" if l1 is not None else "level2_bp")
    return settings_to_dict(await get_settings())
