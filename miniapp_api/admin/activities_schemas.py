"""Admin models of the activities (create, edit, start/stop, results)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from huituan.core.web.instants import Instant
from huituan.miniapp_api.admin.schemas import Body, Id
from huituan.miniapp_api.schemas import Name
from huituan.miniapp_api.schemas.activities import BargainActivityOut, FlashSessionOut, GroupActivityOut

Fen = Field(..., ge=1, le=100_000_000)


class SkuPriceIn(Body):
    sku_id: Id
    price_fen: int = Fen


class GroupActivityIn(Body):
    model_config = ConfigDict(extra="forbid")
    title: Name = Field(..., min_length=1, max_length=100)
    product_id: Id
    sku_prices: list[SkuPriceIn] = Field(..., min_length=1, max_length=50, description="各规格的拼团价")
    group_size: int = Field(..., ge=2, le=100)
    duration_hours: int = Field(24, ge=1, le=720)
    opener_free: bool = Field(False, description="团长免单")
    per_user_limit: int = Field(1, ge=1, le=100)
    total_limit: int = Field(0, ge=0, le=1_000_000, description="可开团数，0 为不限")
    virtual_fill: bool = Field(False, description="到期时已付款比例达到阈值则系统成团（默认关闭）")
    virtual_fill_percent: int = Field(80, ge=1, le=100)
    commission_enabled: bool = True
    starts_at: Instant = Field(..., examples=["2026-12-01T20:00:00+08:00"], description="开始时间（带时区）")
    ends_at: Instant = Field(..., examples=["2026-12-08T20:00:00+08:00"], description="结束时间（带时区）")


class GroupActivityPatch(Body):
    title: Name | None = Field(None, min_length=1, max_length=100)
    sku_prices: list[SkuPriceIn] | None = Field(None, min_length=1, max_length=50)
    group_size: int | None = Field(None, ge=2, le=100)
    duration_hours: int | None = Field(None, ge=1, le=720)
    opener_free: bool | None = None
    per_user_limit: int | None = Field(None, ge=1, le=100)
    total_limit: int | None = Field(None, ge=0, le=1_000_000)
    virtual_fill: bool | None = None
    virtual_fill_percent: int | None = Field(None, ge=1, le=100)
    commission_enabled: bool | None = None
    starts_at: Instant | None = Field(None, examples=["2026-12-01T20:00:00+08:00"], description="开始时间（带时区）")
    ends_at: Instant | None = Field(None, examples=["2026-12-08T20:00:00+08:00"], description="结束时间（带时区）")


class GroupResultsOut(BaseModel):
    activity: GroupActivityOut
    groups_open: int
    groups_succeeded: int
    groups_failed: int
    groups_virtually_filled: int
    paid_seats: int


class BargainActivityIn(Body):
    model_config = ConfigDict(extra="forbid")
    title: Name = Field(..., min_length=1, max_length=100)
    product_id: Id
    sku_id: Id
    start_price_fen: int = Fen
    floor_price_fen: int = Field(..., ge=0, le=100_000_000)
    helpers_needed: int = Field(..., ge=1, le=1000, description="砍到底价需要的人数，对用户展示")
    cut_min_fen: int = Fen
    cut_max_fen: int = Fen
    new_user_cut_fen: int = Field(0, ge=0, le=100_000_000, description="新用户助力的较大一刀，0 为关闭")
    duration_hours: int = Field(24, ge=1, le=720)
    helps_per_user: int = Field(3, ge=1, le=1000)
    helps_per_user_day: int = Field(5, ge=1, le=1000)
    allow_buy_at_current: bool = True
    stock: int = Field(..., ge=0, le=10_000_000)
    starts_at: Instant = Field(..., examples=["2026-12-01T20:00:00+08:00"], description="开始时间（带时区）")
    ends_at: Instant = Field(..., examples=["2026-12-08T20:00:00+08:00"], description="结束时间（带时区）")


class BargainActivityPatch(Body):
    title: Name | None = Field(None, min_length=1, max_length=100)
    start_price_fen: int | None = Field(None, ge=1, le=100_000_000)
    floor_price_fen: int | None = Field(None, ge=0, le=100_000_000)
    helpers_needed: int | None = Field(None, ge=1, le=1000)
    cut_min_fen: int | None = Field(None, ge=1, le=100_000_000)
    cut_max_fen: int | None = Field(None, ge=1, le=100_000_000)
    new_user_cut_fen: int | None = Field(None, ge=0, le=100_000_000)
    duration_hours: int | None = Field(None, ge=1, le=720)
    helps_per_user: int | None = Field(None, ge=1, le=1000)
    helps_per_user_day: int | None = Field(None, ge=1, le=1000)
    allow_buy_at_current: bool | None = None
    stock: int | None = Field(None, ge=0, le=10_000_000)
    starts_at: Instant | None = Field(None, examples=["2026-12-01T20:00:00+08:00"], description="开始时间（带时区）")
    ends_at: Instant | None = Field(None, examples=["2026-12-08T20:00:00+08:00"], description="结束时间（带时区）")


class BargainResultsOut(BaseModel):
    activity: BargainActivityOut
    bargains: dict[str, int]
    helps: int
    sold: int


class FlashItemIn(Body):
    sku_id: Id
    flash_price_fen: int = Fen
    stock: int = Field(..., ge=1, le=10_000_000, description="从规格库存中划出")
    per_user_limit: int = Field(1, ge=1, le=999)


class FlashSessionIn(Body):
    model_config = ConfigDict(extra="forbid")
    title: Name = Field(..., min_length=1, max_length=100)
    starts_at: Instant = Field(..., examples=["2026-12-01T20:00:00+08:00"], description="开始时间（带时区）")
    ends_at: Instant = Field(..., examples=["2026-12-08T20:00:00+08:00"], description="结束时间（带时区）")
    claim_ttl_seconds: int = Field(900, ge=60, le=7200, description="未支付的抢购名额在此秒数后释放")
    items: list[FlashItemIn] = Field(..., min_length=1, max_length=50)


class FlashSessionPatch(Body):
    title: Name | None = Field(None, min_length=1, max_length=100)
    starts_at: Instant | None = Field(None, examples=["2026-12-01T20:00:00+08:00"], description="开始时间（带时区）")
    ends_at: Instant | None = Field(None, examples=["2026-12-08T20:00:00+08:00"], description="结束时间（带时区）")
    claim_ttl_seconds: int | None = Field(None, ge=60, le=7200)


class StockDriftOut(BaseModel):
    id: int
    session_id: int
    item_id: int
    redis_stock: int | None = Field(..., description="Redis 中的库存，null 表示键丢失")
    db_stock: int
    repaired: bool
    created_at: str | None


class StockDriftListOut(BaseModel):
    items: list[StockDriftOut]


class FlashResultsOut(BaseModel):
    session: FlashSessionOut
    claims: dict[str, int]
    drifts: list[StockDriftOut]


class StatusIn(Body):
    status: Literal["active", "stopped"]
