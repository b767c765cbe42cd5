"""Poster caches: the memory LRU is bounded in bytes; the disk cache is shared through files,
expires and prunes itself to its size."""

from __future__ import annotations

import os
import time

from huituan.posters.cache import DiskShared, MemoryLru


def test_memory_lru_evicts_the_least_recently_used_by_bytes():
    lru = MemoryLru(max_bytes=250)
    lru.put("a", "image/jpeg", b"a" * 100)
    lru.put("b", "image/jpeg", b"b" * 100)
    assert lru.get("a") is not None  # a is now the most recent
    lru.put("c", "image/png", b"c" * 100)
    assert lru.get("b") is None and lru.get("a") and lru.get("c") == ("image/png", b"c" * 100)
    assert lru.size == 200
    lru.put("huge", "image/jpeg", b"x" * 1000)  # larger than the whole cache: not kept
    assert lru.get("huge") is None and lru.size == 200


async def test_disk_cache_is_shared_expires_and_prunes(tmp_path):
    one = DiskShared(str(tmp_path), max_bytes=10_000, ttl=60)
    other = DiskShared(str(tmp_path), max_bytes=10_000, ttl=60)  # another process, same folder
    await one.put("ab" + "0" * 62, "image/png", b"\x89PNG" + b"1" * 100)
    assert await other.get("ab" + "0" * 62) == ("image/png", b"\x89PNG" + b"1" * 100)
    assert await other.get("cd" + "0" * 62) is None
    old = tmp_path / "ab" / ("ab" + "0" * 62)
    os.utime(old, (time.time() - 120, time.time() - 120))
    assert await other.get("ab" + "0" * 62) is None  # past its lifetime
    for i in range(30):
        await one.put(f"{i:02d}" + "f" * 62, "image/jpeg", b"j" * 900)
    total = sum(p.stat().st_size for p in tmp_path.glob("*/*"))
    assert total <= 10_000 + 2 * 1_000
