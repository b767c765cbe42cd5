import asyncio

import pytest

from huituan.core.single_flight import single_flight


async def test_one_load_for_every_waiter_and_the_key_is_free_after():
    pending: dict = {}
    loads = 0

    async def load():
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return "value"

    got = await asyncio.gather(*(single_flight(pending, "k", load) for _ in range(20)))
    assert got == ["value"] * 20 and loads == 1 and pending == {}
    assert await single_flight(pending, "k", load) == "value" and loads == 2  # a later call loads again


async def test_every_waiter_gets_the_loaders_error():
    pending: dict = {}

    async def load():
        await asyncio.sleep(0.01)
        raise LookupError("gone")

    got = await asyncio.gather(*(single_flight(pending, 1, load) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in got) and pending == {}
    with pytest.raises(LookupError):
        await single_flight(pending, 1, load)
