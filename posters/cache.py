"""Rendered posters by content hash: an LRU in process memory (bounded in bytes) in front of
a shared cache across processes — Redis (bytes, with a lifetime) or a folder on disk (bounded
in size, oldest files pruned). Sizes and lifetimes are settings."""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from pathlib import Path

from huituan.core.settings import Settings


class MemoryLru:
    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, tuple[str, bytes]] = OrderedDict()

    def get(self, key: str) -> tuple[str, bytes] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: str, content_type: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.size -= len(old[1])
        self._items[key] = (content_type, body)
        self.size += len(body)
        while self.size > self.max_bytes and self._items:
            _, (_, dropped) = self._items.popitem(last=False)
            self.size -= len(dropped)

    def clear(self) -> None:
        self._items.clear()
        self.size = 0


class RedisShared:
    def __init__(self, redis, ttl: int):
        self.redis, self.ttl = redis, ttl

    async def get(self, key: str) -> tuple[str, bytes] | None:
        raw = await self.redis.get(f"poster:{key}")
        if not raw:
            return None
        ctype, _, body = raw.partition(b"\n")
        return ctype.decode(), body

    async def put(self, key: str, content_type: str, body: bytes) -> None:
        await self.redis.set(f"poster:{key}", content_type.encode() + b"\n" + body, ex=self.ttl)


class DiskShared:
    def __init__(self, folder: str, max_bytes: int, ttl: int):
        self.folder, self.max_bytes, self.ttl = Path(folder), max_bytes, ttl
        self._written = 0

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / key

    def _read(self, key: str) -> tuple[str, bytes] | None:
        path = self._path(key)
        try:
            if time.time() - path.stat().st_mtime > self.ttl:
                return None
            raw = path.read_bytes()
        except OSError:
            return None
        ctype, _, body = raw.partition(b"\n")
        return ctype.decode(), body

    def _write(self, key: str, content_type: str, body: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(content_type.encode() + b"\n" + body)
        os.replace(tmp, path)  # readers in other processes never see half a file
        self._written += len(body)
        if self._written > self.max_bytes // 10:
            self._written = 0
            self._prune()

    def _prune(self) -> None:
        files = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.folder.glob("*/*") if p.is_file()]
        total = sum(size for _, size, _ in files)
        for _, size, p in sorted(files):
            if total <= self.max_bytes:
                break
            try:
                p.unlink()
                total -= size
            except OSError:
                pass

    async def get(self, key: str) -> tuple[str, bytes] | None:
        return await asyncio.to_thread(self._read, key)

    async def put(self, key: str, content_type: str, body: bytes) -> None:
        await asyncio.to_thread(self._write, key, content_type, body)


def shared_cache(settings: Settings, redis):
    if settings.poster_cache_shared == "redis":
        return RedisShared(redis, settings.poster_cache_shared_seconds)
    if settings.poster_cache_shared == "disk":
        return DiskShared(settings.poster_cache_disk_dir, settings.poster_cache_disk_mb * 1024 * 1024,
                          settings.poster_cache_shared_seconds)
    return None
