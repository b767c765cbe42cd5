"""SKU price history and the honest reference price (规范促销行为暂行规定).

A struck "original" price on a poster may only be the lowest price the SKU was actually
offered at in the 7 days before the promotion started; with no such history, nothing is
struck. The catalog records a row whenever a SKU's price or sale state changes
(``record_prices`` from ``catalog_admin.refresh_price_from``, which every SKU write calls).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from huituan.core.clock import utcnow
from huituan.models.catalog import Product, Sku, SkuPriceHistory

REFERENCE_WINDOW = timedelta(days=7)


def _q(q, conn):
    return q.using_db(conn) if conn is not None else q


async def record_prices(product_id: int, conn=None, now: datetime | None = None) -> int:
    """Append a history row for every SKU of the product whose price or sale state differs
    from its latest row. Returns the number of rows written."""
    now = now or utcnow()
    skus = await _q(Sku.filter(product_id=product_id), conn).values("id", "price_fen", "on_sale")
    if not skus:
        return 0
    # Offered means the SKU and its product both on sale: a product switched off for a week was
    # counted as offered at its old price, and struck that price above a later one (attacker
    # pass, session 8). Product switches call this too (catalog_admin).
    product_on = await _q(Product.filter(id=product_id), conn).values_list("on_sale", flat=True)
    for sku in skus:
        sku["on_sale"] = bool(sku["on_sale"]) and bool(product_on and product_on[0])
    latest: dict[int, tuple[int, bool]] = {}
    rows = await _q(SkuPriceHistory.filter(sku_id__in=[s["id"] for s in skus]), conn).order_by(
        "sku_id", "started_at", "id").values("sku_id", "price_fen", "on_sale")
    for r in rows:
        latest[r["sku_id"]] = (r["price_fen"], r["on_sale"])
    new = [SkuPriceHistory(sku_id=s["id"], price_fen=s["price_fen"], on_sale=s["on_sale"], started_at=now)
           for s in skus if latest.get(s["id"]) != (s["price_fen"], s["on_sale"])]
    if new:
        await SkuPriceHistory.bulk_create(new, using_db=conn)
    return len(new)


HISTORY_PAGE = 64  # rows read at once: a SKU's last changes cover the window in practice


async def _recent(sku_id: int, before: datetime | None, conn) -> list[SkuPriceHistory]:
    q = SkuPriceHistory.filter(sku_id=sku_id)
    if before is not None:
        q = q.filter(started_at__lt=before)
    return await _q(q, conn).order_by("-started_at", "-id").limit(HISTORY_PAGE)


def _low(rows: list[SkuPriceHistory], start: datetime, page_full: bool) -> tuple[int | None, bool]:
    """(lowest on-sale price in the window, whether ``rows`` reached back far enough to know).
    ``rows``: newest first, all started before ``start``; ``page_full``: older rows may exist."""
    window_start = start - REFERENCE_WINDOW
    prices = []
    for r in rows:
        if r.started_at >= window_start:
            if r.on_sale:
                prices.append(r.price_fen)
            continue
        if r.on_sale:
            prices.append(r.price_fen)  # in effect when the window opened
        return (min(prices) if prices else None), True
    return (min(prices) if prices else None), not page_full


async def current_price_since(sku_id: int, conn=None) -> datetime | None:
    """When the SKU's current price took effect (its latest history row), or None."""
    row = await _q(SkuPriceHistory.filter(sku_id=sku_id), conn).order_by("-started_at", "-id").first()
    return row.started_at if row else None


async def lowest_price_before(sku_id: int, start: datetime, conn=None) -> int | None:
    """The lowest on-sale price of the SKU during the 7 days before ``start``; None without history."""
    rows = await _recent(sku_id, start, conn)
    low, complete = _low(rows, start, len(rows) == HISTORY_PAGE)
    if complete:
        return low
    # More changes in the window than one page holds: ask the database for the minimum.
    window_start = start - REFERENCE_WINDOW
    in_window = await _q(SkuPriceHistory.filter(sku_id=sku_id, on_sale=True, started_at__gte=window_start,
                                                started_at__lt=start), conn).values_list("price_fen", flat=True)
    before = await _q(SkuPriceHistory.filter(sku_id=sku_id, started_at__lt=window_start), conn).order_by(
        "-started_at", "-id").first()
    prices = list(in_window) + ([before.price_fen] if before is not None and before.on_sale else [])
    return min(prices) if prices else None


async def reference_price(sku_id: int, price_fen: int, start: datetime | None = None, conn=None) -> int | None:
    """The struck price to show next to ``price_fen`` for a promotion that started at ``start``
    (default: when the SKU's current price took effect): the 7-day low, and only when it is
    above the price shown. None means draw no struck price. One query in the usual case."""
    if start is None:
        rows = await _recent(sku_id, None, conn)
        if not rows:
            return None
        start = rows[0].started_at
        low, complete = _low(rows[1:], start, len(rows) == HISTORY_PAGE)
        if not complete:
            low = await lowest_price_before(sku_id, start, conn)
    else:
        low = await lowest_price_before(sku_id, start, conn)
    if low is None or low <= price_fen:
        return None
    return low
