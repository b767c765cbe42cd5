"""Share posters delivered into WeCom chat (outbox wecom_poster): rendered, uploaded to the
sandbox's media/upload and sent as an image message; retried through the outbox's backoff when
WeCom fails; failed at once, with a line to the member, when the target is gone."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image

from huituan.core.clock import utcnow
from huituan.core.sandbox import SANDBOX_KEY
from huituan.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from huituan.posters import template_store
from huituan.services import outbox
from tests.factories import make_product, make_user
from tests.miniapp_api.poster_helpers import decode_poster, share_code_of


@pytest.fixture
def settings(make_settings):
    return make_settings(poster_render_mode="thread", poster_request_cache_seconds=0)


async def sandbox_outbox(client) -> dict:
    await outbox.wait_idle()
    return await (await client.get("/sandbox/outbox")).json()


async def images_to(client, touser: str) -> list[dict]:
    return [m for m in (await sandbox_outbox(client))["wecom_messages"]
            if m["touser"] == touser and m["msgtype"] == "image"]


async def make_due(dedupe_key: str) -> None:
    """The backoff has passed (the test does not wait 10 s)."""
    await OutboxMessage.filter(dedupe_key=dedupe_key).update(next_attempt_at=utcnow() - timedelta(seconds=1))


async def test_product_poster_arrives_as_the_image_the_service_renders(client, rt):
    # given a sharer and a product on sale, and a poster queued for the sharer's WeCom user
    sharer = await make_user(nickname="王团长")
    berry = await make_product(title="草莓")
    await outbox.queue_wecom_poster("wx-wang", sharer.id, "product", berry.id, "t:poster:1")
    # when the outbox runs (twice)
    assert await outbox.deliver_pending(rt) == 1
    assert await outbox.deliver_pending(rt) == 0
    # then exactly one image message went to that member: the product poster of the sharer
    [msg] = await images_to(client, "wx-wang")
    body = await (await client.get(f"/sandbox/wecom/media/{msg['media_id']}")).read()
    _, _, spec = await template_store.resolve("product", None)
    with Image.open(io.BytesIO(body)) as img:
        assert img.size == (spec["canvas"]["width"], spec["canvas"]["height"])
        assert img.format.lower() == msg["image"]["format"] == spec.get("format", "jpeg")
    share = await (await client.get(f"/api/v1/share/{share_code_of(decode_poster(body))}")).json()
    assert share["target"] == {"kind": "product", "id": berry.id} and share["sharer"]["id"] == sharer.id
    assert (await OutboxMessage.get(dedupe_key="t:poster:1")).status == OutboxStatus.sent


async def test_a_failed_upload_or_send_is_retried_and_sends_one_image(client, rt):
    sharer = await make_user()
    product = await make_product()
    await outbox.queue_wecom_poster("wx-li", sharer.id, "product", product.id, "t:poster:retry")
    # given WeCom fails the first upload, then the first send
    await client.post("/sandbox/fail-next", json={"api": "media", "errcode": -1, "count": 1})
    assert await outbox.deliver_pending(rt) == 0
    row = await OutboxMessage.get(dedupe_key="t:poster:retry")
    assert (row.status, row.attempts) == (OutboxStatus.pending, 1) and "-1" in row.last_error
    assert row.next_attempt_at > utcnow()  # the outbox's backoff
    await client.post("/sandbox/fail-next", json={"api": "wecom", "errcode": -1, "count": 1})
    await make_due("t:poster:retry")
    assert await outbox.deliver_pending(rt) == 0
    assert await images_to(client, "wx-li") == []
    # when it is due again
    await make_due("t:poster:retry")
    assert await outbox.deliver_pending(rt) == 1
    # then one image arrived; the upload that worked was not repeated for the send's retry
    assert len(await images_to(client, "wx-li")) == 1
    assert len(client.server.app[SANDBOX_KEY].media) == 1
    row = await OutboxMessage.get(dedupe_key="t:poster:retry")
    assert (row.status, row.attempts) == (OutboxStatus.sent, 3)


async def test_a_poster_whose_target_is_gone_fails_at_once_and_says_why(client, rt, caplog):
    sharer = await make_user()
    gone = await make_product(on_sale=False)
    await outbox.queue_wecom_poster("wx-zhao", sharer.id, "product", gone.id, "t:poster:gone")
    await outbox.queue_wecom_poster("wx-zhao", sharer.id, "group_buy", 987654, "t:poster:nogroup")
    assert await outbox.deliver_pending(rt) == 0
    for key in ("t:poster:gone", "t:poster:nogroup"):
        row = await OutboxMessage.get(dedupe_key=key)
        assert (row.kind, row.status, row.attempts) == (OutboxKind.wecom_poster, OutboxStatus.failed, 1), key
        assert "poster_target_not_found" in row.last_error
    assert "cannot be made: poster_target_not_found" in caplog.text
    sent = (await sandbox_outbox(client))["wecom_messages"]
    assert [(m["msgtype"], m["content"]) for m in sent] == [
        ("text", "海报未能生成：商品不存在或已下架。"), ("text", "海报未能生成：拼团不存在或已下架。")]


async def test_the_same_poster_is_uploaded_once_and_again_when_wecom_let_it_go(client, rt):
    """A leader asking 海报 again, or a second member getting the same poster, reuses the
    uploaded image (media_id kept by the image's hash); when WeCom no longer knows it (40007)
    the send fails, the kept id is forgotten and the retry uploads afresh."""
    sharer = await make_user()
    product = await make_product()
    media = client.server.app[SANDBOX_KEY].media
    for n, touser in enumerate(("wx-zhao", "wx-zhao", "wx-qian")):
        await outbox.queue_wecom_poster(touser, sharer.id, "product", product.id, f"t:poster:again:{n}")
        assert await outbox.deliver_pending(rt) == 1
    images = await images_to(client, "wx-zhao") + await images_to(client, "wx-qian")
    assert len(images) == 3 and len({m["media_id"] for m in images}) == 1
    assert len(media) == 1  # one upload for three images
    # given WeCom let the image go before our three days were up
    media[images[0]["media_id"]]["expires_at"] = 0
    await outbox.queue_wecom_poster("wx-zhao", sharer.id, "product", product.id, "t:poster:again:3")
    assert await outbox.deliver_pending(rt) == 0
    row = await OutboxMessage.get(dedupe_key="t:poster:again:3")
    assert row.status == OutboxStatus.pending and "40007" in row.last_error
    await make_due("t:poster:again:3")
    assert await outbox.deliver_pending(rt) == 1
    latest = (await images_to(client, "wx-zhao"))[-1]
    assert latest["media_id"] != images[0]["media_id"] and len(media) == 2
