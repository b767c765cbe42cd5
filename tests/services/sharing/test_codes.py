"""Share codes: the scene parser holds against hostile input (hypothesis), codes fit WeChat's
scene rules, and concurrent first requests for one code agree on one row (PostgreSQL)."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from huituan.core.sandbox.wechat import SCENE_RE
from huituan.models.sharing import ShareCode
from huituan.services.referrals import parse_scene
from huituan.services.sharing.codes import ALPHABET, CODE_RE, code_for, code_in_scene
from tests.factories import make_user

codes = st.text(alphabet=ALPHABET, min_size=8, max_size=8)


@given(codes)
def test_a_code_is_found_bare_as_s_and_in_an_h5_url_and_fits_a_wechat_scene(code):
    assert SCENE_RE.match(code)
    assert code_in_scene(code) == code
    assert code_in_scene(f"s={code}") == code
    assert code_in_scene(f"https://m.example.com/s?s={code}") == code
    assert code_in_scene(f"x=1&s%3D{code}") in (code, None)
    assert parse_scene(code) is None  # never mistaken for the older r= scene


@given(st.text(max_size=80))
def test_any_text_gives_no_code_or_a_well_formed_one(text):
    found = code_in_scene(text)
    event("code found" if found else "no code")
    assert found is None or CODE_RE.match(found)


@given(st.integers(min_value=1, max_value=2**40))
def test_the_older_r_scene_is_not_a_share_code(uid):
    assert code_in_scene(f"r={uid}") is None and parse_scene(f"r={uid}") == uid


async def test_codes_are_per_sharer_target_and_channel(rt):
    a, b = await make_user(), await make_user()
    c1 = await code_for(a.id, "product", 5, "poster")
    assert (await code_for(a.id, "product", 5, "poster")).code == c1.code
    others = {(await code_for(a.id, "product", 5, "link")).code, (await code_for(b.id, "product", 5, "poster")).code,
              (await code_for(a.id, "product", 6, "poster")).code}
    assert c1.code not in others and len(others) == 3
    assert re.fullmatch(r"[0-9A-Za-z]{8}", c1.code)


@pytest.mark.postgres
async def test_concurrent_first_requests_agree_on_one_code(rt):
    sharer = await make_user()
    rounds = 0
    for target in range(1, 6):
        got = await asyncio.gather(*(code_for(sharer.id, "product", target, "poster") for _ in range(12)))
        assert len({c.code for c in got}) == 1
        rounds += 1
    assert rounds == 5
    assert await ShareCode.filter(sharer_id=sharer.id).count() == 5
