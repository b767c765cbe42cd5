"""WeCom temporary media and image messages: our client's multipart upload against the
sandbox's media/upload over real HTTP (type, PNG/JPEG, size, token refresh), and image
messages that need a media_id the sandbox knows."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from PIL import Image

from huituan.core.errors import UpstreamError
from huituan.core.sandbox import keys
from huituan.core.sandbox.wecom import IMAGE_MAX_BYTES


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (120, 80), noise: bool = False) -> bytes:
    if noise:  # random pixels do not compress: the file is about 3 bytes a pixel
        img = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        img = Image.new("RGB", size, (228, 57, 60))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


async def sandbox_outbox(client) -> dict:
    return await (await client.get("/sandbox/outbox")).json()


async def upload_error(rt, *args) -> int:
    with pytest.raises(UpstreamError) as exc:
        await rt.wechat.wecom.upload_media(*args)
    return exc.value.details["errcode"]


async def test_uploaded_image_is_sent_as_an_image_message(rt, client):
    # given a PNG uploaded as temporary media
    png = image_bytes("PNG", (120, 80))
    media_id = await rt.wechat.wecom.upload_media("image", "poster.png", png)
    # when it is sent to a member
    await rt.wechat.wecom.send_image("leader-1", media_id)
    # then the sandbox recorded an image message with that media, and holds the very bytes
    [msg] = (await sandbox_outbox(client))["wecom_messages"]
    assert msg["touser"] == "leader-1" and msg["msgtype"] == "image" and msg["media_id"] == media_id
    assert msg["image"] == {"format": "png", "width": 120, "height": 80, "size": len(png),
                            "sha256": hashlib.sha256(png).hexdigest()}
    resp = await client.get(f"/sandbox/wecom/media/{media_id}")
    assert resp.status == 200 and resp.content_type == "image/png" and await resp.read() == png
    assert (await client.get("/sandbox/wecom/media/nope")).status == 404


async def test_jpeg_upload_refreshes_a_rejected_token_like_every_call(rt, client):
    # given a token the sandbox expired
    stale = await rt.wechat.wecom.tokens.get()
    assert (await (await client.post("/sandbox/wecom/expire-tokens")).json())["expired"] == 1
    # when a JPEG is uploaded (a multipart body, rebuilt for the retry)
    jpeg = image_bytes("JPEG", (64, 48))
    media_id = await rt.wechat.wecom.upload_media("image", "poster.jpg", jpeg)
    await rt.wechat.wecom.send_image("leader-1", media_id)
    # then the upload went through with a fresh token and the image is a JPEG
    assert await rt.wechat.wecom.tokens.get() != stale
    image = (await sandbox_outbox(client))["wecom_messages"][-1]["image"]
    assert (image["format"], image["width"], image["height"]) == ("jpeg", 64, 48)


async def test_bad_type_bad_content_and_bad_sizes_are_refused(rt, client):
    png = image_bytes("PNG")
    assert await upload_error(rt, "voice", "a.amr", png) == 40004  # only type=image is emulated
    assert await upload_error(rt, "image", "a.png", b"not an image at all") == 40005
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    assert await upload_error(rt, "image", "a.gif", gif.getvalue()) == 40005  # a real image, not PNG/JPEG
    assert await upload_error(rt, "image", "a.png", png[:5]) == 40006  # WeCom wants more than 5 bytes
    big = image_bytes("PNG", (1000, 800), noise=True)
    assert len(big) > IMAGE_MAX_BYTES
    assert await upload_error(rt, "image", "big.png", big) == 40006
    with pytest.raises(ValueError):
        await rt.wechat.wecom.upload_media("sticker", "a.png", png)  # not a WeCom media type at all
    # nothing was stored, nothing sent
    assert (await sandbox_outbox(client))["wecom_messages"] == []


async def test_upload_without_the_media_field_or_token_is_refused(rt, client):
    token = await rt.wechat.wecom.tokens.get()
    url = "/sandbox/wecom/cgi-bin/media/upload"
    resp = await client.post(url, params={"access_token": token, "type": "image"}, json={"media": "x"})
    assert (await resp.json())["errcode"] == 44001
    resp = await client.post(url, params={"access_token": token, "type": "image"},
                             data={"file": io.BytesIO(image_bytes())})  # the wrong field name
    assert (await resp.json())["errcode"] == 44001
    resp = await client.post(url, params={"type": "image"}, data={"media": io.BytesIO(image_bytes())})
    assert (await resp.json())["errcode"] == 41001


@pytest.mark.parametrize("body", [
    b'--b\r\nContent-Disposition: form-data; name="me\x00dia"; filename="\xff.png"\r\n\r\nx\r\n--b--\r\n',
    b"--b\r\nX: " + b"a" * 100_000 + b"\r\n\r\nx\r\n--b--\r\n",  # a part header line too long
    b"--b\r\nContent-Disposition: form-data; name=media\r\n\r\nno closing boundary",
])
async def test_a_malformed_multipart_body_is_a_wecom_error_not_a_500(rt, client, body):
    token = await rt.wechat.wecom.tokens.get()
    resp = await client.post("/sandbox/wecom/cgi-bin/media/upload", params={"access_token": token, "type": "image"},
                             data=body, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert resp.status == 200 and (await resp.json())["errcode"] in (44001, 40005, 40006)


async def test_image_message_needs_a_known_media_id(rt, client):
    with pytest.raises(UpstreamError) as exc:
        await rt.wechat.wecom.send_image("leader-1", "sandbox-media-never-uploaded")
    assert exc.value.details["errcode"] == 40007
    token = await rt.wechat.wecom.tokens.get()
    resp = await client.post("/sandbox/wecom/cgi-bin/message/send", params={"access_token": token},
                             json={"touser": "leader-1", "msgtype": "image", "agentid": int(keys.SANDBOX_AGENT_ID),
                                   "image": {}})
    assert (await resp.json())["errcode"] == 41006
    assert (await sandbox_outbox(client))["wecom_messages"] == []


async def test_fail_next_media_fails_one_upload(rt, client):
    await client.post("/sandbox/fail-next", json={"api": "media", "errcode": -1, "count": 1})
    assert await upload_error(rt, "image", "a.png", image_bytes()) == -1
    assert await rt.wechat.wecom.upload_media("image", "a.png", image_bytes())
