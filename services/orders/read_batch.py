"""``create_order``'s read for many orders at once (PostgreSQL): one query per batch, not one
per order.

A burst of flash-sale winners' orders is made in a line (``activities.flash_queue``). Each order
first reads the same things: its key's earlier order, the buyer, the address, the SKU. One
query each meant one pooled connection each: with the event loop busy with the crowd, every
round trip takes a loop turn, and 20 connections let through about a hundred orders a second.
Here the reads that arrive while one batch is being read are read together by the next one.

The rows are exactly ``create._read_context``'s (its columns, one row per SKU found, at least
one row per order), plus ``ord``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from huituan.core import sql
from huituan.core.coalesce import Coalescer

MAX_BATCH = 512


@dataclass
class _Read:
    sku_ids: tuple[int, ...]
    user_id: int
    idempotency_key: str
    address_id: int | None


@lru_cache(maxsize=1)
def _statement() -> str:
    return (
        "SELECT t.ord, (SELECT o.id FROM \"order\" o WHERE o.user_id = t.uid AND o.idempotency_key = t.k) "
        "AS existing_id, (SELECT u.is_disabled FROM \"user\" u WHERE u.id = t.uid) AS user_disabled, "
        "a.id AS address_id, a.receiver, a.phone, a.province, a.city, a.district, a.detail, "
        "s.id AS sku_id, s.product_id, s.name AS sku_name, s.image AS sku_image, s.price_fen, "
        "s.on_sale AS sku_on_sale, p.title, p.main_image, p.on_sale AS product_on_sale "
        "FROM unnest(?::bigint[], ?::text[], ?::bigint[]) WITH ORDINALITY AS t(uid, k, aid, ord) "
        "LEFT JOIN address a ON a.id = t.aid AND a.user_id = t.uid "
        "LEFT JOIN sku s ON s.id = ANY(?::bigint[]) LEFT JOIN product p ON p.id = s.product_id "
        "ORDER BY t.ord, s.id")


async def read(user_id: int, idempotency_key: str, address_id: int | None, sku_ids: list[int]) -> list[dict[str, Any]]:
    return await _reads.submit(_Read(tuple(sku_ids), user_id, idempotency_key, address_id))


async def _read_batch(reads: list[_Read]) -> list[Any]:
    """One query per distinct SKU list in the batch; each read gets its own rows."""
    out: list[Any] = [None] * len(reads)
    groups: dict[tuple[int, ...], list[int]] = {}
    for n, r in enumerate(reads):
        groups.setdefault(r.sku_ids, []).append(n)
    for sku_ids, positions in groups.items():
        group = [reads[n] for n in positions]
        try:
            rows = await sql.fetch(None, _statement(), [
                [r.user_id for r in group], [r.idempotency_key for r in group], [r.address_id for r in group],
                list(sku_ids)])
        except Exception as exc:  # noqa: BLE001 - each caller of the group gets the error it would have had
            for n in positions:
                out[n] = exc
            continue
        by_position: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            by_position.setdefault(row["ord"], []).append(row)
        for k, n in enumerate(positions, start=1):
            out[n] = by_position.get(k, [])
    return out


_reads = Coalescer(_read_batch, max_batch=MAX_BATCH, name="order read batches", sequential=False)
STATS = _reads.stats  # batches, items, largest (tests assert reads were shared)
