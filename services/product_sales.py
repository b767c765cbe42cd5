"""``Product.sales``: units paid, net of units refunded.

Subscribed by the composition root (huituan.wiring) to ORDER_PAID and REFUND_SUCCEEDED and run
inside the cause's transaction (conn): each writes its units as ``ProductSalesChange`` rows,
so they exist exactly when the payment or the refund commits. The rows are inserts: updating
``Product.sales`` there held the product row's lock through each commit's WAL flush, and the
payments of one popular product reached the disk one at a time (~300 a second, durable).

``fold`` (the ``fold_product_sales`` job, every 10 s) adds the rows to ``Product.sales``
and deletes them in one transaction: each row is counted once, even with two folds at once
(PostgreSQL: ``FOR UPDATE SKIP LOCKED``). The count shown lags the payments by at most the
job's interval.
"""

from __future__ import annotations

from collections import Counter

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from huituan.core import sql
from huituan.core.clock import utcnow
from huituan.models.catalog import Product, ProductSalesChange
from huituan.models.order import OrderItem, Refund, RefundStatus

FOLD_BATCH = 10_000


async def _move(units: Counter, sign: int, conn) -> None:
    changes = [ProductSalesChange(product_id=product_id, units=sign * units[product_id])
               for product_id in sorted(units) if units[product_id]]
    if changes:
        await ProductSalesChange.bulk_create(changes, using_db=conn)


async def fold(batch: int = FOLD_BATCH) -> int:
    """Add pending sales changes to ``Product.sales`` (oldest first, up to ``batch`` rows) and
    delete them, in one transaction. Returns how many rows were folded.

    Only what this transaction's DELETE removed is counted (RETURNING), so a row another fold
    took is never added twice; on PostgreSQL the rows another fold holds are skipped rather
    than waited for."""
    async with in_transaction() as conn:
        lock = " FOR UPDATE SKIP LOCKED" if sql.is_pg(conn) else ""
        rows = await sql.fetch(conn, "DELETE FROM product_sales_change WHERE id IN (SELECT id FROM "
                               f"product_sales_change ORDER BY id LIMIT ?{lock}) RETURNING product_id, units",
                               [batch])
        units: Counter = Counter()
        for row in rows:
            units[int(row["product_id"])] += int(row["units"])
        for product_id in sorted(units):  # id order: two folds never wait on each other in a cycle
            if units[product_id]:
                await Product.filter(id=product_id).using_db(conn).update(sales=F("sales") + units[product_id])
    return len(rows)


async def fold_all() -> int:
    """Every pending change (the job): batches until none is left."""
    total = 0
    while True:
        batch = FOLD_BATCH  # read per call: one value for the fold and the test of "last batch"
        n = await fold(batch)
        total += n
        if n < batch:
            return total


async def on_paid(order_id: int, conn, **_) -> None:
    # One statement in the payment's transaction: its lines' units per product, as changes.
    await sql.execute(conn, "INSERT INTO product_sales_change (product_id, units, created_at) "
                            "SELECT product_id, SUM(quantity), ? FROM order_item WHERE order_id = ? "
                            "GROUP BY product_id ORDER BY product_id", [utcnow(), order_id])


async def refunded_units(refund: Refund, conn) -> Counter:
    """Units per product that ``refund`` returned. A whole-order refund returns what earlier
    successful refunds of the order had not."""
    items = await OrderItem.filter(order_id=refund.order_id).using_db(conn).values_list("id", "product_id", "quantity")
    product_of = {item_id: product_id for item_id, product_id, _ in items}
    units: Counter = Counter()
    if refund.items:
        for line in refund.items:
            if int(line["item_id"]) in product_of:
                units[product_of[int(line["item_id"])]] += int(line["quantity"])
        return units
    earlier: Counter = Counter()
    for lines in await Refund.filter(order_id=refund.order_id, status=RefundStatus.succeeded, automatic=False).exclude(
            id=refund.id).using_db(conn).values_list("items", flat=True):
        for line in lines or []:
            earlier[int(line["item_id"])] += int(line["quantity"])
    for item_id, product_id, quantity in items:
        units[product_id] += max(quantity - earlier[item_id], 0)
    return units


async def on_refunded(refund_id: int, order_id: int, conn, **_) -> None:
    refund = await Refund.get(id=refund_id).using_db(conn)
    await _move(await refunded_units(refund, conn), -1, conn)
