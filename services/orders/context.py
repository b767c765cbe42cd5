"""What ``create_order`` reads before it writes, in one round trip: the order already stored
under the key, the user's state, the address (only the user's own) and the SKUs with their
products. One row per SKU found, at least one row.

``read_one`` reads it for one order. ``read_in_batch`` (PostgreSQL) reads it for many orders at
once: a burst of flash-sale winners' orders is made in a line (``activities.flash_queue``), and
one query each meant one pooled connection each; with the event loop busy with the crowd every
round trip takes a loop turn, and 20 connections let through about a hundred orders a second.
There the reads that arrive in one loop turn are read together (rows as ``read_one``'s, plus
``ord``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from huituan.core import sql
from huituan.core.coalesce import Coalescer

# The same columns for one order and for many (``t.uid`` / ``t.k`` are the order's user and key).
_COLUMNS = (
    '(SELECT o.id FROM "order" o WHERE o.user_id = {uid} AND o.idempotency_key = {key}) AS existing_id, '
    '(SELECT u.is_disabled FROM "user" u WHERE u.id = {uid}) AS user_disabled, '
    "a.id AS address_id, a.receiver, a.phone, a.province, a.city, a.district, a.detail, "
    "s.id AS sku_id, s.product_id, s.name AS sku_name, s.image AS sku_image, s.price_fen, "
    "s.on_sale AS sku_on_sale, p.title, p.main_image, p.on_sale AS product_on_sale")


async def read_one(user_id: int, idempotency_key: str, address_id: int | None,
                   sku_ids: list[int]) -> list[dict[str, Any]]:
    sku_join = (f"LEFT JOIN sku s ON s.id IN ({sql.placeholders(len(sku_ids))}) "
                "LEFT JOIN product p ON p.id = s.product_id" if sku_ids else
                "LEFT JOIN sku s ON 1 = 0 LEFT JOIN product p ON 1 = 0")
    return await sql.fetch(None, (
        "SELECT " + _COLUMNS.format(uid="?", key="?") + " "
        "FROM (SELECT 1 AS one) x LEFT JOIN address a ON a.id = ? AND a.user_id = ? " + sku_join
    ), [user_id, idempotency_key, user_id, address_id, user_id, *sku_ids])


async def read_in_batch(user_id: int, idempotency_key: str, address_id: int | None,
                        sku_ids: list[int]) -> list[dict[str, Any]]:
    return await _reads.submit(_Read(tuple(sku_ids), user_id, idempotency_key, address_id))


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
        "SELECT t.ord, " + _COLUMNS.format(uid="t.uid", key="t.k") + " "
        "FROM unnest(?::bigint[], ?::text[], ?::bigint[]) WITH ORDINALITY AS t(uid, k, aid, ord) "
        "LEFT JOIN address a ON a.id = t.aid AND a.user_id = t.uid "
        "LEFT JOIN sku s ON s.id = ANY(?::bigint[]) LEFT JOIN product p ON p.id = s.product_id "
        "ORDER BY t.ord, s.id")


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


_reads = Coalescer(_read_batch, max_batch=MAX_BATCH, name="order context reads", sequential=False)
STATS = _reads.stats  # batches, items, largest (tests assert reads were shared)
