"""Pickup points (自提点): where pickup orders are collected, each run by an approved leader."""

from __future__ import annotations

import re
from typing import Any

from huituan.core.errors import NotFound, ValidationFailed
from huituan.models.leader import Leader, LeaderStatus, PickupPoint

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
PICKUP_FIELDS = ("name", "province", "city", "district", "address", "latitude", "longitude", "contact_phone",
                 "business_hours", "cutoff_time", "is_active")


def pickup_point_dict(p: PickupPoint) -> dict[str, Any]:
    return {
        "id": p.id, "leader_id": p.leader_id, "name": p.name, "province": p.province, "city": p.city,
        "district": p.district, "address": p.address, "latitude": p.latitude, "longitude": p.longitude,
        "contact_phone": p.contact_phone, "business_hours": p.business_hours, "cutoff_time": p.cutoff_time,
        "is_active": p.is_active,
    }


def _active_points():
    return PickupPoint.filter(is_active=True, leader__status=LeaderStatus.approved)


async def get_active_pickup_point(pickup_point_id: int) -> PickupPoint:
    """The pickup point an order may use: active, and its leader approved."""
    point = await _active_points().filter(id=pickup_point_id).first()
    if point is None:
        raise NotFound("自提点不存在或已停用", code="pickup_point_not_found", field="pickup_point_id")
    return point


async def list_pickup_points(city: str | None = None) -> list[PickupPoint]:
    qs = _active_points()
    if city and city.strip():
        qs = qs.filter(city=city.strip())
    return await qs.order_by("city", "id")


async def list_public_pickup_points(city: str | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    """Active points of approved leaders, by city then id, one page at a time."""
    qs = _active_points()
    if city and city.strip():
        qs = qs.filter(city=city.strip())
    total = await qs.count()
    points = await qs.order_by("city", "id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [pickup_point_dict(p) for p in points], "total": total, "page": page, "page_size": page_size}


# --- admin -------------------------------------------------------------------------------------

async def list_all_pickup_points(*, leader_id: int | None = None, city: str | None = None, page: int = 1,
                                 page_size: int = 20) -> dict[str, Any]:
    qs = PickupPoint.all()
    if leader_id is not None:
        qs = qs.filter(leader_id=leader_id)
    if city:
        qs = qs.filter(city=city.strip())
    total = await qs.count()
    points = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [pickup_point_dict(p) for p in points], "total": total, "page": page, "page_size": page_size}


async def create_pickup_point(leader_id: int, data: dict[str, Any]) -> dict[str, Any]:
    if not await Leader.filter(id=leader_id).exists():
        raise NotFound("团长不存在", code="leader_not_found", field="leader_id")
    values = {k: v for k, v in data.items() if k in PICKUP_FIELDS and v is not None}
    for name in ("name", "province", "city", "address"):
        values[name] = (values.get(name) or "").strip()
        if not values[name]:
            raise ValidationFailed(f"{name} 不能为空", field=name)
    if "cutoff_time" in values and not _HHMM.match(values["cutoff_time"]):
        raise ValidationFailed("截单时间格式应为 HH:MM", field="cutoff_time")
    point = await PickupPoint.create(leader_id=leader_id, **values)
    return pickup_point_dict(point)
