"""Promoter levels only go up, and the level rates never sum above 100 %, under real
concurrency (PostgreSQL, separate connections; each race is shown to have raced)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from tortoise.transactions import in_transaction

from huituan.core.errors import ValidationFailed
from huituan.models.commission import DistributionSettings
from huituan.models.promoter import Promoter, PromoterLevel, PromoterStatus
from huituan.services.distribution_settings import get_settings, update_settings
from huituan.services.orders.payments import handle_pay_notify
from huituan.services.promoters import evaluate_level, save_level
from tests.factories import make_user
from tests.races import wait_until_blocked
from tests.services.orders.helpers import given_order, pay_resource


@pytest.mark.postgres
async def test_a_stale_evaluation_never_lowers_the_level_another_just_raised(rt, settings):
    silver = await PromoterLevel.create(name="银牌", rank=1, level1_bp=1000, level2_bp=500)
    gold = await PromoterLevel.create(name="金牌", rank=2, level1_bp=2000, level2_bp=500, min_own_spend_fen=5_000)
    user = await make_user()
    await Promoter.create(user_id=user.id, status=PromoterStatus.approved)
    _, _, order = await given_order(settings, user=user)  # 1,000 fen of own spend
    assert await handle_pay_notify(rt, pay_resource(order)) == "paid"

    outside = contextvars.copy_context()
    async with in_transaction() as other:
        # One completion is evaluating (it holds the promoter row) ...
        await other.execute_query("SELECT id FROM promoter WHERE user_id = $1 FOR UPDATE", [user.id])
        # ... while another evaluates on the figures committed so far: silver, then waits.
        stale = asyncio.create_task(evaluate_level(user.id), context=outside)
        await wait_until_blocked(stale)
        # The first one sees more spend (its own order) and raises the promoter to gold.
        await other.execute_query('UPDATE "order" SET paid_fen = 6000 WHERE id = $1', [order["id"]])
        assert await evaluate_level(user.id, other) == gold.id
    assert await stale == gold.id  # lost its compare-and-set, re-read, and kept gold
    assert (await Promoter.get(user_id=user.id)).level_id == gold.id
    assert silver.rank < gold.rank


@pytest.mark.postgres
async def test_two_concurrent_evaluations_of_a_new_promoter_both_succeed(rt, settings):
    lvl = await PromoterLevel.create(name="银牌", rank=1, level1_bp=1000, level2_bp=500)
    for _ in range(10):
        user = await make_user()

        async def run(u=user):
            async with in_transaction() as conn:
                return await evaluate_level(u.id, conn)

        assert await asyncio.gather(*[run() for _ in range(4)]) == [lvl.id] * 4
        assert await Promoter.filter(user_id=user.id).count() == 1


@pytest.mark.postgres
async def test_concurrent_edits_of_one_rate_each_cannot_exceed_100_percent_together(rt):
    await get_settings()  # 1,000 + 500 bp
    outside = contextvars.copy_context()
    async with in_transaction() as other:
        await other.execute_query("SELECT id FROM distribution_settings WHERE id = 1 FOR UPDATE")
        a = asyncio.create_task(update_settings({"level1_bp": 6_000}), context=outside.copy())
        b = asyncio.create_task(update_settings({"level2_bp": 6_000}), context=outside.copy())
        await wait_until_blocked(a, waiters=2)  # both checked against 1,000 + 500 and wait to write
    results = await asyncio.gather(a, b, return_exceptions=True)
    assert sum(isinstance(r, ValidationFailed) for r in results) == 1, results
    row = await DistributionSettings.get(id=1)
    assert row.level1_bp + row.level2_bp <= 10_000


@pytest.mark.postgres
async def test_concurrent_edits_of_a_level_cannot_exceed_100_percent_together(rt):
    lvl = await PromoterLevel.create(name="银牌", rank=1, level1_bp=1000, level2_bp=500)
    outside = contextvars.copy_context()
    async with in_transaction() as other:
        await other.execute_query("SELECT id FROM promoter_level WHERE id = $1 FOR UPDATE", [lvl.id])
        a = asyncio.create_task(save_level({"level1_bp": 6_000}, lvl.id), context=outside.copy())
        b = asyncio.create_task(save_level({"level2_bp": 6_000}, lvl.id), context=outside.copy())
        await wait_until_blocked(a, waiters=2)
    results = await asyncio.gather(a, b, return_exceptions=True)
    assert sum(isinstance(r, ValidationFailed) for r in results) == 1, results
    row = await PromoterLevel.get(id=lvl.id)
    assert row.level1_bp + row.level2_bp <= 10_000


async def test_a_partial_rate_edit_is_checked_against_the_stored_other_rate(rt):
    await get_settings()
    with pytest.raises(ValidationFailed):
        await update_settings({"level1_bp": 9_600})  # + 500 stored
    assert (await update_settings({"level1_bp": 9_500}))["level1_bp"] == 9_500
    lvl = await PromoterLevel.create(name="银牌", rank=1, level1_bp=1000, level2_bp=500)
    with pytest.raises(ValidationFailed):
        await save_level({"level2_bp": 9_001}, lvl.id)
    assert (await save_level({"level2_bp": 9_000}, lvl.id))["level2_bp"] == 9_000
