"""Mini-program client against the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from huituan.core.errors import UpstreamError, ValidationFailed
from huituan.core.sandbox.wechat import openid_for


async def _token_fetches(client) -> int:
    return (await (await client.get("/sandbox/wechat/stats")).json())["token_fetches"]


async def test_twenty_concurrent_calls_fetch_one_token(rt, client):
    # given an empty token cache
    mp = rt.wechat.miniprogram
    # when 20 callers need WeChat at once
    phones = await asyncio.gather(*(mp.get_phone_number(f"phone-code-{i}") for i in range(20)))
    # then exactly one token was fetched and all of them were served
    assert await _token_fetches(client) == 1
    assert all(p.startswith("13800") and len(p) == 11 for p in phones)
    # and later calls reuse the cached token
    await mp.get_phone_number("again")
    assert await _token_fetches(client) == 1


async def test_expired_token_is_refreshed_once_and_the_call_retried(rt, client):
    mp = rt.wechat.miniprogram
    await mp.get_phone_number("c1")
    # when WeChat expires every issued token
    assert (await (await client.post("/sandbox/wechat/expire-tokens")).json())["expired"] == 1
    # then concurrent callers get through with a single new token
    results = await asyncio.gather(*(mp.get_phone_number(f"c{i}") for i in range(10)))
    assert len(results) == 10
    assert await _token_fetches(client) == 2


async def test_code2session_success_is_stable(rt):
    s1 = await rt.wechat.miniprogram.code2session("abc")
    s2 = await rt.wechat.miniprogram.code2session("abc")
    assert s1.openid == s2.openid == openid_for("abc")
    assert len(s1.openid) == 28 and s1.session_key and s1.unionid


@pytest.mark.parametrize("code", ["invalid", "used", ""])
async def test_code2session_bad_code_is_validation_error(rt, code):
    with pytest.raises(ValidationFailed) as exc:
        await rt.wechat.miniprogram.code2session(code)
    assert exc.value.code == "wechat_code_invalid" and exc.value.details["field"] == "code"


@pytest.mark.parametrize("code", ["invalid", "used"])  # "used" answered a phone until session 7
async def test_phone_number_bad_code(rt, code):
    with pytest.raises(ValidationFailed) as exc:
        await rt.wechat.miniprogram.get_phone_number(code)
    assert exc.value.code == "wechat_code_invalid"


async def test_wxacode_is_a_png(rt):
    png = await rt.wechat.miniprogram.get_wxacode_unlimit("u=12&p=3", page="pages/product/detail", width=430)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (430, 430)


@pytest.mark.parametrize("scene", ["x" * 33, "有中文", ""])
async def test_wxacode_bad_scene_is_upstream_error_with_errcode(rt, scene):
    with pytest.raises(UpstreamError) as exc:
        await rt.wechat.miniprogram.get_wxacode_unlimit(scene)
    assert exc.value.details["errcode"] == 40169


async def test_subscribe_message_is_recorded(rt, client):
    await rt.wechat.miniprogram.send_subscribe_message(
        "o-user-1", "TPL_PAID", {"thing1": "拼团成功", "amount2": {"value": "19.90元"}}, page="pages/order/detail?id=1"
    )
    outbox = await (await client.get("/sandbox/outbox")).json()
    [msg] = outbox["subscribe_messages"]
    assert msg["touser"] == "o-user-1" and msg["template_id"] == "TPL_PAID"
    assert msg["data"] == {"thing1": {"value": "拼团成功"}, "amount2": {"value": "19.90元"}}
    assert msg["page"] == "pages/order/detail?id=1" and msg["miniprogram_state"] == "formal"


async def test_refused_subscribe_message_is_upstream_error(rt):
    with pytest.raises(UpstreamError) as exc:
        await rt.wechat.miniprogram.send_subscribe_message("o-refused-1", "TPL", {"thing1": "x"})
    assert exc.value.details["errcode"] == 43101


async def test_network_error_is_upstream_error(make_settings):
    import aiohttp

    from huituan.core.redis import create_redis
    from huituan.core.wechat.clients import create_wechat_clients

    settings = make_settings(wechat_api_base="http://127.0.0.1:1")
    async with aiohttp.ClientSession() as http:
        clients = create_wechat_clients(settings, http, create_redis("memory://"))
        try:
            with pytest.raises(UpstreamError) as exc:
                await clients.miniprogram.code2session("abc")
            assert exc.value.details["reason"] == "network_error"
        finally:
            await clients.aclose()
