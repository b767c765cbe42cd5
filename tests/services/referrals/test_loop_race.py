"""No referral loop under concurrency (PostgreSQL, every bind in its own transaction on its own
connection, as two logins or two shares opened at once are). The binds are shown to overlap in
time, so the races really raced."""

from __future__ import annotations

import asyncio
import time

import pytest
from tortoise.transactions import in_transaction

from huituan.models.referral import ReferralBinding
from huituan.services.referrals import bind_user, manual_bind
from tests.factories import make_user


async def _timed_bind(user_id: int, promoter_id: int, spans: list[tuple[float, float]]):
    start = time.monotonic()
    async with in_transaction() as conn:
        result = await bind_user(user_id, promoter_id, scene=f"r={promoter_id}", conn=conn)
        await asyncio.sleep(0.005)  # the rest of a login transaction
    spans.append((start, time.monotonic()))
    return result


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


async def _loops() -> int:
    parent = {b.user_id: b.promoter_id for b in await ReferralBinding.all()}
    loops = 0
    for start in parent:
        seen, cur = set(), start
        while cur in parent and cur not in seen:
            seen.add(cur)
            cur = parent[cur]
        loops += cur == start
    return loops


@pytest.mark.postgres
async def test_a_binding_to_b_while_b_binds_to_a_never_makes_a_loop(rt):
    overlapped = 0
    for _ in range(40):
        a, b = await make_user(), await make_user()
        spans: list[tuple[float, float]] = []
        ra, rb = await asyncio.gather(_timed_bind(a.id, b.id, spans), _timed_bind(b.id, a.id, spans))
        overlapped += _overlap(*spans)
        assert ra.bound + rb.bound == 1, (ra, rb)
        assert {ra.reason, rb.reason} & {"would_create_loop"}
    assert await _loops() == 0
    assert overlapped >= 30, f"only {overlapped} of 40 pairs ran at the same time"


@pytest.mark.postgres
async def test_a_ring_closing_at_several_places_at_once_never_makes_a_loop(rt):
    """A->B, B->C, C->D, D->A all at once: binds that share no user must not both pass."""
    overlapped = 0
    for _ in range(15):
        users = [await make_user() for _ in range(4)]
        spans: list[tuple[float, float]] = []
        results = await asyncio.gather(*[_timed_bind(users[i].id, users[(i + 1) % 4].id, spans) for i in range(4)])
        overlapped += sum(_overlap(spans[i], spans[j]) for i in range(4) for j in range(i + 1, 4)) > 0
        assert sum(r.bound for r in results) == 3, results
    assert await _loops() == 0
    assert overlapped >= 10


@pytest.mark.postgres
async def test_an_operator_bind_racing_a_share_never_makes_a_loop(rt):
    for _ in range(20):
        a, b = await make_user(), await make_user()
        spans: list[tuple[float, float]] = []
        results = await asyncio.gather(_timed_bind(a.id, b.id, spans),
                                       manual_bind(b.id, a.id, operator_id=1, reason="客服调整"),
                                       return_exceptions=True)
        assert sum(1 for r in results if getattr(r, "bound", False) or isinstance(r, dict)) == 1, results
    assert await _loops() == 0
