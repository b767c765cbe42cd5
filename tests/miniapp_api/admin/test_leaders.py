import pytest

from huituan.core.errors import NotFound
from huituan.models.leader import Leader, LeaderStatus, PickupPoint
from huituan.services.pickup_points import get_active_pickup_point, list_pickup_points
from tests.factories import make_user

POINT = {"name": "幸福里自提点", "province": "浙江省", "city": "杭州市", "district": "西湖区",
         "address": "文三路 100 号", "latitude": 30.27, "longitude": 120.13, "contact_phone": "13800000001",
         "business_hours": "08:00-21:00", "cutoff_time": "21:30"}


async def test_create_leader_and_pickup_points(client, admin):
    user = await make_user()
    resp = await client.post("/api/admin/v1/leaders", headers=admin,
                             json={"user_id": user.id, "name": "王团长", "phone": "13800000001"})
    leader = await resp.json()
    assert resp.status == 201, leader
    assert leader["status"] == "approved" and leader["approved_at"]
    resp = await client.post("/api/admin/v1/leaders", headers=admin,
                             json={"user_id": user.id, "name": "王团长", "phone": "13800000001"})
    assert resp.status == 409 and (await resp.json())["error"] == "leader_exists"
    resp = await client.post("/api/admin/v1/leaders", headers=admin,
                             json={"user_id": 999999, "name": "x", "phone": "13800000001"})
    assert resp.status == 404 and (await resp.json())["details"]["field"] == "user_id"

    resp = await client.post(f"/api/admin/v1/leaders/{leader['id']}/pickup-points", headers=admin, json=POINT)
    point = await resp.json()
    assert resp.status == 201, point
    assert point["cutoff_time"] == "21:30" and point["leader_id"] == leader["id"]
    resp = await client.post("/api/admin/v1/pickup-points", headers=admin,
                             json={**POINT, "leader_id": leader["id"], "name": "二号点", "city": "宁波市",
                                   "cutoff_time": "25:00"})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "cutoff_time"
    resp = await client.post("/api/admin/v1/pickup-points", headers=admin,
                             json={**POINT, "leader_id": leader["id"], "name": "二号点", "city": "宁波市"})
    assert resp.status == 201
    resp = await client.post("/api/admin/v1/pickup-points", headers=admin, json={**POINT, "leader_id": 999999})
    assert resp.status == 404

    resp = await client.get("/api/admin/v1/leaders", headers=admin, params={"status": "approved"})
    assert (await resp.json())["total"] == 1
    resp = await client.get("/api/admin/v1/pickup-points", headers=admin, params={"leader_id": str(leader["id"])})
    assert (await resp.json())["total"] == 2

    resp = await client.get("/api/v1/pickup-points", params={"city": "杭州市"})
    data = await resp.json()
    assert resp.status == 200, data
    assert [p["name"] for p in data["items"]] == ["幸福里自提点"]
    resp = await client.get("/api/v1/pickup-points")
    assert len((await resp.json())["items"]) == 2
    pages = [await (await client.get("/api/v1/pickup-points", params={"page": str(n), "page_size": "1"})).json()
             for n in (1, 2, 3)]
    assert [len(p["items"]) for p in pages] == [1, 1, 0] and {p["total"] for p in pages} == {2}
    assert pages[0]["items"][0]["id"] != pages[1]["items"][0]["id"]
    assert (await client.get("/api/v1/pickup-points", params={"page_size": "51"})).status == 422


async def test_approve_pending_leader_is_compare_and_set(client, admin):
    user = await make_user()
    leader = await Leader.create(user_id=user.id, name="申请人", phone="13700000000")
    resp = await client.post(f"/api/admin/v1/leaders/{leader.id}/approve", headers=admin)
    assert resp.status == 200 and (await resp.json())["status"] == "approved"
    resp = await client.post(f"/api/admin/v1/leaders/{leader.id}/approve", headers=admin)
    assert resp.status == 409


async def test_only_active_points_of_approved_leaders_are_usable(rt):
    user = await make_user()
    leader = await Leader.create(user_id=user.id, name="张团长", phone="1", status=LeaderStatus.approved)
    good = await PickupPoint.create(leader_id=leader.id, **POINT)
    closed = await PickupPoint.create(leader_id=leader.id, **{**POINT, "is_active": False})
    assert (await get_active_pickup_point(good.id)).id == good.id
    for missing in (closed.id, 999999):
        with pytest.raises(NotFound) as exc:
            await get_active_pickup_point(missing)
        assert exc.value.code == "pickup_point_not_found" and exc.value.details["field"] == "pickup_point_id"
    await Leader.filter(id=leader.id).update(status=LeaderStatus.disabled)
    with pytest.raises(NotFound):
        await get_active_pickup_point(good.id)
    assert await list_pickup_points() == []
