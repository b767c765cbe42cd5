"""Operator login limits hold under a concurrent burst (issue 7, item 11): every attempt is
counted in Redis before its password is checked (real Redis on the PostgreSQL pass, fakeredis
on the SQLite pass), so past the limit nothing is hashed: per username at one address, per
username across addresses it never logged in from, and per client address."""

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


async def _login(client, username: str, password: str, address: str) -> tuple[int, dict]:
    resp = await client.post("/api/admin/v1/auth/login", json={"username": username, "password": password},
                             headers={"X-Forwarded-For": address})
    return resp.status, await resp.json()


async def test_strangers_failing_on_purpose_do_not_lock_an_operator_out(client):
    """The lock-out anyone could cause: 5 failures for a known username from anywhere used to
    refuse its operator for 5 minutes. Now the strict 5 is per address."""
    await create_operator("erin", "erin-pass-12")
    assert (await _login(client, "erin", "erin-pass-12", "203.0.113.10"))[0] == 200
    stranger = [(await _login(client, "erin", f"guess-{i}", "198.51.100.1")) for i in range(8)]
    assert [s for s, _ in stranger] == [401] * 5 + [429] * 3
    assert stranger[-1][1]["details"]["field"] == "username"
    # another address gets its own 5; the operator, at home or anywhere new, still logs in
    assert [(await _login(client, "erin", "nope-nope", "198.51.100.2"))[0] for _ in range(5)] == [401] * 5
    assert (await _login(client, "erin", "erin-pass-12", "203.0.113.10"))[0] == 200
    assert (await _login(client, "erin", "erin-pass-12", "192.0.2.77"))[0] == 200


async def test_guessing_spread_over_many_addresses_stops_but_not_at_a_known_address(client, rt):
    await create_operator("frank", "frank-pass-12")
    assert (await _login(client, "frank", "frank-pass-12", "203.0.113.20"))[0] == 200
    attempts = [("frank", f"guess-{i:02d}") for i in range(60)]
    headers = [{"X-Forwarded-For": f"10.0.{i // 200}.{i % 200 + 1}"} for i in range(60)]
    results, raced = await _burst(client, attempts, headers)
    assert raced  # all 60 in flight together, one per address: only the username-wide count stops them
    statuses = [s for s, _ in results]
    assert statuses.count(401) == 50 and statuses.count(429) == 10, statuses  # frank's own login took nothing
    assert all(b["details"]["field"] == "username" for s, b in results if s == 429)
    # a new address is held back now, even with the right password ...
    status, body = await _login(client, "frank", "frank-pass-12", "10.1.0.1")
    assert status == 429 and body["details"]["retry_after_seconds"] > 0
    # ... but the address frank logged in from before is not
    assert (await _login(client, "frank", "frank-pass-12", "203.0.113.20"))[0] == 200
    assert int(await rt.redis.get("admin:login_attempts:user:frank")) == 61  # every failed or refused attempt


async def test_an_operator_logging_in_all_day_is_never_throttled(client, rt):
    """Attacker pass, session 7: successes counted against the address, so the 21st login of
    the day (or of a script) from one office address was refused with the right password."""
    await create_operator("gwen", "gwen-pass-12")
    for _ in range(30):
        assert (await _login(client, "gwen", "gwen-pass-12", "203.0.113.30"))[0] == 200
    assert int(await rt.redis.get("admin:login_attempts:ip:203.0.113.30") or 0) == 0
    # failures still count there
    statuses = [(await _login(client, f"nobody-{i}", "wrong-pass", "203.0.113.30"))[0] for i in range(21)]
    assert statuses == [401] * 20 + [429]
