from huituan.models.catalog import Category, Product, Sku
from huituan.models.leader import Leader, PickupPoint
from huituan.models.user import Operator, User
from huituan.services.demo import load_demo_data
from huituan.services.operators import authenticate_operator
from huituan.services.pickup_points import list_pickup_points


async def _snapshot():
    return {
        "categories": await Category.all().order_by("id").values_list("id", "name"),
        "products": await Product.all().order_by("id").values_list("id", "title", "price_from_fen", "updated_at"),
        "skus": await Sku.all().order_by("id").values_list("id", "code", "price_fen", "stock", "updated_at"),
        "users": await User.all().order_by("id").values_list("id", "openid"),
        "leaders": await Leader.all().values_list("id", "status"),
        "points": await PickupPoint.all().values_list("id", "name"),
        "operators": await Operator.all().values_list("id", "password_hash"),
    }


async def test_demo_data_is_complete_and_idempotent(rt):
    first = await load_demo_data()
    assert first["created"] == {"categories": 3, "products": 8, "skus": first["skus"], "users": 2, "leaders": 1,
                                "pickup_points": 1, "promoters": 1, "operators": 1}
    assert 8 <= first["skus"] <= 24
    assert sorted(await Category.all().values_list("name", flat=True)) == sorted(["蔬菜水果", "肉禽蛋奶", "粮油调味"])
    for product in await Product.all().prefetch_related("skus"):
        skus = list(product.skus)
        assert 1 <= len(skus) <= 3
        assert product.price_from_fen == min(s.price_fen for s in skus)
        assert product.main_image.startswith("https://img.example.com/demo/")
        assert all(100 <= s.stock <= 1000 for s in skus)
    assert [p.city for p in await list_pickup_points()] == ["杭州市"]
    assert await User.filter(openid="demo-promoter").exists()
    from huituan.models.promoter import Promoter, PromoterStatus

    promoter_user = await User.get(openid="demo-promoter")
    assert (await Promoter.get(user_id=promoter_user.id)).status == PromoterStatus.approved
    assert (await authenticate_operator(rt, "admin", "admin12345")).username == "admin"

    before = await _snapshot()
    second = await load_demo_data()
    assert set(second["created"].values()) == {0}
    assert {k: v for k, v in second.items() if k != "created"} == {k: v for k, v in first.items() if k != "created"}
    assert await _snapshot() == before


async def test_existing_admin_is_left_alone(rt):
    from huituan.services.operators import create_operator

    await create_operator("admin", "another-password")
    summary = await load_demo_data()
    assert summary["created"]["operators"] == 0
    assert (await authenticate_operator(rt, "admin", "another-password")).username == "admin"


async def test_demo_operator_talks_to_the_bot_through_the_sandbox_at_once(client, rt):
    """docs/BOT.md's sandbox walkthrough: right after demo-data, demo-operator gets answers."""
    from huituan.services.demo import DEMO_OPERATOR_WECOM_USERID, demo_operator_login

    await load_demo_data()
    assert (await Operator.get(username="admin")).wecom_userid == DEMO_OPERATOR_WECOM_USERID
    assert await demo_operator_login() == ("admin", "admin12345")  # what the start-up banner shows
    resp = await client.post("/sandbox/wecom/send-to-bot", json={"from_user": DEMO_OPERATOR_WECOM_USERID,
                                                                 "content": "帮助"})
    data = await resp.json()
    assert resp.status == 200 and "订单" in data["reply_content"] and "尚未绑定" not in data["reply_content"], data
    stranger = await (await client.post("/sandbox/wecom/send-to-bot", json={"from_user": "nobody", "content": "帮助"})).json()
    assert "尚未绑定" in stranger["reply_content"]
    # An operator that already existed without a WeCom binding gets the demo one on the next run.
    await Operator.filter(username="admin").update(wecom_userid=None)
    await load_demo_data()
    assert (await Operator.get(username="admin")).wecom_userid == DEMO_OPERATOR_WECOM_USERID
