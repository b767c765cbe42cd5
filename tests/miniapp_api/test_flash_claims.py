"""The flash-sale claim over HTTP when the line is long: 202 queued, then the poll."""

import asyncio

import pytest

from huituan.core.settings import Settings
from huituan.miniapp_api.schemas.activities import ClaimStateOut
from tests.factories import auth, make_address, make_user, token_for
from tests.services.activities.helpers import given_flash_session


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings(flash_answer_backlog=0)  # every winner is answered at once (a burst)


async def _poll(client, headers, session_id, key, *, until="ordered"):
    for _ in range(200):
        resp = await client.get("/api/v1/flash-sales/claims/state", headers=headers,
                                params={"session_id": str(session_id), "request_id": key})
        body = await resp.json()
        assert resp.status == 200, body
        if body["status"] == until:
            return body
        assert body["status"] == "queued", body
        await asyncio.sleep(0.01)
    raise AssertionError(f"claim {key} never reached {until}: {body}")


async def test_a_queued_claim_answers_202_and_the_poll_finds_its_order(client, rt):
    s = await given_flash_session(rt.redis, stock=2, per_user_limit=1)
    user = await make_user()
    address = await make_address(user)
    headers = auth(token_for(user))
    claim = {"session_id": s["id"], "item_id": s["items"][0]["id"], "delivery_mode": "express",
             "address_id": address.id}
    resp = await client.post("/api/v1/flash-sales/claims", headers=headers | {"Idempotency-Key": "q-1"}, json=claim)
    body = await resp.json()
    assert resp.status == 202 and body["status"] == "queued" and body["order"] is None, body
    assert body["request_id"] == "q-1" and body["quantity"] == 1 and "订单生成中" in body["message"]
    assert 300 <= body["retry_after_ms"] <= 5000  # when to look again
    done = await _poll(client, headers, s["id"], "q-1")
    assert done["order"]["payable_fen"] == 99 and done["order"]["activity_type"] == "flash_sale"
    # The same key again: the order (200), not a second claim.
    resp = await client.post("/api/v1/flash-sales/claims", headers=headers | {"Idempotency-Key": "q-1"}, json=claim)
    assert resp.status == 200 and (await resp.json())["id"] == done["order"]["id"]
    # Another buyer's poll of the same key finds nothing: claims are per user.
    other = auth(token_for(await make_user()))
    resp = await client.get("/api/v1/flash-sales/claims/state", headers=other,
                            params={"session_id": str(s["id"]), "request_id": "q-1"})
    assert resp.status == 404 and (await resp.json())["error"] == "flash_claim_not_found"


async def test_a_queued_claim_whose_order_cannot_be_made_polls_as_failed(client, rt):
    s = await given_flash_session(rt.redis, stock=2, per_user_limit=1)
    user, stranger = await make_user(), await make_user()
    headers = auth(token_for(user))
    claim = {"session_id": s["id"], "item_id": s["items"][0]["id"], "delivery_mode": "express",
             "address_id": (await make_address(stranger)).id}
    resp = await client.post("/api/v1/flash-sales/claims", headers=headers | {"Idempotency-Key": "q-2"}, json=claim)
    assert resp.status == 202
    failed = await _poll(client, headers, s["id"], "q-2", until="failed")
    assert failed["error"] == "address_not_found" and failed["order"] is None and failed["message"]
    detail = await (await client.get(f"/api/v1/flash-sales/{s['id']}")).json()
    assert detail["items"][0]["stock_left"] == 2  # the unit went back


@pytest.mark.parametrize("params, field", [
    ({"request_id": "x"}, "session_id"),
    ({"session_id": "1"}, "request_id"),
    ({"session_id": "0", "request_id": "x"}, "session_id"),
    ({"session_id": "1", "request_id": "x" * 65}, "request_id"),
    ({"session_id": "abc", "request_id": "x"}, "session_id"),
    ({"session_id": "1", "request_id": "x", "extra": "1"}, "extra"),
])
async def test_bad_polls_name_the_field(client, params, field):
    headers = auth(token_for(await make_user()))
    resp = await client.get("/api/v1/flash-sales/claims/state", headers=headers, params=params)
    body = await resp.json()
    assert resp.status == 422 and body["details"]["field"] == field, body


async def test_the_poll_needs_a_user_token(client):
    resp = await client.get("/api/v1/flash-sales/claims/state", params={"session_id": "1", "request_id": "x"})
    assert resp.status == 401


async def test_the_202_answer_is_documented_with_its_own_body(client):
    doc = await (await client.get("/api/v1/openapi.json")).json()
    answers = doc["paths"]["/api/v1/flash-sales/claims"]["post"]["responses"]
    assert answers["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/ClaimStateOut")
    assert answers["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/MyOrderOut")
    assert "ClaimStateOut" in doc["components"]["schemas"]
    example = answers["202"]["content"]["application/json"]["example"]
    assert ClaimStateOut.model_validate(example).status in ("queued", "ordered", "failed")
