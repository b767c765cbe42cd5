"""Fonts and text: every character drawn has a glyph (no tofu), emoji are dropped, names are
cut to their width by whole characters with an ellipsis."""

from __future__ import annotations

import pytest

from huituan.posters import text

# Real product titles as merchants type them: full-width punctuation, brackets, symbols, emoji.
TITLES = [
    "【产地直发】阳光玫瑰青提 2 斤装（约 20-25 粒），香甜脆爽！",
    "🍇新疆吐鲁番无核白葡萄干 500g／袋「免洗即食」",
    "五常大米 10kg·2025 新米～稻花香 2 号 🌾🌾",
    "🔥爆款🔥 潮汕牛肉丸 250g*2 袋，手打弹牙；火锅必备！",
    "农夫山泉饮用天然水 550ml×24 瓶 整箱装 — 限购 2 箱",
    "「买一送一」蒙牛纯牛奶 250ml×16 盒…早餐奶 👍🏻",
    "海南贵妃芒 5 斤 ‘现摘现发’ “坏果包赔” ★★★★★",
    "云南高山土豆 🥔 5 斤 %OFF 促销价 ￥19.9",
    "👨‍👩‍👧 家庭装 湾仔码头水饺 1.32kg 三鲜/玉米猪肉 ❤️",
    "【团长推荐】东北黏玉米 10 根 ✔ 真空包装、开袋即食",
]


@pytest.fixture(autouse=True, scope="module")
def _font():
    text.configure()


@pytest.mark.parametrize("title", TITLES)
def test_every_character_drawn_has_a_glyph_and_emoji_are_dropped(title):
    cleaned = text.clean(title)
    assert cleaned
    missing = [ch for ch in cleaned if not text.has_glyph(ch)]
    assert missing == []
    for emoji in "🍇🌾🔥👍🥔👨❤\ufe0f\u200d🏻":
        assert emoji not in cleaned
    # CJK, full-width punctuation and the Latin text survive
    for keep in "【】（），！／「」～；：×—…‘’“”★￥":
        if keep in title:
            assert keep in cleaned, keep


def test_the_tofu_check_really_detects_missing_glyphs():
    assert not text.has_glyph("🍇") and not text.has_glyph("\U0010fffd")
    assert text.has_glyph("葡") and text.has_glyph("，") and text.has_glyph("A")


def test_a_nickname_is_cut_to_its_width_by_whole_characters_with_an_ellipsis():
    f = text.font(28)
    name = "超级无敌长的微信昵称小仙女本仙"
    cut = text.fit(name, f, 200)
    assert cut.endswith(text.ELLIPSIS) and len(cut) < len(name)
    assert f.getlength(cut) <= 200
    assert name.startswith(cut[:-1])
    assert text.fit("小惠", f, 200) == "小惠"


def test_wrapping_keeps_closing_punctuation_off_a_line_start_and_ellipsizes_the_last_line():
    f = text.font(34)
    lines = text.wrap(text.clean(TITLES[0] * 3), f, 670, 2)
    assert len(lines) == 2
    assert all(f.getlength(line) <= 670 for line in lines)
    assert lines[-1].endswith(text.ELLIPSIS)
    assert lines[1][0] not in text.NO_LINE_START
