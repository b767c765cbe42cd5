"""The WeCom bot callback: real encryption with wechatpy, the same token/key as the app."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
import xmltodict
from wechatpy.work.crypto import WeChatCrypto

from huituan.core.sandbox import keys
from huituan.models.ops import JobRun
from huituan.models.order import Order, OrderItem, OrderStatus, Refund, RefundStatus
from huituan.services.operators import create_operator
from tests.bot.wecom_helpers import say
from tests.factories import make_user

URL = "/bot/wecom/callback"
OPERATOR_USERID = "zhangsan"


@pytest.fixture
def wecom() -> WeChatCrypto:
    # The sandbox key material the app uses when no WeCom app is configured.
    return WeChatCrypto(keys.SANDBOX_WECOM_TOKEN, keys.SANDBOX_WECOM_AES_KEY, keys.SANDBOX_CORP_ID)


@pytest.fixture
async def operator(client):
    return await create_operator("ops1", "password-123", display_name="小张", wecom_userid=OPERATOR_USERID)


def text_xml(content: str, sender: str = OPERATOR_USERID, msg_id: str | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{keys.SANDBOX_CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id or str(uuid.uuid4().int)[:18]}</MsgId><AgentID>{keys.SANDBOX_AGENT_ID}</AgentID></xml>"
    )


async def send(client, wecom: WeChatCrypto, xml: str, *, timestamp: int | None = None, tamper: bool = False):
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = uuid.uuid4().hex[:10]
    envelope = xmltodict.parse(wecom.encrypt_message(xml, nonce, ts))["xml"]
    signature = envelope["MsgSignature"]
    if tamper:
        signature = "0" * 40
    body = f"<xml><ToUserName><![CDATA[{keys.SANDBOX_CORP_ID}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt><AgentID>1</AgentID></xml>"
    return await client.post(URL, params={"msg_signature": signature, "timestamp": ts, "nonce": nonce}, data=body)


async def reply_text(resp, wecom: WeChatCrypto) -> str:
    assert resp.status == 200, await resp.text()
    raw = await resp.text()
    if not raw:
        return ""
    envelope = xmltodict.parse(raw)["xml"]
    plain = wecom.decrypt_message(raw, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    reply = xmltodict.parse(plain)["xml"]
    assert reply["MsgType"] == "text"
    assert reply["ToUserName"] == OPERATOR_USERID or reply["ToUserName"]
    return reply["Content"]


async def ask(client, wecom, content: str, **kw) -> str:
    return await reply_text(await send(client, wecom, text_xml(content, **kw)), wecom)


async def test_url_verification_returns_decrypted_echostr(client, wecom):
    ts, nonce = str(int(time.time())), "abc123"
    echo = xmltodict.parse(wecom.encrypt_message("<xml>hi</xml>", nonce, ts))["xml"]
    # WeCom sends an encrypted random string; we reuse an encrypted payload as the echostr.
    from wechatpy.utils import WeChatSigner

    signer = WeChatSigner()
    signer.add_data(keys.SANDBOX_WECOM_TOKEN, ts, nonce, echo["Encrypt"])
    resp = await client.get(URL, params={"msg_signature": signer.signature, "timestamp": ts, "nonce": nonce,
                                         "echostr": echo["Encrypt"]})
    assert resp.status == 200
    assert await resp.text() == "<xml>hi</xml>"
    # and a forged signature is refused
    resp = await client.get(URL, params={"msg_signature": "f" * 40, "timestamp": ts, "nonce": nonce,
                                         "echostr": echo["Encrypt"]})
    assert resp.status == 403


async def test_help_lists_every_command(client, wecom, operator):
    text = await ask(client, wecom, "帮助")
    assert "小张您好" in text
    for name in ("帮助", "订单 <订单号>", "今日", "任务"):
        assert name in text


async def test_unknown_command_gets_friendly_help(client, wecom, operator):
    text = await ask(client, wecom, "发个红包")
    assert "没有看懂「发个红包」" in text and "可用指令" in text


async def test_unknown_sender_is_politely_refused(client, wecom, operator):
    text = await ask(client, wecom, "今日", sender="stranger")
    assert "尚未绑定惠团账号" in text and "绑定 <绑定码>" in text


async def _order(user, order_no: str, status: OrderStatus, paid_fen: int, **kw) -> Order:
    now = datetime.now(UTC)
    values = dict(order_no=order_no, user_id=user.id, idempotency_key=order_no, status=status,
                  goods_fen=paid_fen, payable_fen=paid_fen, paid_fen=paid_fen if status != OrderStatus.unpaid else 0,
                  pay_deadline=now, paid_at=now if status != OrderStatus.unpaid else None)
    values.update(kw)
    return await Order.create(**values)


async def test_order_command_shows_status_amounts_and_items(client, wecom, operator):
    user = await make_user()
    order = await _order(user, "202405010430014821937560", OrderStatus.paid, 12345, shipping_fen=0)
    await OrderItem.create(order_id=order.id, product_id=1, sku_id=1, title="东北大米", sku_name="5kg",
                           unit_price_fen=6000, quantity=2, paid_fen=12000)
    await OrderItem.create(order_id=order.id, product_id=2, sku_id=2, title="鸡蛋", unit_price_fen=345,
                           quantity=1, paid_fen=345)
    text = await ask(client, wecom, "订单 202405010430014821937560")
    assert "订单 202405010430014821937560" in text
    assert "状态：已付款" in text
    assert "实付：¥123.45" in text
    assert "东北大米（5kg） × 2，单价 ¥60.00，实付 ¥120.00" in text
    assert "鸡蛋 × 1" in text

    assert "没有找到订单 T404" in await ask(client, wecom, "订单 T404")
    assert "请在指令后面加上订单号" in await ask(client, wecom, "订单")


async def test_today_summarises_orders_payments_and_refunds(client, wecom, operator):
    user = await make_user()
    await _order(user, "T1", OrderStatus.paid, 1000)
    o2 = await _order(user, "T2", OrderStatus.refunding, 2550)
    await _order(user, "T3", OrderStatus.unpaid, 999)
    await Refund.create(refund_no="R1", order_id=o2.id, user_id=user.id, status=RefundStatus.requested, amount_fen=2550)
    await Refund.create(refund_no="R2", order_id=o2.id, user_id=user.id, status=RefundStatus.succeeded, amount_fen=1)
    text = await ask(client, wecom, "今日")
    assert "下单：3 笔" in text
    assert "付款：2 笔，共 ¥35.50" in text
    assert "待处理退款：1 笔，共 ¥25.50" in text


async def test_jobs_command_lists_recent_runs(client, wecom, operator):
    assert "还没有定时任务运行记录" in await ask(client, wecom, "任务")
    now = datetime.now(UTC)
    await JobRun.create(job="close_unpaid_orders", node="n1", started_at=now, finished_at=now, ok=True, processed=3)
    await JobRun.create(job="deliver_outbox", node="n1", started_at=now, finished_at=now, ok=False,
                        detail="UpstreamError: 微信服务暂时不可用")
    text = await ask(client, wecom, "任务 5")
    assert "close_unpaid_orders —— 成功，处理 3 条" in text
    assert "deliver_outbox —— 失败：UpstreamError" in text
    # Out of range or not a number: said so with the range, never quietly clamped to 1 or 30.
    for arg in ("0", "31", "400", "-3", "五", "1.5"):
        assert await ask(client, wecom, f"任务 {arg}") == "条数应为 1 到 30 之间的整数，例如：任务 5", arg
    assert "deliver_outbox" in await ask(client, wecom, "任务 30")


async def test_duplicate_msgid_is_processed_once(client, wecom, operator):
    user = await make_user()
    await _order(user, "T9", OrderStatus.paid, 100)
    xml = text_xml("今日", msg_id="1234567890123")
    first = await reply_text(await send(client, wecom, xml), wecom)
    # a new order between the retry and the first delivery: a reprocessed retry would see 2
    await _order(user, "T10", OrderStatus.paid, 100)
    again = await reply_text(await send(client, wecom, xml), wecom)
    assert "下单：1 笔" in first
    assert again == first
    assert "下单：2 笔" in await ask(client, wecom, "今日")


async def test_forged_signature_is_rejected_and_nothing_dispatched(client, wecom, operator, rt):
    xml = text_xml("今日", msg_id="555")
    resp = await send(client, wecom, xml, tamper=True)
    assert resp.status == 403
    assert (await resp.json())["error"] == "signature_invalid"
    # nothing was recorded: the genuine message with the same MsgId is still processed
    assert await rt.redis.get("bot:wecom:msg:555") is None
    assert "今日概况" in await reply_text(await send(client, wecom, xml), wecom)


async def test_stale_timestamp_is_rejected(client, wecom, operator):
    resp = await send(client, wecom, text_xml("今日"), timestamp=int(time.time()) - 301)
    assert resp.status == 403
    assert (await resp.json())["error"] == "timestamp_expired"


async def test_missing_params_and_garbage_body(client, wecom):
    assert (await client.post(URL, data="<xml/>")).status == 403
    ts = str(int(time.time()))
    resp = await client.post(URL, params={"msg_signature": "a" * 40, "timestamp": ts, "nonce": "n"}, data="not xml")
    assert resp.status == 422


async def _post_plain(client, plain: str):
    from tests.bot.wecom_helpers import CRYPTO, URL

    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    envelope = xmltodict.parse(CRYPTO.encrypt_message(plain, nonce, ts))["xml"]
    body = f"<xml><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt><AgentID>1</AgentID></xml>"
    return await client.post(URL, params={"msg_signature": envelope["MsgSignature"], "timestamp": ts,
                                          "nonce": nonce}, data=body)


@pytest.mark.parametrize("field,inner", [
    ("FromUserName", "<FromUserName><a>demo-operator</a></FromUserName>"),
    ("Content", "<Content><b>帮助</b></Content>"),
    ("Content", "<Content>帮助</Content><Content>帮助</Content>"),
])
async def test_a_signed_message_with_nested_or_repeated_fields_is_a_422_and_a_retry_is_answered(client, field, inner):
    """Attacker pass, session 7: correctly encrypted but not flat, it reached the services as a
    dict or a list (a 500 with a traceback), and the MsgId was already taken, so WeCom's retry
    got an empty reply."""
    from huituan.core.sandbox import keys

    msg_id = str(uuid.uuid4().int)[:18]
    parts = {"ToUserName": f"<ToUserName>{keys.SANDBOX_CORP_ID}</ToUserName>",
             "FromUserName": "<FromUserName>ops-x</FromUserName>", "CreateTime": f"<CreateTime>{int(time.time())}</CreateTime>",
             "MsgType": "<MsgType>text</MsgType>", "Content": "<Content>帮助</Content>", "MsgId": f"<MsgId>{msg_id}</MsgId>"}
    parts[field] = inner
    resp = await _post_plain(client, "<xml>" + "".join(parts.values()) + "</xml>")
    answer = await resp.json()
    assert resp.status == 422 and answer["details"]["field"] == f"body.{field}", answer
    # The well-formed message under the same MsgId (WeCom's retry) is answered.
    assert await say(client, "ops-x", "帮助", msg_id=msg_id) != ""
