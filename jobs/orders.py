"""Order sweeps: close unpaid orders past their deadline, auto-confirm old shipments, add paid
and refunded units to the products' sales counts."""

from __future__ import annotations

from huituan.core.runtime import Runtime
from huituan.services import product_sales
from huituan.services.orders import lifecycle


async def close_unpaid_orders(rt: Runtime) -> int:
    return await lifecycle.close_expired_orders(rt)


async def auto_confirm_orders(rt: Runtime) -> int:
    return await lifecycle.auto_confirm_orders(rt.settings.order_auto_confirm_days)


async def fold_product_sales(rt: Runtime) -> int:
    return await product_sales.fold_all()
