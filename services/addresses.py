"""Shipping addresses of a user; at most one default."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from huituan.core.errors import NotFound
from huituan.models.user import Address

FIELDS = ("receiver", "phone", "province", "city", "district", "detail")


def address_to_dict(a: Address) -> dict[str, Any]:
    return {
        "id": a.id, "receiver": a.receiver, "phone": a.phone, "province": a.province,
        "city": a.city, "district": a.district, "detail": a.detail, "is_default": a.is_default,
    }


def address_snapshot(a: Address) -> dict[str, Any]:
    """What an order keeps: the address as it was when the order was placed."""
    d = address_to_dict(a)
    d.pop("is_default")
    return d


async def list_addresses(user_id: int) -> dict[str, Any]:
    rows = await Address.filter(user_id=user_id).order_by("-is_default", "-id")
    return {"items": [address_to_dict(a) for a in rows]}


async def get_own_address(user_id: int, address_id: int, field: str = "address_id") -> Address:
    """Someone else's address is indistinguishable from a missing one (404)."""
    a = await Address.get_or_none(id=address_id, user_id=user_id)
    if a is None:
        raise NotFound("收货地址不存在", code="address_not_found", field=field)
    return a


async def create_address(user_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """The first address becomes the default; ``is_default`` moves the default here."""
    async with in_transaction() as conn:
        has_any = await Address.filter(user_id=user_id).using_db(conn).exists()
        make_default = bool(data.get("is_default")) or not has_any
        if make_default:
            await Address.filter(user_id=user_id, is_default=True).using_db(conn).update(is_default=False)
        a = await Address.create(user_id=user_id, is_default=make_default,
                                 **{k: data[k] for k in FIELDS if k in data}, using_db=conn)
    return address_to_dict(a)


async def update_address(user_id: int, address_id: int, data: dict[str, Any]) -> dict[str, Any]:
    await get_own_address(user_id, address_id, field="id")
    async with in_transaction() as conn:
        updates = {k: data[k] for k in FIELDS if data.get(k) is not None}
        if data.get("is_default"):
            await Address.filter(user_id=user_id, is_default=True).using_db(conn).update(is_default=False)
            updates["is_default"] = True
        if updates:
            await Address.filter(id=address_id, user_id=user_id).using_db(conn).update(**updates)
        a = await Address.get(id=address_id).using_db(conn)
    return address_to_dict(a)


async def delete_address(user_id: int, address_id: int) -> None:
    """Deleting the default hands the default to the newest remaining address."""
    a = await get_own_address(user_id, address_id, field="id")
    async with in_transaction() as conn:
        await Address.filter(id=a.id, user_id=user_id).using_db(conn).delete()
        if a.is_default:
            nxt = await Address.filter(user_id=user_id).using_db(conn).order_by("-id").first()
            if nxt is not None:
                await Address.filter(id=nxt.id).using_db(conn).update(is_default=True)
