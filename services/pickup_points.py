"""Pickup points (自提点): where pickup orders are collected, each run by an approved leader."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qsl, unquote

from huituan.core.errors import NotFound, ValidationFailed
from huituan.models.leader import ConsumerLeader, Leader, LeaderStatus, PickupPoint

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


# --- consumers: nearest points, default leader ---------------------------------------------------

def _distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


async def nearest_pickup_points(latitude: float | None, longitude: float | None, *, consent: bool,
                                radius_km: float = 10.0,
                                limit: int = 20) -> dict[str, Any]:
    """Active points nearest first. The location is used only with the consumer's consent and
    is never stored. A bounding box on the indexed latitude/longitude prefilters; the exact
    distance (haversine) orders what it found."""
    if not consent:
        raise ValidationFailed("consent: 需要您同意使用位置信息才能按距离查找自提点", field="consent",
                               code="location_consent_required")
    if latitude is None or longitude is None:
        raise ValidationFailed("latitude: 请提供位置（纬度和经度）", field="latitude" if latitude is None else "longitude")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValidationFailed("latitude: 坐标超出范围", field="latitude")
    dlat = radius_km / 111.0
    dlng = radius_km / max(1e-6, 111.0 * math.cos(math.radians(latitude)))
    rows = await _active_points().filter(
        latitude__gte=latitude - dlat, latitude__lte=latitude + dlat,
        longitude__gte=longitude - dlng, longitude__lte=longitude + dlng).limit(500)
    found = []
    for p in rows:
        d = _distance_km(latitude, longitude, p.latitude, p.longitude)
        if d <= radius_km:
            found.append((d, p))
    found.sort(key=lambda x: (x[0], x[1].id))
    return {"items": [{**pickup_point_dict(p), "distance_m": int(d * 1000)} for d, p in found[:limit]]}


async def set_default_point(user_id: int, pickup_point_id: int, source: str = "chosen") -> dict[str, Any]:
    """The consumer's default leader and point (changeable; a share sets it only when none)."""
    point = await get_active_pickup_point(pickup_point_id)
    if source == "share":
        await ConsumerLeader.bulk_create([ConsumerLeader(user_id=user_id, leader_id=point.leader_id,
                                                         pickup_point_id=point.id, source="share")],
                                         ignore_conflicts=True)
    else:
        n = await ConsumerLeader.filter(user_id=user_id).update(leader_id=point.leader_id, pickup_point_id=point.id,
                                                                source="chosen")
        if not n:
            await ConsumerLeader.bulk_create([ConsumerLeader(user_id=user_id, leader_id=point.leader_id,
                                                             pickup_point_id=point.id)], ignore_conflicts=True)
            await ConsumerLeader.filter(user_id=user_id).update(leader_id=point.leader_id, pickup_point_id=point.id)
    return await get_default_point(user_id)


async def get_default_point(user_id: int) -> dict[str, Any]:
    row = await ConsumerLeader.get_or_none(user_id=user_id)
    if row is None:
        return {"leader_id": None, "pickup_point": None}
    point = await _active_points().filter(id=row.pickup_point_id).first()
    return {"leader_id": row.leader_id, "pickup_point": pickup_point_dict(point) if point else None}


async def set_cutoff(user_id: int, text: str) -> dict[str, Any]:
    """The leader sets the daily cutoff of their point (截单 21:30)."""
    from huituan.services.pickup.day import point_for_actor
    from huituan.services.pickup.tickets import parse_cutoff

    cutoff = parse_cutoff(text)
    point = await point_for_actor(user_id, staff_ok=False)
    await PickupPoint.filter(id=point.id).update(cutoff_time=cutoff)
    point.cutoff_time = cutoff
    return pickup_point_dict(point)


def parse_point_scene(scene: str | None) -> int | None:
    """The pickup point of a leader's share: ``pp=<id>`` among the scene's ``k=v`` pairs."""
    if not scene:
        return None
    for key, value in parse_qsl(unquote(scene.strip()), keep_blank_values=False):
        if key == "pp" and value.isdigit() and 0 < int(value) < 2**62:
            return int(value)
    return None


async def on_user_logged_in(user_id: int, scene: str | None = None, conn=None, **_) -> None:
    """USER_LOGGED_IN: a consumer who arrived through a leader's share gets that leader as
    default, unless they already have one (ON CONFLICT DO NOTHING, in the login transaction)."""
    point_id = parse_point_scene(scene)
    if point_id is None:
        return
    point = await _active_points().filter(id=point_id).using_db(conn).first()
    if point is None:
        return
    await ConsumerLeader.bulk_create([ConsumerLeader(user_id=user_id, leader_id=point.leader_id,
                                                     pickup_point_id=point.id, source="share")],
                                     ignore_conflicts=True, using_db=conn)
