"""A group-buy activity's own "commission on/off" switch, through the real order flow."""

from __future__ import annotations

from huituan.models.commission import CommissionRecord
from tests.factories import make_user, pay_order, token_for
from tests.services.activities.helpers import buyer, given_group_activity, join
from tests.services.commission.helpers import bind


async def _paid_group(client, settings, activity, promoter) -> list[int]:
    (u1, ad1), (u2, ad2) = await buyer(), await buyer()
    for u in (u1, u2):
        await bind(u, promoter)
    first, _ = await join(settings, activity, u1, ad1, open_new=True)
    second, _ = await join(settings, activity, u2, ad2, share_code=first["group"]["share_code"])
    for u, joined in ((u1, first), (u2, second)):
        await pay_order(client, token_for(u), joined["order"]["id"])
    return [first["order"]["id"], second["order"]["id"]]


async def test_commission_follows_the_activity_switch(client, settings):
    promoter = await make_user()
    paying = await given_group_activity(size=2, commission_enabled=True)
    silent = await given_group_activity(size=2, commission_enabled=False)
    # given buyers bound to one promoter in both activities
    with_commission = await _paid_group(client, settings, paying, promoter)
    without = await _paid_group(client, settings, silent, promoter)
    # then only the activity with commission on pays its promoter
    assert await CommissionRecord.filter(order_id__in=with_commission).count() == 2
    assert await CommissionRecord.filter(order_id__in=without).count() == 0
