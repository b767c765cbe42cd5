"""WeChat's keyword data types: values are made valid (cut on whole characters) or refused."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from huituan.core.sandbox.wechat import value_problem
from huituan.models.notification import Channel
from huituan.services.notifications.registry import REGISTRY, EventSpec
from huituan.services.notifications.values import clip, format_value, graphemes


def test_thing_is_cut_to_twenty_with_an_ellipsis():
    assert format_value("thing2", "新疆阿克苏冰糖心苹果 5 斤装 当季现摘 顺丰包邮") == "新疆阿克苏冰糖心苹果 5 斤装 当季现…"
    assert len(format_value("thing2", "一" * 40)) == 20
    assert format_value("thing2", "") == "-"
    assert format_value("thing2", "第一行\n第二行") == "第一行 第二行"


def test_emoji_and_combining_marks_are_never_split():
    family = "👨\u200d👩\u200d👧"  # one character on screen, five code points
    text = "好" * 17 + family + "尾巴"
    cut = format_value("thing1", text)
    assert cut == "好" * 17 + "…"  # the family does not fit whole: it is left out, not broken
    flag = "🇨🇳"
    assert clip("a" * 18 + flag + "b", 20) == "a" * 18 + "…"
    assert graphemes("e\u0301x") == ["e\u0301", "x"]


def test_typed_values():
    assert format_value("amount3", 2590) == "25.90元"
    assert format_value("amount3", 5) == "0.05元"
    assert format_value("time4", datetime(2026, 12, 1, 10, 30, tzinfo=UTC)) == "2026-12-01 18:30"  # China time
    assert format_value("date3", date(2026, 12, 1)) == "2026-12-01"
    assert format_value("number2", 3) == "3"
    assert format_value("character_string1", "订单 HT2026-001") == "HT2026-001"
    assert format_value("character_string1", "X" * 40) == "X" * 32
    assert format_value("phone_number5", "138****0000 转") == "138****0000"
    assert format_value("phone_number5", "１３８²") == "-"  # full-width and superscript digits are not ASCII
    assert format_value("name1", "欧阳娜娜娜娜娜娜娜娜娜") == "欧阳娜娜娜娜娜娜娜娜"
    assert format_value("name1", "Alexander Hamilton Jr. III") == "Alexander Hamilton J"
    assert format_value("phrase3", "退款成功") == "退款成功"


@pytest.mark.parametrize("key,value", [("amount1", "12元"), ("amount1", 1.5), ("time1", "明天"), ("phrase1", "Refund"),
                                       ("phrase1", "退款已经成功了"), ("number1", "3"), ("thing", "x"), ("foo1", "x")])
def test_values_that_cannot_be_made_valid_are_refused(key, value):
    with pytest.raises(ValueError):
        format_value(key, value)


def test_marketing_cannot_use_subscribe_messages():
    with pytest.raises(ValueError, match="service notices only"):
        EventSpec("new_group_promo", "新团上架", Channel.subscribe, "promo", ("thing1",), marketing=True)
    assert all(not e.marketing for e in REGISTRY.values() if e.channel == Channel.subscribe)


@given(st.text(max_size=60), st.sampled_from(["thing1", "character_string2", "name3", "phone_number4", "letter5"]))
def test_any_text_becomes_a_value_wechat_accepts(text, key):
    value = format_value(key, text)
    event(f"{key} cut" if len(text.strip()) > 20 else f"{key} kept")
    assert value_problem(key, value) is None, (key, text, value)
    assert "\x00" not in value
