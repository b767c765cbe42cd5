"""Test data with keyword overrides. Models are written directly (given ...); actions that
the buyer performs go through the HTTP API (when ...), WeChat through the sandbox."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from huituan.core.tokens import issue_token
from huituan.models.catalog import Category, Product, Sku
from huituan.models.user import Address, User

_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


async def make_user(**kw: Any) -> User:
    n = _n()
    values: dict[str, Any] = {"openid": f"test-openid-{n}-{uuid.uuid4().hex[:8]}", "nickname": f"用户{n}"}
    values.update(kw)
    return await User.create(**values)


async def make_category(**kw: Any) -> Category:
    n = _n()
    values: dict[str, Any] = {"name": f"分类{n}", "sort": n}
    values.update(kw)
    return await Category.create(**values)


async def make_product(skus: list[dict[str, Any]] | None = None, **kw: Any) -> Product:
    """A product with its SKUs (default one SKU: 1000 fen, stock 100).
    The created SKUs are on ``product.sku_list`` in the given order."""
    n = _n()
    skus = skus if skus is not None else [{"price_fen": 1000, "stock": 100}]
    values: dict[str, Any] = {"title": f"商品{n}", "subtitle": f"副标题{n}", "main_image": f"https://img.test/p{n}.jpg",
                              "images": [f"https://img.test/p{n}-1.jpg"]}
    values.update(kw)
    on_sale_prices = [s.get("price_fen", 1000) for s in skus if s.get("on_sale", True)]
    values.setdefault("price_from_fen", min(on_sale_prices) if on_sale_prices else 0)
    product = await Product.create(**values)
    created = []
    for i, s in enumerate(skus):
        sv: dict[str, Any] = {"code": f"SKU-{n}-{i}-{uuid.uuid4().hex[:6]}", "name": f"规格{i + 1}",
                              "price_fen": 1000, "stock": 100}
        sv.update(s)
        created.append(await Sku.create(product_id=product.id, **sv))
    product.sku_list = created  # type: ignore[attr-defined]
    return product


async def make_address(user: User | int, **kw: Any) -> Address:
    values: dict[str, Any] = {"receiver": "张三", "phone": "13800000000", "province": "广东省", "city": "深圳市",
                              "district": "南山区", "detail": "科技园 1 号", "is_default": True}
    values.update(kw)
    return await Address.create(user_id=user if isinstance(user, int) else user.id, **values)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def keyed(token: str, key: str | None = None) -> dict[str, str]:
    """Authorization plus an Idempotency-Key (a fresh one unless given): orders, withdrawals."""
    return auth(token) | {"Idempotency-Key": key or uuid.uuid4().hex}


def token_for(user: User | int, secret: str | None = None, ttl: int = 3600, now: float | None = None) -> str:
    """A user token without the login round trip (the test secret unless given)."""
    from tests.conftest import TEST_SECRET

    uid = user if isinstance(user, int) else user.id
    return issue_token(secret or TEST_SECRET, uid, "user", ttl, now=now)


async def login(client, code: str = "u1", scene: str | None = None) -> tuple[str, dict[str, Any]]:
    """Log in through the API (the sandbox answers code2session). Returns (token, user_json)."""
    body: dict[str, Any] = {"code": code}
    if scene is not None:
        body["scene"] = scene
    resp = await client.post("/api/v1/auth/login", json=body)
    data = await resp.json()
    assert resp.status == 200, data
    return data["token"], data["user"]


def _lines(items) -> list[dict[str, Any]]:
    out = []
    for it in items:
        if isinstance(it, dict):
            out.append(it)
        elif isinstance(it, Sku):
            out.append({"sku_id": it.id, "quantity": 1})
        else:
            sku, q = it
            out.append({"sku_id": sku.id if isinstance(sku, Sku) else sku, "quantity": q})
    return out


async def create_order(client, token: str, items, *, delivery_mode: str = "express",
                       address_id: int | None = None, pickup_point_id: int | None = None,
                       idempotency_key: str | None = None, expect: int | None = 201, **body: Any) -> dict[str, Any]:
    """Place an order through the API. ``items``: [(sku, quantity)], [sku] or [{sku_id, quantity}].
    An express order without ``address_id`` gets a fresh address through the API."""
    if delivery_mode == "express" and address_id is None:
        resp = await client.post("/api/v1/addresses", headers=auth(token), json={
            "receiver": "张三", "phone": "13800000000", "province": "广东省", "city": "深圳市",
            "district": "南山区", "detail": "科技园 1 号"})
        assert resp.status == 201, await resp.text()
        address_id = (await resp.json())["id"]
    payload: dict[str, Any] = {"items": _lines(items), "delivery_mode": delivery_mode, **body}
    if address_id is not None:
        payload["address_id"] = address_id
    if pickup_point_id is not None:
        payload["pickup_point_id"] = pickup_point_id
    headers = auth(token) | {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
    resp = await client.post("/api/v1/orders", headers=headers, json=payload)
    data = await resp.json()
    if expect is not None:
        assert resp.status == expect, data
    return data


def prepay_id_of(payment_params: dict[str, Any]) -> str:
    return payment_params["package"].split("=", 1)[1]


async def pay_order(client, token: str, order_id: int, amount_fen: int | None = None) -> dict[str, Any]:
    """Pay through the API and the sandbox: prepay, then the sandbox 'user' pays and WeChat Pay
    sends the signed notify to us. Returns the sandbox answer {notify_status, transaction_id}."""
    resp = await client.post(f"/api/v1/orders/{order_id}/pay", headers=auth(token))
    data = await resp.json()
    assert resp.status == 200, data
    body = {} if amount_fen is None else {"amount_fen": amount_fen}
    resp = await client.post(f"/sandbox/pay/{prepay_id_of(data['payment'])}/complete", json=body)
    result = await resp.json()
    assert resp.status == 200, result
    return result
