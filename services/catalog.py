"""Catalog reads for the mini-program: categories, product list, product detail.

Product detail is the hottest read: its serialized JSON bytes are cached in-process for
``settings.product_cache_seconds``. Edits call ``invalidate_product``, which drops the local
entry at once and publishes the id on a Redis channel so every other process drops it too;
the TTL bounds staleness if a message is lost (reconnect). Stock shown may therefore be up to
the TTL stale: order creation is the authority on stock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from tortoise.expressions import Q

from huituan.core.errors import NotFound
from huituan.core.runtime import Runtime
from huituan.core.single_flight import single_flight
from huituan.models.catalog import Category, Product, Sku
from huituan.services import price_history

log = logging.getLogger("huituan.catalog")

INVALIDATE_CHANNEL = "huituan:catalog:product_invalidate"
_CACHE_KEY = "product_cache"


class ProductCache:
    """Serialized product detail bytes per product id, with a TTL and a generation counter
    so that a load racing an invalidation never stores the stale result."""

    def __init__(self) -> None:
        self.entries: dict[int, tuple[float, bytes]] = {}
        self.generation: dict[int, int] = {}
        self.listener: asyncio.Task | None = None
        # Single flight: when an entry expires under load, one request reloads it and the
        # others wait for that load instead of all querying the database at once.
        self.loading: dict[int, asyncio.Future[bytes]] = {}

    def get(self, product_id: int, now: float) -> bytes | None:
        hit = self.entries.get(product_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        return None

    def drop(self, product_id: int) -> None:
        self.generation[product_id] = self.generation.get(product_id, 0) + 1
        self.entries.pop(product_id, None)

    def drop_all(self) -> None:
        for pid in list(self.entries):
            self.drop(pid)


def _cache(rt: Runtime) -> ProductCache:
    cache = rt.extras.get(_CACHE_KEY)
    if cache is None:
        cache = rt.extras[_CACHE_KEY] = ProductCache()
    return cache


async def start_invalidation_listener(rt: Runtime) -> None:
    """Subscribe to product invalidations from other processes (called at app start)."""
    cache = _cache(rt)
    if cache.listener is not None:
        return

    async def listen() -> None:
        while True:
            pubsub = rt.redis.pubsub()
            try:
                await pubsub.subscribe(INVALIDATE_CHANNEL)
                # Messages published while we were not subscribed are lost: start clean.
                cache.drop_all()
                async for msg in pubsub.listen():
                    if msg.get("type") != "message":
                        continue
                    try:
                        cache.drop(int(msg["data"]))
                    except (TypeError, ValueError):
                        cache.drop_all()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis hiccup: the TTL bounds staleness meanwhile
                log.warning("product invalidation listener error: %s", exc)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    cache.listener = asyncio.create_task(listen(), name="product-cache-invalidation")


async def stop_invalidation_listener(rt: Runtime) -> None:
    cache = _cache(rt)
    task, cache.listener = cache.listener, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def invalidate_product(rt: Runtime, product_id: int) -> None:
    """Call after every product or SKU edit: drops the cached detail in every process."""
    _cache(rt).drop(product_id)
    try:
        await rt.redis.publish(INVALIDATE_CHANNEL, str(product_id))
    except Exception as exc:  # the edit is committed; other processes catch up within the TTL
        log.warning("product invalidation publish failed for %s: %s", product_id, exc)


def category_to_dict(c: Category) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "sort": c.sort}


async def list_categories() -> dict[str, Any]:
    rows = await Category.filter(is_active=True).order_by("sort", "id")
    return {"items": [category_to_dict(c) for c in rows]}


def product_summary(p: Product) -> dict[str, Any]:
    return {
        "id": p.id, "title": p.title, "subtitle": p.subtitle, "main_image": p.main_image,
        "category_id": p.category_id, "price_from_fen": p.price_from_fen, "sales": p.sales,
    }


async def list_products(category_id: int | None = None, keyword: str | None = None,
                        page: int = 1, page_size: int = 20) -> dict[str, Any]:
    """On-sale products with a price only, newest sort first; keyword matches title or subtitle."""
    qs = Product.filter(on_sale=True, price_from_fen__gt=0)
    if category_id is not None:
        qs = qs.filter(category_id=category_id)
    keyword = (keyword or "").strip()
    if keyword:
        qs = qs.filter(Q(title__icontains=keyword) | Q(subtitle__icontains=keyword))
    total = await qs.count()
    rows = await qs.order_by("-sort", "-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [product_summary(p) for p in rows], "total": total, "page": page, "page_size": page_size}


def sku_to_dict(s: Sku, struck_price_fen: int | None = None) -> dict[str, Any]:
    """A SKU as buyers see it. The struck price is the honest one (services.price_history: the
    lowest price the SKU really sold at in the 7 days before its current price, only when above
    it); the operator's ``original_price_fen`` is never shown to buyers (platform rule: no
    invented "original" prices)."""
    return {
        "id": s.id, "name": s.name, "specs": s.specs or {}, "price_fen": s.price_fen,
        "struck_price_fen": struck_price_fen, "stock": max(s.stock, 0), "image": s.image,
    }


async def get_product_detail(product_id: int) -> dict[str, Any]:
    """Detail with on-sale SKUs, stock and images; an off-sale product is 404."""
    p = await Product.get_or_none(id=product_id, on_sale=True, price_from_fen__gt=0)
    if p is None:
        raise NotFound("商品不存在或已下架", code="product_not_found", field="id")
    skus = await Sku.filter(product_id=p.id, on_sale=True).order_by("id")
    data = product_summary(p)
    data.update({
        "description": p.description,
        "images": list(p.images or []),
        "skus": [sku_to_dict(s, await price_history.reference_price(s.id, s.price_fen)) for s in skus],
        "stock": sum(max(s.stock, 0) for s in skus),
    })
    return data


async def get_product_detail_bytes(rt: Runtime, product_id: int) -> bytes:
    """The serialized detail, from the in-process cache when fresh."""
    ttl = rt.settings.product_cache_seconds
    if ttl <= 0:
        return _dumps(await get_product_detail(product_id))
    cache = _cache(rt)
    now = time.monotonic()
    hit = cache.get(product_id, now)
    if hit is not None:
        return hit
    async def load() -> bytes:
        gen = cache.generation.get(product_id, 0)
        body = _dumps(await get_product_detail(product_id))
        if cache.generation.get(product_id, 0) == gen:
            cache.entries[product_id] = (now + ttl, body)
        return body

    # Waiters see the same error (e.g. 404 for an off-sale product); nobody waits forever.
    return await single_flight(cache.loading, product_id, load)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode()
