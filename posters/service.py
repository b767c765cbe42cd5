"""The poster service: who asks for which poster -> image bytes with an ETag.

    svc = get_service(rt)
    poster = await svc.poster(sharer_id, "product", target=12, template=None)
    poster.body, poster.etag, poster.content_type

Flow: the kind's content (huituan.posters.kinds) -> the sharer's share code for it (channel
poster) -> the template and its version -> the code image (by scene) -> hash of all of it ->
memory LRU -> shared cache (Redis or disk) -> render in the pool (one render per hash at a
time in a process). A sharer asking again for the same poster within
``poster_request_cache_seconds`` is answered from memory without any of that.

Created by the composition root (``huituan.app``) per process; the bot and the jobs reach it
through ``get_service(rt)`` as well.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from huituan.core.errors import NotFound
from huituan.core.redis import close_redis, create_redis
from huituan.core.runtime import Runtime
from huituan.models.sharing import ShareChannel
from huituan.models.user import User
from huituan.posters import render, template_store, text
from huituan.posters.cache import MemoryLru, shared_cache
from huituan.posters.codes import CodeSource
from huituan.posters.images import ImageFetcher
from huituan.posters.kinds import check_kind, content_for
from huituan.posters.pool import RenderPool
from huituan.posters.templates import validate_spec
from huituan.services.sharing.codes import code_for

SERVICE_KEY = "posters"
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}


@dataclass(frozen=True)
class Poster:
    body: bytes
    etag: str
    content_type: str
    share_code: str


class PosterService:
    def __init__(self, rt: Runtime):
        s = rt.settings
        self.rt = rt
        self.redis = create_redis(s.redis_url, 10, decode_responses=False)
        self.pool = RenderPool(s)
        self.memory = MemoryLru(s.poster_cache_memory_mb * 1024 * 1024)
        self.shared = shared_cache(s, self.redis)
        self.codes = CodeSource(rt, self.redis)
        self.images = ImageFetcher(s, rt.http)
        self.request_ttl = s.poster_request_cache_seconds
        self._recent: dict[tuple, tuple[float, Poster]] = {}
        self._inflight: dict[str, asyncio.Future] = {}
        self._resolving: dict[tuple, asyncio.Future] = {}
        self.renders = 0  # cold renders done by this process (tests and metrics)
        text.configure(s.poster_font_path, s.poster_font_index)
        template_store.forget_choices()

    async def close(self) -> None:
        await asyncio.to_thread(self.pool.close)
        await close_redis(self.redis)

    def forget_recent(self) -> None:
        """After a template switch or edit: the next request re-resolves everything."""
        self._recent.clear()
        template_store.forget_choices()

    async def poster(self, sharer_id: int, kind: str, target: int | None = None,
                     template: str | None = None) -> Poster:
        check_kind(kind)
        recent_key = (sharer_id, kind, target, template)
        hit = self._recent.get(recent_key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        # When the memo runs out, every connection of a busy sharer misses at once: one of them
        # resolves, the others wait for its answer (no herd of identical queries).
        waiting = self._resolving.get(recent_key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        fut = asyncio.get_running_loop().create_future()
        self._resolving[recent_key] = fut
        try:
            result = await self._resolve(sharer_id, kind, target, template)
            fut.set_result(result)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()
            raise
        finally:
            self._resolving.pop(recent_key, None)
        if self.request_ttl > 0:
            if len(self._recent) > 10000:
                self._recent.clear()
            self._recent[recent_key] = (time.monotonic() + self.request_ttl, result)
        return result

    async def _resolve(self, sharer_id: int, kind: str, target: int | None, template: str | None) -> Poster:
        sharer = await User.get_or_none(id=sharer_id)
        if sharer is None:
            raise NotFound("用户不存在", code="user_not_found", field="user_id")
        content = await content_for(kind, target, sharer)
        sc = await code_for(sharer_id, kind, content.target_id, ShareChannel.poster)
        tkey, version, spec = await template_store.resolve(kind, template)
        code = await self.codes.for_scene(sc.code)
        code_id = ("png:" + hashlib.sha256(code["png"]).hexdigest()[:16]) if "png" in code else "text:" + code["text"]
        digest = hashlib.sha256(json.dumps(
            [kind, content.target_id, sharer_id, tkey, version, content.fields, content.image_urls, code_id,
             text.font_id()], sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
        ctype, body = await self._cached_or_rendered(digest, spec, content.fields, content.image_urls, code)
        return Poster(body=body, etag=f'"{digest[:32]}"', content_type=ctype, share_code=sc.code)

    async def _cached_or_rendered(self, digest: str, spec: dict[str, Any], fields: dict[str, Any],
                                  image_urls: dict[str, str], code: dict[str, Any]) -> tuple[str, bytes]:
        hit = self.memory.get(digest)
        if hit is not None:
            return hit
        waiting = self._inflight.get(digest)
        if waiting is not None:  # the same poster is being made for someone else right now
            return await asyncio.shield(waiting)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[digest] = fut
        try:
            found = await self.shared.get(digest) if self.shared else None
            if found is None:
                job = await self._job(spec, fields, image_urls, code)
                body = await self.pool.run(job)
                self.renders += 1
                found = (CONTENT_TYPES[spec.get("format", "jpeg")], body)
                if self.shared:
                    await self.shared.put(digest, *found)
            self.memory.put(digest, *found)
            fut.set_result(found)
            return found
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()
            raise
        finally:
            self._inflight.pop(digest, None)

    async def _job(self, spec: dict[str, Any], fields: dict[str, Any], image_urls: dict[str, str],
                   code: dict[str, Any]) -> dict[str, Any]:
        names = list(image_urls)
        fetched = await asyncio.gather(*(self.images.get(image_urls[n]) for n in names))
        return {"spec": spec, "fields": fields, "images": dict(zip(names, fetched)), "code": code}

    async def preview(self, kind: str, spec: Any | None = None, key: str | None = None) -> tuple[str, bytes]:
        """A template drawn with sample data (placeholders for images, a sample code), for operators."""
        check_kind(kind)
        if spec is not None:
            checked = validate_spec(spec)
        else:
            _, _, checked = await template_store.resolve(kind, key, field="key")  # the preview's body says "key"
        fields = dict(template_store.SAMPLE_FIELDS)
        images: dict[str, Any] = {"image": None, "sharer_avatar": None, "member_avatars.0": None, "member_avatars.1": None}
        job = {"spec": checked, "fields": fields, "images": images,
               "code": {"text": f"{self.rt.settings.resolved_share_h5_url()}?s=SAMPLE00"}}
        return CONTENT_TYPES[checked.get("format", "jpeg")], await self.pool.run(job)


def sample_job() -> dict[str, Any]:
    from huituan.posters.templates import builtin_templates

    return {"spec": builtin_templates()["classic"], "fields": dict(template_store.SAMPLE_FIELDS),
            "images": {"image": None, "sharer_avatar": None}, "code": {"text": "https://example.com/h5/share?s=WARMUP00"}}


def render_now(job: dict[str, Any]) -> bytes:
    """Render in the calling thread (benchmarks and tests of the pure renderer)."""
    return render.render(job)


def start_service(rt: Runtime) -> PosterService:
    svc = PosterService(rt)
    rt.extras[SERVICE_KEY] = svc
    return svc


async def stop_service(rt: Runtime) -> None:
    svc = rt.extras.pop(SERVICE_KEY, None)
    if svc is not None:
        await svc.close()


def get_service(rt: Runtime) -> PosterService:
    svc = rt.extras.get(SERVICE_KEY)
    if svc is None:
        raise RuntimeError("poster service not started (huituan.app starts it)")
    return svc
