"""Order creation: prices from the SKUs, stock taken by guarded update, idempotent by key."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from huituan.core import sql
from huituan.core.clock import utcnow
from huituan.core.errors import Forbidden, NotFound, OutOfStock, ValidationFailed
from huituan.core.money import split_by_weights, yuan
from huituan.core.settings import Settings
from huituan.models.order import ActivityType, DeliveryMode, Order, OrderStatus
from huituan.services import events, idempotency
from huituan.services.orders import context
from huituan.services.orders.activity import ActivityRequest, require_policy
from huituan.services.orders.numbers import new_number
from huituan.services.orders.queries import load_order_dict
from huituan.services.orders.serialize import order_to_dict

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


def _sku_ids_for_lookup(items: list[dict[str, Any]], settings: Settings) -> list[int]:
    """The SKU ids to read up front, before the lines are validated (a bad line is reported
    by _merge_lines afterwards, in the same order of checks as always)."""
    if len(items) > settings.order_max_items:
        return []
    ids: set[int] = set()
    for line in items:
        try:
            ids.add(int(line["sku_id"]))
        except (KeyError, TypeError, ValueError):
            continue
    return sorted(ids)


_ADDRESS_COLS = ("receiver", "phone", "province", "city", "district", "detail")


def order_request_hash(items: list[dict[str, Any]], delivery_mode: str, address_id: int | None,
                       pickup_point_id: int | None, remark: str, activity: ActivityRequest | None) -> str:
    """The hash stored with an order's Idempotency-Key: what the request asked for."""
    return idempotency.request_hash(
        items=[[line.get("sku_id"), line.get("quantity")] for line in items], delivery_mode=delivery_mode,
        address_id=address_id, pickup_point_id=pickup_point_id, remark=remark or "",
        **({"activity": [str(activity.type), activity.fingerprint]} if activity else {}))


async def create_order(settings: Settings, user_id: int, idempotency_key: str, *, items: list[dict[str, Any]],
                       delivery_mode: str, address_id: int | None = None, pickup_point_id: int | None = None,
                       remark: str = "", activity: ActivityRequest | None = None) -> tuple[dict[str, Any], bool]:
    """Create an unpaid order and take its stock. Returns (order, created).

    ``activity`` (group-buy, bargain, flash sale): its policy (``services.orders.activity``)
    prices the lines and reserves its seat / claim / bargain inside the order's transaction;
    such orders always take the transaction path. Without it the order is normal.

    The same (user, Idempotency-Key) returns the existing order with created=False, also under
    concurrent retries; the same key with a different request (items, delivery, address,
    pickup point, remark: hashed and stored with the key) is 422 idempotency_key_reused: the UNIQUE (user, idempotency_key) lets one insert win; the losers'
    transactions roll back (with the stock they took) and they read the winner's order.
    Any line short of stock rolls the whole order back: 409 out_of_stock with details.sku_id.

    Hot path, in raw SQL (core.sql): one read (key, user, address, SKUs) and one write. On
    PostgreSQL a single-SKU order is one atomic statement (guarded stock update, order and item
    inserts), so a hot SKU's row lock lives only for that statement; otherwise one transaction.
    """
    idempotency.check_key(idempotency_key)
    # What this request asks for: a reused key with another request is refused (422).
    fingerprint = order_request_hash(items, delivery_mode, address_id, pickup_point_id, remark, activity)
    sku_lookup = _sku_ids_for_lookup(items, settings)
    if activity is not None and activity.batch_reads and sql.is_pg(sql.default_conn()):
        rows = await context.read_in_batch(user_id, idempotency_key, address_id, sku_lookup)
    else:
        rows = await context.read_one(user_id, idempotency_key, address_id, sku_lookup)
    head = rows[0]
    if head["existing_id"] is not None:
        existing = await Order.get_or_none(id=head["existing_id"])
        if existing is not None:
            idempotency.ensure_same_request(existing.request_hash, fingerprint)
            return await load_order_dict(existing), False

    if head["user_disabled"] is None:
        raise NotFound("用户不存在", code="user_not_found", field="user_id")
    if head["user_disabled"]:
        raise Forbidden("账号已被停用", code="user_disabled")
    lines = _merge_lines(items, settings)

    mode = DeliveryMode(delivery_mode)
    address = None
    if mode == DeliveryMode.express:
        if address_id is None:
            raise ValidationFailed("address_id: 快递配送需要选择收货地址", field="address_id")
        if head["address_id"] is None:
            raise NotFound("收货地址不存在", code="address_not_found", field="address_id")
        # The same snapshot as services.addresses.address_snapshot: the address as it was.
        address = {"id": head["address_id"], **{k: head[k] for k in _ADDRESS_COLS}}
        pickup_point_id = None
    else:
        if pickup_point_id is None:
            raise ValidationFailed("pickup_point_id: 自提需要选择自提点", field="pickup_point_id")
        from huituan.services.pickup_points import get_active_pickup_point

        await get_active_pickup_point(pickup_point_id)

    sku_ids = sorted(lines)
    skus = {r["sku_id"]: r for r in rows if r["sku_id"] is not None}
    for idx, line in enumerate(items):
        sid = int(line["sku_id"])
        sku = skus.get(sid)
        if sku is None:
            raise NotFound(f"items.{idx}.sku_id: 商品规格不存在", code="sku_not_found",
                           field=f"items.{idx}.sku_id", sku_id=sid)
        if not sku["sku_on_sale"] or sku["title"] is None or not sku["product_on_sale"]:
            raise OutOfStock("商品已下架", code="sku_off_sale", field=f"items.{idx}.sku_id", sku_id=sid)

    goods_fen = sum(skus[sid]["price_fen"] * q for sid, q in lines.items())
    discount_fen = 0
    policy = None
    if activity is not None:
        policy = require_policy(activity.type)
        unit = await policy.price(activity, user_id, lines, {sid: skus[sid] for sid in lines})
        # The activity price shows as a discount on the SKU price: goods stay at list price.
        discount_fen = goods_fen - sum(unit[sid] * q for sid, q in lines.items())
    if mode == DeliveryMode.pickup or goods_fen >= settings.free_shipping_threshold_fen:
        shipping_fen = 0
    else:
        shipping_fen = settings.shipping_fee_fen
    payable_fen = goods_fen - discount_fen + shipping_fen
    if payable_fen > settings.order_max_amount_fen:
        # Amounts are 32-bit columns and one WeChat payment has a ceiling: refuse, never overflow.
        raise ValidationFailed(f"items: 订单金额不能超过 {yuan(settings.order_max_amount_fen)} 元，请分开下单",
                               field="items", code="order_amount_too_large",
                               max_fen=settings.order_max_amount_fen)
    # Each line's share of what the buyer pays for goods (shipping excluded): the refund
    # ceiling and commission base of the line; split exactly so the shares sum to the total.
    shares = split_by_weights(goods_fen - discount_fen, [skus[sid]["price_fen"] * lines[sid] for sid in sku_ids])
    now = utcnow()
    timeout = settings.order_pay_timeout_seconds
    if activity is not None and activity.pay_timeout_seconds is not None:
        timeout = activity.pay_timeout_seconds

    # Plain records, not ORM instances (building those costs more than the SQL): the fields
    # order_to_dict reads, with the model's defaults for the columns not set here.
    order = SimpleNamespace(
        id=None, order_no=new_number(), user_id=user_id, idempotency_key=idempotency_key, request_hash=fingerprint,
        status=OrderStatus.unpaid, status_before_refund="", delivery_mode=mode, address=address,
        pickup_point_id=pickup_point_id,
        activity_type=activity.type if activity else ActivityType.normal, activity_ref=activity.ref if activity else "",
        goods_fen=goods_fen, discount_fen=discount_fen, shipping_fen=shipping_fen, payable_fen=payable_fen,
        paid_fen=0, refunded_fen=0, remark=remark or "",
        pay_deadline=now + timedelta(seconds=timeout), paid_at=None,
        shipped_at=None, completed_at=None, cancelled_at=None, cancel_reason="", express_company="",
        express_no="", created_at=now, updated_at=now,
    )
    order_items = [
        SimpleNamespace(id=None, order_id=None, product_id=skus[sid]["product_id"], sku_id=sid,
                        title=skus[sid]["title"], sku_name=skus[sid]["sku_name"],
                        image=skus[sid]["sku_image"] or skus[sid]["main_image"],
                        unit_price_fen=skus[sid]["price_fen"], quantity=lines[sid], paid_fen=share,
                        refunded_quantity=0, refunded_fen=0)
        for sid, share in zip(sku_ids, shares)
    ]

    def short_of_stock(sid: int) -> OutOfStock:
        return OutOfStock(f"库存不足：{skus[sid]['sku_name'] or skus[sid]['title']}", field="items", sku_id=sid)

    async def refused(sid: int) -> OutOfStock:
        """Why the guarded stock update took nothing: off sale since the read, or short."""
        rows = await sql.fetch(None, _SELLING, [sid])
        if rows and not rows[0]["selling"]:
            idx = next(i for i, line in enumerate(items) if int(line["sku_id"]) == sid)
            return OutOfStock("商品已下架", code="sku_off_sale", field=f"items.{idx}.sku_id", sku_id=sid)
        return short_of_stock(sid)

    try:
        conn = sql.default_conn()
        if policy is None and sql.is_pg(conn) and len(sku_ids) == 1:
            if not await _insert_single_sku_pg(conn, order, order_items[0]):
                raise await refused(sku_ids[0])
        elif (policy is not None and payable_fen > 0 and sql.is_pg(conn) and len(sku_ids) == 1
              and await policy.insert_single_pg(conn, order, order_items[0], activity)):
            pass  # the policy wrote order, item and its reservation in one statement
        else:
            async with in_transaction() as conn:
                if policy is not None and payable_fen == 0:
                    # Nothing to pay (free for the opener, pickup): paid at once, no WeChat Pay.
                    order.status, order.paid_at = OrderStatus.paid, now
                await _insert_order(conn, order, order_items)
                if policy is not None:
                    activity.ref = order.activity_ref
                    await policy.reserve(conn, order, activity)
                    if order.activity_ref != activity.ref:
                        order.activity_ref = activity.ref
                        await sql.execute(conn, 'UPDATE "order" SET activity_ref = ? WHERE id = ?',
                                          [order.activity_ref, order.id])
                    if order.status == OrderStatus.paid:
                        await sql.execute(conn, 'UPDATE "order" SET paid_at = ? WHERE id = ?', [now, order.id])
                        await policy.on_paid(conn, order.id, order.activity_ref)
                        await events.emit(events.ORDER_PAID, order_id=order.id, conn=conn)
                # Stock last: a hot SKU's row lock is then held only from this UPDATE to COMMIT.
                # Sorted by SKU id so concurrent orders lock rows in one order (no deadlocks).
                for sid in (sku_ids if policy is None or policy.takes_sku_stock else ()):
                    taken = await sql.execute(
                        conn, "UPDATE sku SET stock = stock - ? WHERE id = ? AND stock >= ? AND on_sale = ? "
                        f"AND {_PRODUCT_ON_SALE}", [lines[sid], sid, lines[sid], True, True])
                    if taken != 1:
                        raise await refused(sid)
    except IntegrityError:
        existing = await find_order_by_key(user_id, idempotency_key)
        if existing is None:
            raise
        idempotency.ensure_same_request(existing.request_hash, fingerprint)
        return await load_order_dict(existing), False
    return order_to_dict(order, order_items), True


_ORDER_COLS = (
    "order_no", "user_id", "idempotency_key", "request_hash", "status", "status_before_refund", "delivery_mode", "address",
    "pickup_point_id", "activity_type", "activity_ref", "goods_fen", "discount_fen", "shipping_fen",
    "payable_fen", "paid_fen", "refunded_fen", "remark", "pay_deadline", "cancel_reason", "express_company",
    "express_no", "created_at", "updated_at",
)
_ITEM_COLS = ("order_id", "product_id", "sku_id", "title", "sku_name", "image", "unit_price_fen", "quantity",
              "paid_fen", "refunded_quantity", "refunded_fen")
_ORDER_INSERT = (f'INSERT INTO "order" ({", ".join(_ORDER_COLS)}) '
                 f"VALUES ({sql.placeholders(len(_ORDER_COLS))}) RETURNING id")
_ADDRESS_FIELD = Order._meta.fields_map["address"]


def _order_values(o: SimpleNamespace) -> list[Any]:
    return [o.order_no, o.user_id, o.idempotency_key, o.request_hash, o.status.value, o.status_before_refund,
            o.delivery_mode.value, _ADDRESS_FIELD.to_db_value(o.address, Order), o.pickup_point_id,
            o.activity_type.value, o.activity_ref, o.goods_fen, o.discount_fen, o.shipping_fen, o.payable_fen,
            o.paid_fen, o.refunded_fen, o.remark, o.pay_deadline, o.cancel_reason, o.express_company,
            o.express_no, o.created_at, o.updated_at]


def _item_values(i: SimpleNamespace) -> list[Any]:
    return [i.order_id, i.product_id, i.sku_id, i.title, i.sku_name, i.image, i.unit_price_fen, i.quantity,
            i.paid_fen, i.refunded_quantity, i.refunded_fen]


async def _insert_order(conn, order: SimpleNamespace, items: list[SimpleNamespace]) -> None:
    """The order and its items, ids filled in on the instances (inside the caller's transaction)."""
    order.id = (await sql.fetch(conn, _ORDER_INSERT, _order_values(order)))[0]["id"]
    row = f"({sql.placeholders(len(_ITEM_COLS))})"
    values: list[Any] = []
    for it in items:
        it.order_id = order.id
        values += _item_values(it)
    rows = await sql.fetch(conn, f"INSERT INTO order_item ({', '.join(_ITEM_COLS)}) VALUES "
                                 f"{', '.join([row] * len(items))} RETURNING id, sku_id", values)
    ids = {r["sku_id"]: r["id"] for r in rows}
    for it in items:
        it.id = ids[it.sku_id]


# Parameters in INSERT ... SELECT get no type from the target columns: cast each one.
_ORDER_PG_TYPES = ("varchar", "bigint", "varchar", "varchar", "varchar", "varchar", "varchar", "jsonb", "bigint", "varchar",
                   "varchar", "int", "int", "int", "int", "int", "int", "varchar", "timestamptz", "varchar",
                   "varchar", "varchar", "timestamptz", "timestamptz")
_ITEM_PG_TYPES = ("bigint", "bigint", "varchar", "varchar", "varchar", "int", "int", "int", "int", "int")
# The product's own switch, read by the guarded stock update itself: orders that had read the
# product on sale were still taken after an operator's off-sale had committed (attacker pass,
# session 8; the SKU's switch was already in the guard).
_PRODUCT_ON_SALE = "EXISTS (SELECT 1 FROM product p WHERE p.id = sku.product_id AND p.on_sale = ?)"
_SELLING = ("SELECT (s.on_sale AND p.on_sale) AS selling FROM sku s JOIN product p ON p.id = s.product_id "
            "WHERE s.id = ?")
_PG_SINGLE = (
    "WITH s AS (UPDATE sku SET stock = stock - ? WHERE id = ? AND stock >= ? AND on_sale = ? "
    f"AND {_PRODUCT_ON_SALE} RETURNING id), "
    f'o AS (INSERT INTO "order" ({", ".join(_ORDER_COLS)}) '
    f"SELECT {', '.join('?::' + t for t in _ORDER_PG_TYPES)} FROM s RETURNING id), "
    f"i AS (INSERT INTO order_item ({', '.join(_ITEM_COLS)}) "
    f"SELECT o.id, {', '.join('?::' + t for t in _ITEM_PG_TYPES)} FROM o RETURNING id, order_id) "
    "SELECT i.order_id, i.id AS item_id FROM i"
)
assert len(_ORDER_PG_TYPES) == len(_ORDER_COLS) and len(_ITEM_PG_TYPES) == len(_ITEM_COLS) - 1


def order_values(o: SimpleNamespace) -> list[Any]:
    """The order's column values in ``ORDER_COLS`` order (for a policy's single statement)."""
    return _order_values(o)


def item_values(i: SimpleNamespace) -> list[Any]:
    """The item's column values in ``ITEM_COLS`` order, without ``order_id``."""
    return _item_values(i)[1:]


# For a policy's single statement: the columns and their PostgreSQL casts.
ORDER_COLS, ORDER_PG_TYPES = _ORDER_COLS, _ORDER_PG_TYPES
ITEM_COLS, ITEM_PG_TYPES = _ITEM_COLS, _ITEM_PG_TYPES


async def _insert_single_sku_pg(conn, order: SimpleNamespace, item: SimpleNamespace) -> bool:
    """PostgreSQL, one SKU: the guarded stock update and both inserts as one autocommit
    statement: all or nothing; no row when the stock is short (nothing written then). A
    duplicate (user, key) fails the whole statement, stock included (IntegrityError)."""
    q = item.quantity
    rows = await sql.fetch(conn, _PG_SINGLE, [q, item.sku_id, q, True, True, *_order_values(order),
                                              *_item_values(item)[1:]])
    if not rows:
        return False
    order.id = item.order_id = rows[0]["order_id"]
    item.id = rows[0]["item_id"]
    return True
