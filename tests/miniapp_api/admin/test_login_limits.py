"""Operator login limits hold under a concurrent burst (issue 7, item 11): every attempt is
counted in Redis before its password is checked (real Redis on the PostgreSQL pass, fakeredis
on the SQLite pass), so past the limit nothing is hashed; per username and per client address."""

import asyncio

import pytest

from huituan.services.operators import create_operator


async def _burst(client, attempts: list[tuple[str, str]], headers: list[dict] | None = None):
    """Send every attempt at once; returns (statuses in order, all sent before any answer?)."""
    loop = asyncio.get_running_loop()
    sent: list[float] = []
    answered: list[float] = []

    async def one(i: int, username: str, password: str):
        sent.append(loop.time())
        resp = await client.post("/api/admin/v1/auth/login", json={"username": username, "password": password},
                                 headers=(headers or [{}] * len(attempts))[i])
        answered.append(loop.time())
        body = await resp.json()
        return resp.status, body

    results = await asyncio.gather(*(one(i, u, p) for i, (u, p) in enumerate(attempts)))
    return results, max(sent) < min(answered)


async def test_a_burst_of_40_concurrent_guesses_checks_at_most_5(client, rt):
    await create_operator("gina", "gina-pass-12")
    attempts = [("gina", f"guess-{i:02d}") for i in range(39)] + [("gina", "gina-pass-12")]
    results, raced = await _burst(client, attempts)
    assert raced  # all 40 were in flight together: the old read-then-check let every one through
    statuses = [s for s, _ in results]
    checked = [s for s in statuses if s != 429]
    assert len(checked) <= 5, statuses
    assert statuses.count(429) >= 35
    assert all(s in (401, 200, 429) for s in statuses), statuses
    refused = [b for s, b in results if s == 429]
    assert all(b["error"] == "login_throttled" and b["details"]["field"] == "username" for b in refused)
    # the window holds: even the right password is refused now
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "gina", "password": "gina-pass-12"})
    assert resp.status == 429
    count = int(await rt.redis.get("admin:login_attempts:user:gina"))
    assert count >= 41  # every attempt counted, refused ones included


async def test_attempts_are_limited_per_address_across_usernames(client):
    attempts = [(f"nobody-{i}", "wrong-pass") for i in range(25)]
    results, _ = await _burst(client, attempts)
    statuses = [s for s, _ in results]
    assert statuses.count(401) == 20 and statuses.count(429) == 5, statuses
    assert all(b["details"]["field"] == "ip" for s, b in results if s == 429)


@pytest.fixture
def settings(make_settings):
    return make_settings(trusted_proxies="127.0.0.1")


async def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(client):
    # 20 attempts from one forwarded client exhaust its bucket, another client is unaffected;
    # hops before the last untrusted one are client-chosen and ignored.
    for i in range(20):
        resp = await client.post("/api/admin/v1/auth/login", json={"username": f"x{i}", "password": "wrong-pass"},
                                 headers={"X-Forwarded-For": f"10.9.9.{i}, 203.0.113.7"})
        assert resp.status == 401
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "y", "password": "wrong-pass"},
                             headers={"X-Forwarded-For": "203.0.113.7"})
    assert resp.status == 429 and (await resp.json())["details"]["field"] == "ip"
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "y", "password": "wrong-pass"},
                             headers={"X-Forwarded-For": "203.0.113.8"})
    assert resp.status == 401
