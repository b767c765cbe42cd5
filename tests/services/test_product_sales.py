"""``Product.sales`` counts units paid, net of units refunded (partial, whole after partial,
duplicate notifies counted once): written as change rows in the payment's transaction and
folded into the product by the fold_product_sales job, each row once."""

from __future__ import annotations

import asyncio

import pytest

from huituan.jobs.scheduler import run_job_now
from huituan.models.catalog import Product, ProductSalesChange
from huituan.models.order import Refund, RefundStatus
from huituan.services import product_sales
from huituan.services.orders.payments import handle_pay_notify
from huituan.services.orders.refunds import handle_refund_notify, request_refund
from tests.factories import make_product, make_user
from tests.services.orders.helpers import given_order, pay_resource, refund_resource


async def sales(product) -> int:
    """The count after the job has folded what is pending."""
    await product_sales.fold_all()
    return (await Product.get(id=product.id)).sales


async def refund_ok(rt, refund: dict) -> None:
    await Refund.filter(id=refund["id"]).update(status=RefundStatus.processing)
    assert await handle_refund_notify(rt, refund_resource(refund["refund_no"])) == "succeeded"
    assert await handle_refund_notify(rt, refund_resource(refund["refund_no"])) == "duplicate"


async def test_sales_count_paid_units_net_of_refunded(rt, settings):
    apple = await make_product(skus=[{"price_fen": 500, "stock": 50}, {"price_fen": 900, "stock": 50}])
    pear = await make_product(skus=[{"price_fen": 300, "stock": 50}])
    buyer = await make_user()
    items = [{"sku_id": apple.sku_list[0].id, "quantity": 3}, {"sku_id": apple.sku_list[1].id, "quantity": 2},
             {"sku_id": pear.sku_list[0].id, "quantity": 4}]
    _, _, unpaid = await given_order(settings, user=buyer, product=apple, items=items)
    assert (await sales(apple), await sales(pear)) == (0, 0)  # ordering is not selling
    pay = pay_resource(unpaid)
    assert await handle_pay_notify(rt, pay) == "paid"
    assert await handle_pay_notify(rt, pay) != "paid"  # WeChat's retry counts once
    assert (await sales(apple), await sales(pear)) == (5, 4)

    line = next(i for i in unpaid["items"] if i["sku_id"] == apple.sku_list[0].id)
    await refund_ok(rt, await request_refund(buyer.id, unpaid["id"], "坏了", [{"item_id": line["id"], "quantity": 1}]))
    assert (await sales(apple), await sales(pear)) == (4, 4)

    await refund_ok(rt, await request_refund(buyer.id, unpaid["id"], "全部退"))  # the rest of the order
    assert (await sales(apple), await sales(pear)) == (0, 0)

    _, _, second = await given_order(settings, user=buyer, product=pear, quantity=2)
    assert await handle_pay_notify(rt, pay_resource(second)) == "paid"
    assert await sales(pear) == 2


async def test_a_payment_writes_a_change_and_the_job_folds_it_once(rt, settings):
    apple = await make_product(skus=[{"price_fen": 500, "stock": 50}])
    buyer = await make_user()
    _, _, unpaid = await given_order(settings, user=buyer, product=apple, quantity=3)
    assert await handle_pay_notify(rt, pay_resource(unpaid)) == "paid"
    # the payment's transaction inserted a change and left the product row alone
    assert (await Product.get(id=apple.id)).sales == 0
    assert await ProductSalesChange.filter(product_id=apple.id).values_list("units", flat=True) == [3]
    run = await run_job_now(rt, "fold_product_sales")
    assert run.ok and run.processed == 1
    assert (await Product.get(id=apple.id)).sales == 3
    assert await ProductSalesChange.filter(product_id=apple.id).count() == 0
    again = await run_job_now(rt, "fold_product_sales")  # nothing left: nothing counted twice
    assert again.ok and again.processed == 0
    assert (await Product.get(id=apple.id)).sales == 3


async def test_fold_takes_batches_in_order_until_none_is_left(rt, monkeypatch):
    apple, pear = await make_product(), await make_product()
    await ProductSalesChange.bulk_create([ProductSalesChange(product_id=p.id, units=u)
                                          for p, u in [(apple, 2), (pear, 5), (apple, -1), (apple, 4), (pear, -5)]])
    monkeypatch.setattr(product_sales, "FOLD_BATCH", 2)
    assert await product_sales.fold(batch=2) == 2  # the two oldest: apple +2, pear +5
    assert ((await Product.get(id=apple.id)).sales, (await Product.get(id=pear.id)).sales) == (2, 5)
    assert await product_sales.fold_all() == 3
    assert ((await Product.get(id=apple.id)).sales, (await Product.get(id=pear.id)).sales) == (5, 0)
    assert await ProductSalesChange.all().count() == 0


@pytest.mark.postgres
async def test_concurrent_folds_count_every_change_exactly_once(rt):
    """Four folds at once on separate pooled connections, in batches of 7, while changes keep
    arriving: every change is counted once (SKIP LOCKED hands each fold other rows)."""
    products = [await make_product() for _ in range(3)]
    expected = {p.id: 0 for p in products}
    folded: list[int] = []
    in_flight = {"now": 0, "most": 0}

    async def writer(k: int) -> None:
        for i in range(40):
            p = products[(k + i) % 3]
            units = (i % 5) - 1  # refunds too
            expected[p.id] += units
            await ProductSalesChange.create(product_id=p.id, units=units)
            await asyncio.sleep(0)

    async def folder() -> None:
        for _ in range(30):
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])
            folded.append(await product_sales.fold(batch=7))
            in_flight["now"] -= 1
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(k) for k in range(3)), *(folder() for _ in range(4)))
    await product_sales.fold_all()
    for p in products:
        assert (await Product.get(id=p.id)).sales == expected[p.id]
    assert await ProductSalesChange.all().count() == 0
    # the folds raced: several were in their transactions at once, and found rows while the
    # writers were still writing
    assert in_flight["most"] >= 2
    assert sum(1 for n in folded if n) >= 4, folded
