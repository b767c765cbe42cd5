"""Mini-program models of the activities: group-buy, bargain, flash sale."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from huituan.core.web.http import model_response
from huituan.miniapp_api.schemas import Body, Text
from huituan.miniapp_api.schemas.orders import MyOrderOut

Id = Field(..., ge=1, le=2**62)


respond = model_response  # the route modules call it ``s.respond``


class _Delivery(Body):
    delivery_mode: Literal["express", "pickup"]
    address_id: int | None = Field(None, ge=1, le=2**62, description="快递必填")
    pickup_point_id: int | None = Field(None, ge=1, le=2**62, description="自提必填")
    remark: Text = Field("", max_length=200)


# -- group-buy ---------------------------------------------------------------------------------

class OpenGroupIn(_Delivery):
    activity_id: int = Field(..., ge=1, le=2**62, description="拼团活动编号")
    sku_id: int = Id
    quantity: int = Field(1, ge=1, le=999)


class JoinGroupIn(_Delivery):
    sku_id: int = Id
    quantity: int = Field(1, ge=1, le=999)
    share_code: str | None = Field(None, min_length=1, max_length=16, pattern=r"^[0-9A-Za-z]+$",
                                   description="分享码（与 group_id 二选一）")
    group_id: int | None = Field(None, ge=1, le=2**62, description="从商品的可参团列表选择")


class ShareCodeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # unknown query parameters are refused
    share_code: str | None = Field(None, min_length=1, max_length=16, pattern=r"^[0-9A-Za-z]+$",
                                   description="团分享码（必填）")


class GroupMemberOut(BaseModel):
    user_id: int
    nickname: str
    avatar_url: str
    is_opener: bool
    paid: bool


class GroupOut(BaseModel):
    id: int
    activity_id: int
    share_code: str
    status: Literal["open", "succeeded", "failed"]
    size: int
    seats_taken: int = Field(..., description="已占名额（含待支付），下单即占座")
    seats_paid: int
    seats_left: int
    virtual_seats: int = Field(..., description="系统成团补足的名额（不虚构成员）")
    system_filled: bool
    label: str = Field(..., description="系统成团时为“系统成团”")
    leader_id: int | None
    pickup_point_id: int | None
    expires_at: str | None
    seconds_left: int
    members: list[GroupMemberOut]


class GroupActivityOut(BaseModel):
    id: int
    title: str
    product_id: int
    sku_prices: dict[str, int] = Field(..., description="规格 id → 拼团价（分）")
    group_size: int
    duration_hours: int
    opener_free: bool
    per_user_limit: int
    total_limit: int
    groups_opened: int
    virtual_fill: bool
    virtual_fill_percent: int
    commission_enabled: bool
    status: Literal["draft", "active", "stopped"]
    starts_at: str | None
    ends_at: str | None


class GroupActivityListOut(BaseModel):
    items: list[GroupActivityOut]


class GroupActivityDetailOut(GroupActivityOut):
    open_groups: list[GroupOut] = Field(..., description="可参团的团，差人最少的在前")


class GroupOrderOut(BaseModel):
    order: MyOrderOut
    group: GroupOut


class MyGroupOut(BaseModel):
    seat_status: Literal["reserved", "paid", "released"]
    order_id: int
    is_opener: bool
    waiting: bool = Field(..., description="已支付，等待成团")
    waiting_text: str
    group: GroupOut


class MyGroupListOut(BaseModel):
    items: list[MyGroupOut]


# -- bargain -----------------------------------------------------------------------------------

class BargainActivityOut(BaseModel):
    id: int
    title: str
    product_id: int
    sku_id: int
    start_price_fen: int
    floor_price_fen: int
    helpers_needed: int = Field(..., description="砍到底价需要的助力人数（从一开始就展示）")
    cut_min_fen: int
    cut_max_fen: int
    new_user_cut_fen: int
    duration_hours: int
    helps_per_user: int
    helps_per_user_day: int
    allow_buy_at_current: bool
    stock: int
    stock_left: int
    status: Literal["draft", "active", "stopped"]
    starts_at: str | None
    ends_at: str | None


class BargainActivityListOut(BaseModel):
    items: list[BargainActivityOut]


class BargainHelpOut(BaseModel):
    seq: int
    user_id: int
    cut_fen: int
    price_after_fen: int
    new_user: bool
    nickname: str
    avatar_url: str


class BargainOut(BaseModel):
    id: int
    activity_id: int
    user_id: int
    status: Literal["active", "floor_reached", "bought", "expired"]
    title: str
    product_id: int
    sku_id: int
    start_price_fen: int
    floor_price_fen: int
    current_price_fen: int
    helpers_needed: int
    helps_count: int
    helpers_left: int
    progress_percent: int
    can_buy_now: bool
    order_id: int | None
    expires_at: str | None
    seconds_left: int
    helps: list[BargainHelpOut]


class BargainListOut(BaseModel):
    items: list[BargainOut]


class HelpOut(BaseModel):
    cut_fen: int
    price_after_fen: int
    seq: int
    new_user: bool
    bargain: BargainOut


class BuyBargainIn(_Delivery):
    bargain_id: int = Field(..., ge=1, le=2**62, description="砍价编号")


# -- flash sale --------------------------------------------------------------------------------

class FlashItemOut(BaseModel):
    id: int
    product_id: int
    sku_id: int
    flash_price_fen: int
    stock_total: int
    stock_left: int = Field(..., description="实时库存")
    per_user_limit: int


class FlashSessionOut(BaseModel):
    id: int
    title: str
    status: Literal["draft", "active", "stopped"]
    phase: Literal["upcoming", "running", "ended"]
    starts_at: str | None
    ends_at: str | None
    claim_ttl_seconds: int
    items: list[FlashItemOut]


class FlashSessionListOut(BaseModel):
    items: list[FlashSessionOut]


class ClaimIn(_Delivery):
    session_id: int = Field(..., ge=1, le=2**62, description="秒杀场次编号")
    item_id: int = Field(..., ge=1, le=2**62, description="秒杀商品编号（场次内）")
    quantity: int = Field(1, ge=1, le=999, description="不超过该商品每人限购数")


class FlashClaimOut(BaseModel):
    id: int
    session_id: int
    item_id: int
    quantity: int
    request_id: str
    order_id: int | None
    status: Literal["claimed", "paid", "expired", "refunded"]
    expires_at: str | None
    created_at: str | None


class ClaimStateOut(BaseModel):
    """A won claim answered before its order existed (202), and the poll of it."""

    status: Literal["queued", "ordered", "failed"] = Field(
        ..., description="queued 订单生成中（稍后再查）；ordered 订单已生成（见 order，请支付）；failed 未能生成订单（名额已释放，见 error）")
    request_id: str = Field(..., description="抢购时的 Idempotency-Key")
    session_id: int
    item_id: int | None
    quantity: int | None
    order: MyOrderOut | None = Field(None, description="status=ordered 时的订单")
    error: str | None = Field(None, description="status=failed 时的错误码，如 flash_db_short、address_not_found")
    message: str = Field("", description="给用户看的说明")
    retry_after_ms: int | None = Field(
        None, description="status=queued 时：建议多少毫秒后再查（按本进程排队的订单数和出单速度估计，300 到 5000）")


class ClaimStateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # unknown query parameters are refused
    # Both required; optional here so that an unknown parameter is the error named first.
    session_id: int | None = Field(None, ge=1, le=2**62, description="秒杀场次编号（必填）")
    request_id: str | None = Field(None, min_length=1, max_length=64, description="抢购时的 Idempotency-Key（必填）")


class FlashClaimListOut(BaseModel):
    items: list[FlashClaimOut]
