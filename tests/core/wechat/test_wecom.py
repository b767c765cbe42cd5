"""WeCom client and crypto against the sandbox over real HTTP."""

from __future__ import annotations

import time

import pytest
import xmltodict
from wechatpy.exceptions import InvalidSignatureException

from huituan.core.errors import UpstreamError
from huituan.core.sandbox.wecom import encrypt_for_callback, text_message_xml


def test_crypto_round_trip_with_sandbox_callback_encryption(rt):
    # given a message encrypted the way WeCom calls our callback
    xml = text_message_xml("leader-1", "今日汇总", 12345)
    params, body = encrypt_for_callback(xml)
    # when our crypto decrypts it
    plain = rt.wechat.wecom.crypto.decrypt_message(body, params["msg_signature"], params["timestamp"], params["nonce"])
    # then it is the message, and a reply encrypts back
    msg = xmltodict.parse(plain)["xml"]
    assert msg["Content"] == "今日汇总" and msg["FromUserName"] == "leader-1" and msg["MsgId"] == "12345"
    reply = rt.wechat.wecom.crypto.encrypt_message("<xml><Content>好的</Content></xml>", "n1", str(int(time.time())))
    root = xmltodict.parse(reply)["xml"]
    assert rt.wechat.wecom.crypto.decrypt_message(reply, root["MsgSignature"], root["TimeStamp"], root["Nonce"]) \
        == "<xml><Content>好的</Content></xml>"
    # and a forged signature is refused
    with pytest.raises(InvalidSignatureException):
        rt.wechat.wecom.crypto.decrypt_message(body, "0" * 40, params["timestamp"], params["nonce"])


async def test_robot_push_is_visible_in_sandbox_outbox(rt, client):
    await rt.wechat.wecom.robot_push("## 今日订单\n> 共 **3** 单")
    await rt.wechat.wecom.robot_push("纯文本", msgtype="text")
    outbox = await (await client.get("/sandbox/outbox")).json()
    assert [(p["msgtype"], p["content"]) for p in outbox["robot_pushes"]] == [
        ("markdown", "## 今日订单\n> 共 **3** 单"), ("text", "纯文本")]


async def test_app_messages_are_sent_with_agentid_and_token_refresh(rt, client):
    await rt.wechat.wecom.send_text("leader-1", "您好")
    await client.post("/sandbox/wecom/expire-tokens")
    await rt.wechat.wecom.send_markdown("leader-1|op-1", "**到货通知**")
    outbox = await (await client.get("/sandbox/outbox")).json()
    assert [(m["touser"], m["msgtype"], m["content"]) for m in outbox["wecom_messages"]] == [
        ("leader-1", "text", "您好"), ("leader-1|op-1", "markdown", "**到货通知**")]


async def test_robot_bad_key_is_upstream_error(rt):
    rt.wechat.wecom.robot_key = "wrong"
    with pytest.raises(UpstreamError) as exc:
        await rt.wechat.wecom.robot_push("x")
    assert exc.value.details["errcode"] == 93000


async def test_send_to_bot_reaches_our_callback_and_decrypts_the_reply(client):
    # The bot's answers belong to the bot's tests; here: the sandbox's signed, encrypted
    # message passes our callback's verification and our encrypted reply decrypts.
    result = await (await client.post("/sandbox/wecom/send-to-bot",
                                      json={"from_user": "leader-1", "content": "帮助"})).json()
    assert result["status"] == 200, result
    assert result["reply"].startswith("<xml>") and result["reply_content"]
