"""Givens for the activity tests: activities written through their services."""

from __future__ import annotations

import uuid
from datetime import timedelta

from huituan.core.clock import utcnow
from huituan.models.group_buy import ActivityStatus
from huituan.services.activities import bargain, flash_claims, flash_sale, group_buy
from tests.factories import make_address, make_product, make_user


async def given_group_activity(size: int = 3, price_fen: int = 1000, group_price_fen: int = 600, stock: int = 1000,
                               **kw) -> dict:
    product = await make_product(skus=[{"price_fen": price_fen, "stock": stock}])
    now = utcnow()
    data = dict(title="拼团测试", product_id=product.id, sku_prices={str(product.sku_list[0].id): group_price_fen},
                group_size=size, duration_hours=24, opener_free=False, per_user_limit=1, total_limit=0,
                virtual_fill=False, virtual_fill_percent=80, commission_enabled=True,
                starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3))
    data.update(kw)
    a = await group_buy.create_activity(data)
    a = await group_buy.set_activity_status(a["id"], ActivityStatus.active)
    a["sku_id"] = product.sku_list[0].id
    return a


async def buyer():
    user = await make_user()
    address = await make_address(user)
    return user, address


async def join(settings, activity, user, address, *, share_code=None, open_new=False, key=None):
    return await group_buy.join_group(settings, user.id, key or uuid.uuid4().hex, activity_id=activity["id"],
                                      share_code=share_code, open_new=open_new, sku_id=activity["sku_id"],
                                      delivery_mode="express", address_id=address.id)


async def given_bargain_activity(start=10000, floor=100, helpers=5, cut_min=100, cut_max=5000, stock=10, **kw) -> dict:
    product = await make_product(skus=[{"price_fen": start, "stock": 100}])
    now = utcnow()
    data = dict(title="砍价测试", product_id=product.id, sku_id=product.sku_list[0].id, start_price_fen=start,
                floor_price_fen=floor, helpers_needed=helpers, cut_min_fen=cut_min, cut_max_fen=cut_max,
                new_user_cut_fen=0, duration_hours=24, helps_per_user=3, helps_per_user_day=5,
                allow_buy_at_current=True, stock=stock, starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=3))
    data.update(kw)
    a = await bargain.create_activity(data)
    return await bargain.set_activity_status(a["id"], ActivityStatus.active)


async def given_flash_session(redis, stock=100, per_user_limit=2, flash_price_fen=99, starts_in=-60, lasts=3600,
                              active=True) -> dict:
    product = await make_product(skus=[{"price_fen": 1000, "stock": stock + 10}])
    now = utcnow()
    s = await flash_sale.create_session("秒杀测试", now + timedelta(seconds=starts_in),
                                        now + timedelta(seconds=starts_in + lasts),
                                        [{"sku_id": product.sku_list[0].id, "flash_price_fen": flash_price_fen,
                                          "stock": stock, "per_user_limit": per_user_limit}])
    if active:
        s = await flash_sale.set_session_status(redis, s["id"], ActivityStatus.active)
    return s


async def claim_as(rt, settings, session, user, address, quantity=1, key=None):
    """A flash-sale claim by ``user`` for the session's first item, express to ``address``."""
    return await flash_claims.claim(rt.redis, settings, user.id, session["id"], session["items"][0]["id"], quantity,
                                  key or uuid.uuid4().hex, delivery_mode="express", address_id=address.id)
