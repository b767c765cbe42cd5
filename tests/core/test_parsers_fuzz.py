"""Every parser the service owns, fed arbitrary text (issue 7): each returns, or raises one of our
own 4xx errors, and what it returns is storable text. Nothing else, ever.

Parsers: the edge (``core.inbound.load_json``, ``core.web.http.screen_request``/``path_int``),
share scenes (``services.referrals.parse_scene``), bot commands and their arguments
(``bot.commands.split_command``/``int_argument``, and ``dispatch`` end to end), CSV cells
(``services.catalog_import.import_csv``), WeChat Pay notify headers
(``core.wechat.pay.PayClient.parse_notify``) and the WeCom callback's signed query parameters
(``bot.callback.parse_signed_params``).

"Arbitrary text" includes what broke these before: NUL, lone surrogates (and bytes decoded with
``surrogateescape``, as aiohttp decodes headers), digits that are not ASCII ('²', '١٢', '１'),
400-digit numbers, 100,000 brackets. Database-backed parsers run on the test's event loop
through a bridge (hypothesis drives a worker thread), on both backends.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from urllib.parse import quote

from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from huituan.bot.callback import parse_signed_params
from huituan.bot.commands import INTERNAL_ERROR_REPLY, BotContext, dispatch, int_argument, split_command
from huituan.core.errors import HuituanError, SignatureInvalid
from huituan.core.inbound import MAX_JSON_DEPTH, json_too_deep, load_json, text_problem
from huituan.core.web.http import path_int, screen_headers, screen_request
from huituan.services.catalog_import import CSV_COLUMNS, import_csv
from huituan.services.operators import create_operator
from huituan.services.referrals import parse_scene

FAST = hsettings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
SLOW = hsettings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))

TRICKY = ["²", "١٢", "１２", "٣", "\x00", "\ud800", "\udcff", "\ufeff", "\u3000", "9" * 400, "-1", "0", "+1",
          "1e3", "0x1f", " 1", "1 ", "%00", "%ED%A0%80", "%C2%B2", "r=", "&", "=", "[" * 200, "é", "\n", "\r\n"]
any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())  # surrogates too
hostile_text = st.one_of(
    st.text(any_char, max_size=60),
    st.lists(st.one_of(st.sampled_from(TRICKY), st.text(any_char, max_size=5)), max_size=8).map("".join),
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")),
)


def our_4xx(exc: BaseException) -> bool:
    return isinstance(exc, HuituanError) and 400 <= exc.status < 500 and bool(exc.message) and exc.code


def assert_ours(exc: BaseException) -> None:
    assert our_4xx(exc), f"{type(exc).__name__}: {exc!r}"


# --- pure parsers ----------------------------------------------------------------------------

@FAST
@given(scene=st.one_of(hostile_text, st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["r", "ref", "x"]), hostile_text)))
def test_parse_scene_returns_an_ascii_id_or_none(scene):
    user_id = parse_scene(scene)
    assert user_id is None or (isinstance(user_id, int) and 0 < user_id < 2**62)
    if user_id is not None:
        assert str(user_id) in scene or quote(str(user_id)) in scene


@FAST
@given(text=hostile_text, head=st.sampled_from(["任务", "订单", "今日", "帮助", "/任务", ""]))
def test_split_command_and_int_argument(text, head):
    name, args = split_command(f"{head} {text}")
    assert isinstance(name, str) and all(isinstance(a, str) for a in args)
    assert text_problem(name) is None and all(text_problem(a) is None for a in args)
    for i in range(len(args) + 1):
        try:
            n = int_argument(args, i, name="条数", low=1, high=30, default=10)
        except HuituanError as exc:
            assert_ours(exc)
        else:
            assert 1 <= n <= 30


@FAST
@given(query=st.dictionaries(st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr"]),
                             st.one_of(hostile_text, st.just("1700000000"), st.just("abc")), max_size=4))
def test_wecom_signed_params(query):
    try:
        signature, timestamp, nonce = parse_signed_params(query, now=1_700_000_000)
    except HuituanError as exc:
        assert_ours(exc)
        assert exc.status == 403
    else:
        assert signature.isascii() and timestamp.isascii() and nonce.isascii()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(any_char, max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(any_char, max_size=5), inner, max_size=4)),
    max_leaves=20,
)


@FAST
@given(raw=st.one_of(
    st.binary(max_size=200),
    hostile_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),  # ensure_ascii: \ud800 and \u0000 escapes
    st.integers(1, 100_000).map(lambda d: _nested(d).encode()),
    st.integers(0, 10**600).map(lambda n: f'{{"a": {n}}}'.encode()),
))
def test_load_json(raw):
    try:
        data = load_json(raw)
    except HuituanError as exc:
        assert_ours(exc)
        return
    stack = [data]
    while stack:  # whatever came back is storable
        value = stack.pop()
        if isinstance(value, str):
            assert text_problem(value) is None
        elif isinstance(value, int) and not isinstance(value, bool):
            assert -(2**63) <= value < 2**63
        elif isinstance(value, dict):
            assert all(text_problem(k) is None for k in value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


ascii_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20),
              st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**18, 10**19 - 1]),
              st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                                                       max_size=8), children, max_size=4)),
    max_leaves=12)


@FAST
@given(value=ascii_json)
def test_the_plain_body_fast_path_accepts_exactly_what_the_full_screening_accepts(value):
    """load_json skips the per-value walk for plain printable-ASCII bodies without escapes or
    19-digit runs: its answer must be the walk's answer."""
    from huituan.core.inbound import _needs_screening, _screen_json

    raw = json.dumps(value, separators=(",", ":")).encode()
    event("fast path" if not _needs_screening(raw) else "screened")
    try:
        _screen_json(json.loads(raw), "body")
        walk_ok = True
    except HuituanError:
        walk_ok = False
    try:
        load_json(raw)
        fast_ok = True
    except HuituanError as exc:
        assert_ours(exc)
        fast_ok = False
    assert fast_ok == walk_ok


@FAST
@given(depth=st.integers(0, 200), padding=st.text(alphabet='"\\[]{}ab,:', max_size=20))
def test_depth_scan_agrees_with_the_parser(depth, padding):
    raw = ("[" * depth + json.dumps(padding) + "]" * depth).encode()
    assert json_too_deep(raw) == (depth > MAX_JSON_DEPTH)


@FAST
@given(value=hostile_text, header=hostile_text, query=hostile_text)
def test_edge_screening_of_path_headers_and_query(value, header, query):
    def q(text: str) -> str:
        return quote(text, safe="", errors="surrogatepass")  # lone surrogates as their (invalid) bytes

    request = make_mocked_request("GET", f"/api/v1/orders/{q(value)}?q={q(query)}&{q(query)}=1",
                                  match_info={"id": value})
    for check in (lambda: path_int(request, "id"), lambda: screen_request(request, ("id",)),
                  lambda: screen_headers({"X-Test": header, "Wechatpay-Nonce": header})):
        try:
            check()
        except HuituanError as exc:
            assert_ours(exc)
    try:
        number = path_int(request, "id")
    except HuituanError:
        return
    assert value.isascii() and value.isdigit() and 1 <= number <= 2**62


# --- parsers with a database or a WeChat client behind them ------------------------------------

def _bridge(loop):
    def run(coro):
        async def wrap():
            return await coro

        return asyncio.run_coroutine_threadsafe(wrap(), loop).result(timeout=60)

    return run


async def test_csv_cells(rt):
    run = _bridge(asyncio.get_running_loop())
    rows_strategy = st.lists(st.lists(st.one_of(hostile_text, st.sampled_from(["1", "100", "true", "水果"])),
                                      min_size=len(CSV_COLUMNS), max_size=len(CSV_COLUMNS)), min_size=1, max_size=4)

    @SLOW
    @given(rows=rows_strategy, raw=st.booleans())
    def check(rows, raw):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
        text = out.getvalue()
        data = text.encode("utf-8", "surrogatepass") if raw else text  # raw: invalid UTF-8 bytes too
        try:
            result = run(import_csv(rt, data, dry_run=True))
        except HuituanError as exc:
            assert_ours(exc)
            return
        assert result["total"] == len(rows)
        for row in result["rows"]:
            assert text_problem(row.get("sku_code", "")) is None

    await asyncio.to_thread(check)


async def test_pay_notify_headers(rt):
    pay = rt.wechat.pay
    run = _bridge(asyncio.get_running_loop())
    names = ["Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial",
             "Wechatpay-Signature-Type"]

    @SLOW
    @given(overrides=st.dictionaries(st.sampled_from(names), hostile_text, max_size=3), body=st.binary(max_size=60))
    def check(overrides, body):
        headers = {"Wechatpay-Signature": "c2ln", "Wechatpay-Timestamp": str(int(time.time())),
                   "Wechatpay-Nonce": "nonce", "Wechatpay-Serial": pay.public_key_id, **overrides}
        try:
            run(pay.parse_notify(headers, body))
        except SignatureInvalid as exc:
            assert exc.status == 401
        except Exception as exc:  # noqa: BLE001 - the assertion names it
            raise AssertionError(f"parse_notify raised {type(exc).__name__}: {exc!r}") from exc
        else:
            raise AssertionError("an unsigned notify was accepted")

    await asyncio.to_thread(check)


async def test_bot_commands_end_to_end(rt):
    """Every command with arbitrary arguments: a reply, never the internal-error reply."""
    loop = asyncio.get_running_loop()
    run = _bridge(loop)
    operator = await create_operator("fuzz-bot", "fuzz-pass-123", wecom_userid="FuzzBot")

    @SLOW
    @given(head=st.sampled_from(["任务", "订单", "今日", "帮助", "退款", "/任务"]), args=st.lists(hostile_text, max_size=3))
    def check(head, args):
        reply = run(dispatch(BotContext(rt, "FuzzBot", operator), " ".join([head, *args])))
        assert isinstance(reply, str) and reply
        assert reply != INTERNAL_ERROR_REPLY, (head, args)

    await asyncio.to_thread(check)
