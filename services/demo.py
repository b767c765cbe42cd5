"""Idempotent demo data (``huituan demo-data``): a small grocery catalog, a leader with an
approved pickup point, a promoter user and an ``admin`` operator.

Everything is matched by a natural key (category name, product title, SKU code, user openid,
operator username) and only created when missing: running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from huituan.core.clock import utcnow
from huituan.models.catalog import Category, Product, Sku
from huituan.models.leader import Leader, LeaderStatus, PickupPoint
from huituan.models.promoter import Promoter, PromoterStatus
from huituan.models.user import Operator, User
from huituan.services.catalog_admin import refresh_price_from

IMG = "https://img.example.com/demo/{}.jpg"

# (category, slug, title, subtitle, [(code, name, price_fen, original_price_fen, stock)])
DEMO_PRODUCTS: list[tuple[str, str, str, str, list[tuple[str, str, int, int, int]]]] = [
    ("蔬菜水果", "yantai-apple", "烟台红富士苹果", "脆甜多汁，产地直发", [
        ("DEMO-APPLE-2.5KG", "2.5kg 装（约 10 个）", 2990, 3990, 500),
        ("DEMO-APPLE-5KG", "5kg 装（约 20 个）", 5490, 6990, 300),
    ]),
    ("蔬菜水果", "shouguang-tomato", "寿光普罗旺斯西红柿", "沙瓤多汁，生吃熟吃都好", [
        ("DEMO-TOMATO-1KG", "1kg", 1290, 1590, 800),
    ]),
    ("蔬菜水果", "hainan-banana", "海南香蕉", "自然熟，软糯香甜", [
        ("DEMO-BANANA-1.5KG", "1.5kg", 1190, 1490, 600),
        ("DEMO-BANANA-3KG", "3kg", 2190, 2790, 400),
    ]),
    ("肉禽蛋奶", "tuji-egg", "农家散养土鸡蛋", "林下散养，蛋黄饱满", [
        ("DEMO-EGG-20", "20 枚", 2590, 3290, 500),
        ("DEMO-EGG-30", "30 枚", 3690, 4590, 300),
    ]),
    ("肉禽蛋奶", "pork-belly", "黑猪五花肉", "肥瘦相间，冷鲜直达", [
        ("DEMO-PORK-500G", "500g", 3290, 3990, 200),
        ("DEMO-PORK-1KG", "1kg", 6290, 7690, 100),
    ]),
    ("肉禽蛋奶", "fresh-milk", "巴氏鲜牛奶", "当日灌装，冷链配送", [
        ("DEMO-MILK-950ML", "950ml", 1590, 1890, 1000),
        ("DEMO-MILK-950ML-2", "950ml × 2 瓶", 2990, 3780, 500),
        ("DEMO-MILK-950ML-6", "950ml × 6 瓶", 8490, 11340, 150),
    ]),
    ("粮油调味", "wuchang-rice", "五常稻花香大米", "东北新米，软糯清香", [
        ("DEMO-RICE-5KG", "5kg", 5990, 7990, 400),
        ("DEMO-RICE-10KG", "10kg", 10990, 14990, 200),
    ]),
    ("粮油调味", "peanut-oil", "压榨一级花生油", "物理压榨，浓香醇正", [
        ("DEMO-OIL-5L", "5L", 8990, 10990, 250),
    ]),
]

DEMO_CATEGORIES = ("蔬菜水果", "肉禽蛋奶", "粮油调味")
DEMO_LEADER_OPENID = "demo-leader"
DEMO_PROMOTER_OPENID = "demo-promoter"
DEMO_OPERATOR = ("admin", "admin12345")
# The sandbox WeCom member the demo operator is bound to: POST /sandbox/wecom/send-to-bot
# {"from_user": "demo-operator", "content": "帮助"} reaches the bot as this operator.
DEMO_OPERATOR_WECOM_USERID = "demo-operator"


async def _ensure_categories(created: dict[str, int]) -> dict[str, Category]:
    out = {}
    for sort, name in enumerate(DEMO_CATEGORIES):
        cat, made = await Category.get_or_create(name=name, defaults={"sort": sort})
        created["categories"] += made
        out[name] = cat
    return out


async def _ensure_products(categories: dict[str, Category], created: dict[str, int]) -> None:
    for sort, (cat_name, slug, title, subtitle, skus) in enumerate(DEMO_PRODUCTS):
        async with in_transaction() as conn:
            product = await Product.filter(title=title).using_db(conn).order_by("id").first()
            if product is None:
                image = IMG.format(slug)
                product = await Product.create(
                    title=title, subtitle=subtitle, category_id=categories[cat_name].id, main_image=image,
                    images=[image], description=f"{title}：{subtitle}。", sort=sort, using_db=conn)
                created["products"] += 1
            for i, (code, name, price, original, stock) in enumerate(skus):
                if await Sku.filter(code=code).using_db(conn).exists():
                    continue
                await Sku.create(product_id=product.id, code=code, name=name, price_fen=price,
                                 original_price_fen=original, stock=stock,
                                 image=IMG.format(f"{slug}-{i + 1}"), using_db=conn)
                created["skus"] += 1
            await refresh_price_from(product.id, conn)


async def _ensure_user(openid: str, nickname: str, phone: str, created: dict[str, int]) -> User:
    user, made = await User.get_or_create(openid=openid, defaults={"nickname": nickname, "phone": phone})
    created["users"] += made
    return user


async def _ensure_demo_leader(created: dict[str, int]) -> None:
    user = await _ensure_user(DEMO_LEADER_OPENID, "演示团长", "13800000001", created)
    leader = await Leader.get_or_none(user_id=user.id)
    if leader is None:
        leader = await Leader.create(user_id=user.id, name="王团长", phone="13800000001",
                                     status=LeaderStatus.approved, commission_bp=500,
                                     approved_at=utcnow())
        created["leaders"] += 1
    if not await PickupPoint.filter(leader_id=leader.id, name="幸福里小区自提点").exists():
        await PickupPoint.create(
            leader_id=leader.id, name="幸福里小区自提点", province="浙江省", city="杭州市", district="西湖区",
            address="文三路 100 号幸福里小区 3 幢 1 楼便利店", latitude=30.2775, longitude=120.1310,
            contact_phone="13800000001", business_hours="08:00-21:00", cutoff_time="22:00")
        created["pickup_points"] += 1


async def _ensure_demo_promoter(created: dict[str, int]) -> User:
    """The demo promoter: a user with an approved promoter record, so the promoter pages and
    share scene (r=<user id>) work in every promote mode."""
    user = await _ensure_user(DEMO_PROMOTER_OPENID, "演示推手", "13800000002", created)
    if not await Promoter.filter(user_id=user.id).exists():
        now = utcnow()
        await Promoter.create(user_id=user.id, status=PromoterStatus.approved, real_name="演示推手",
                              phone="13800000002", applied_at=now, reviewed_at=now,
                              review_note="演示数据")
        created["promoters"] += 1
    return user


async def _ensure_demo_operator(created: dict[str, int]) -> None:
    username, password = DEMO_OPERATOR
    existing = await Operator.get_or_none(username=username)
    if existing is not None:
        if not existing.wecom_userid and not await Operator.filter(wecom_userid=DEMO_OPERATOR_WECOM_USERID).exists():
            await Operator.filter(id=existing.id, wecom_userid=None).update(wecom_userid=DEMO_OPERATOR_WECOM_USERID)
        return
    from huituan.services.operators import create_operator

    await create_operator(username, password, display_name="演示运营", wecom_userid=DEMO_OPERATOR_WECOM_USERID)
    created["operators"] += 1


async def demo_operator_login() -> tuple[str, str] | None:
    """The demo operator's username and password while that account exists, is active and
    still has the demo password (for the start-up banner); None otherwise."""
    from huituan.services.operators import verify_password

    username, password = DEMO_OPERATOR
    op = await Operator.get_or_none(username=username)
    if op is None or not op.is_active or not verify_password(password, op.password_hash):
        return None
    return username, password


async def load_demo_data() -> dict[str, Any]:
    """Create what is missing; returns how many rows of each kind exist and were created now."""
    created = {k: 0 for k in ("categories", "products", "skus", "users", "leaders", "pickup_points", "promoters",
                              "operators")}
    categories = await _ensure_categories(created)
    await _ensure_products(categories, created)
    await _ensure_demo_leader(created)
    await _ensure_demo_promoter(created)
    await _ensure_demo_operator(created)
    codes = [code for *_, skus in DEMO_PRODUCTS for code, *__ in skus]
    return {
        "categories": await Category.filter(name__in=list(DEMO_CATEGORIES)).count(),
        "products": await Product.filter(title__in=[p[2] for p in DEMO_PRODUCTS]).count(),
        "skus": await Sku.filter(code__in=codes).count(),
        "leaders": await Leader.filter(user__openid=DEMO_LEADER_OPENID).count(),
        "pickup_points": await PickupPoint.filter(leader__user__openid=DEMO_LEADER_OPENID).count(),
        "promoter_users": await User.filter(openid=DEMO_PROMOTER_OPENID).count(),
        "promoters": await Promoter.filter(
            user_id__in=await User.filter(openid=DEMO_PROMOTER_OPENID).values_list("id", flat=True)).count(),
        "operators": await Operator.filter(username=DEMO_OPERATOR[0]).count(),
        "created": created,
    }
