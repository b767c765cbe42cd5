"""``Product.sales`` counts units paid, net of units refunded (partial, whole after partial,
duplicate notifies counted once)."""

from __future__ import annotations

from huituan.models.catalog import Product
from huituan.models.order import Refund, RefundStatus
from huituan.services.orders.payments import handle_pay_notify
from huituan.services.orders.refunds import handle_refund_notify, request_refund
from tests.factories import make_product, make_user
from tests.services.orders.helpers import given_order, pay_resource, refund_resource


async def sales(product) -> int:
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
