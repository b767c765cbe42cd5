"""Order creation: prices from the SKUs, stock taken by guarded update, idempotent by key."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from core.errors import NotFound, OutOfStock, ValidationFailed
from core.money import split_by_weights
from core.settings import Settings
from models.catalog import Sku
from models.order import DeliveryMode, Order, OrderItem, OrderStatus
from services.addresses import address_snapshot, get_own_address
from services.orders.common import load_order_dict, new_number, order_to_dict, utcnow
from services.users import get_active_user

log = logging.getLogger("huituan.orders")


def _merge_lines(items: list[dict[str, Any]], settings: Settings) -> dict[int, int]:
    """Duplicate SKU lines merge; the merged quantity obeys the same ceiling."""
    if not items:
        raise ValidationFailed("items: 至少需要 1 件商品", field="items")
    if len(items) > settings.order_max_items:
        raise ValidationFailed(f"items: 最多 {settings.order_max_items} 种商品", field="items")
    merged: dict[int, int] = {}
    for idx, line in enumerate(items):
        q = int(line["quantity"])
        if q < 1:
            raise ValidationFailed(f"items.{idx}.quantity: 数量必须大于 0", field=f"items.{idx}.quantity")
        if q > settings.order_max_quantity:
            raise ValidationFailed(f"items.{idx}.quantity: 数量不能超过 {settings.order_max_quantity}",
                                   field=f"items.{idx}.quantity")
        merged[int(line["sku_id"])] = merged.get(int(line["sku_id"]), 0) + q
    for sku_id, q in merged.items():
        if q > settings.order_max_quantity:
            idx = next(i for i, line in enumerate(items) if int(line["sku_id"]) == sku_id)
            raise ValidationFailed(f"items.{idx}.quantity: 同一规格合计不能超过 {settings.order_max_quantity}",
                                   field=f"items.{idx}.quantity", sku_id=sku_id)
    return merged


async def find_order_by_key(user_id: int, idempotency_key: str) -> Order | None:
    return await Order.get_or_none(user_id=user_id, idempotency_key=idempotency_key)


async def create_order(settings: Settings, user_id: int, idempotency_key: str, *, items: list[dict[str, Any]],
                       delivery_mode: str, address_id: int | None = None, pickup_point_id: int | None = None,
                       remark: str = "") -> tuple[dict[str, Any], bool]:
    """Create an unpaid order and take its stock. Returns (order, created).

    The same (user, Idempotency-Key) returns the existing order with created=False, also under
    concurrent retries: the UNIQUE (user, idempotency_key) lets one insert win; the losers'
    transactions roll back (with the stock they took) and they read the winner's order.
    Any line short of stock rolls the whole order back: 409 out_of_stock with details.sku_id.
    """
    if not idempotency_key or len(idempotency_key) > 64 or not idempotency_key.isprintable():
        raise ValidationFailed("Idempotency-Key: 请求头必填，长度 1 到 64", field="Idempotency-Key")
    existing = await find_order_by_key(user_id, idempotency_key)
    if existing is not None:
        return await load_order_dict(existing), False

    await get_active_user(user_id)
    lines = _merge_lines(items, settings)

    mode = DeliveryMode(delivery_mode)
    address = None
    if mode == DeliveryMode.express:
        if address_id is None:
            raise ValidationFailed("address_id: 快递配送需要选择收货地址", field="address_id")
        address = address_snapshot(await get_own_address(user_id, address_id))
        pickup_point_id = None
    else:
        if pickup_point_id is None:
            raise ValidationFailed("pickup_point_id: 自提需要选择自提点", field="pickup_point_id")
        from services.pickup import get_active_pickup_point

        await get_active_pickup_point(pickup_point_id)

    sku_ids = sorted(lines)
    skus = {s.id: s for s in await Sku.filter(id__in=sku_ids).select_related("product")}
    products = {s.product_id: s.product for s in skus.values()}
    for idx, line in enumerate(items):
        sid = int(line["sku_id"])
        sku = skus.get(sid)
        if sku is None:
            raise NotFound(f"items.{idx}.sku_id: 商品规格不存在", code="sku_not_found",
                           field=f"items.{idx}.sku_id", sku_id=sid)
        product = products.get(sku.product_id)
        if not sku.on_sale or product is None or not product.on_sale:
            raise OutOfStock("商品已下架", code="sku_off_sale", field=f"items.{idx}.sku_id", sku_id=sid)

    goods_fen = sum(skus[sid].price_fen * q for sid, q in lines.items())
    discount_fen = 0
    if mode == DeliveryMode.pickup or goods_fen >= settings.free_shipping_threshold_fen:
        shipping_fen = 0
    else:
        shipping_fen = settings.shipping_fee_fen
    payable_fen = goods_fen - discount_fen + shipping_fen
    # Each line's share of what the buyer pays for goods (shipping excluded): the refund
    # ceiling and commission base of the line; split exactly so the shares sum to the total.
    shares = split_by_weights(goods_fen - discount_fen, [skus[sid].price_fen * lines[sid] for sid in sku_ids])
    now = utcnow()

    try:
        async with in_transaction() as conn:
            order = await Order.create(
                order_no=new_number(), user_id=user_id, idempotency_key=idempotency_key,
                status=OrderStatus.unpaid, delivery_mode=mode, address=address,
                pickup_point_id=pickup_point_id, goods_fen=goods_fen, discount_fen=discount_fen,
                shipping_fen=shipping_fen, payable_fen=payable_fen, remark=remark or "",
                pay_deadline=now + timedelta(seconds=settings.order_pay_timeout_seconds),
                using_db=conn,
            )
            order_items = [
                await OrderItem.create(
                    order_id=order.id, product_id=skus[sid].product_id, sku_id=sid,
                    title=products[skus[sid].product_id].title, sku_name=skus[sid].name,
                    image=skus[sid].image or products[skus[sid].product_id].main_image,
                    unit_price_fen=skus[sid].price_fen, quantity=lines[sid], paid_fen=share, using_db=conn)
                for sid, share in zip(sku_ids, shares)
            ]
            # Stock last: a hot SKU's row lock is then held only from this UPDATE to COMMIT.
            # Sorted by SKU id so concurrent orders lock rows in one order (no deadlocks).
            for sid in sku_ids:
                q = lines[sid]
                taken = await Sku.filter(id=sid, stock__gte=q, on_sale=True).using_db(conn).update(
                    stock=F("stock") - q)
                if taken != 1:
                    raise OutOfStock(f"库存不足：{skus[sid].name or products[skus[sid].product_id].title}",
                                     sku_id=sid)
    except IntegrityError:
        existing = await find_order_by_key(user_id, idempotency_key)
        if existing is None:
            raise
        return await load_order_dict(existing), False
    return order_to_dict(order, order_items), True
