"""Leaders, their point day and consumers' pickup choices (团长、自提、核销)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from huituan.miniapp_api.admin.schemas import PickupPointOut, QueryModel
from huituan.miniapp_api.schemas import Text

DAY = r"^\d{4}-\d{2}-\d{2}$"


class LeaderApplyIn(BaseModel):
    name: Text = Field(..., min_length=1, max_length=32, description="团长姓名")
    phone: Text = Field(..., pattern=r"^1\d{10}$", description="手机号")
    point_name: Text = Field(..., min_length=1, max_length=64, description="自提点名称")
    province: Text = Field(..., min_length=1, max_length=32)
    city: Text = Field(..., min_length=1, max_length=32)
    district: Text = Field("", max_length=32)
    address: Text = Field(..., min_length=1, max_length=200)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    business_hours: Text = Field("", max_length=64, description="营业时间，如 08:00-21:00")


class StaffOut(BaseModel):
    user_id: int
    name: str


class LeaderProfileOut(BaseModel):
    id: int
    user_id: int
    name: str
    phone: str
    status: str
    commission_bp: int | None
    reject_reason: str
    wecom_linked: bool
    robot_registered: bool
    created_at: datetime
    approved_at: datetime | None
    pickup_points: list[PickupPointOut]
    staff: list[StaffOut]


class BindCodeOut(BaseModel):
    code: str
    expires_in: int
    hint: str


class StaffIn(BaseModel):
    user_id: int = Field(..., ge=1, le=2**62)
    name: Text = Field("", max_length=32)


class RobotIn(BaseModel):
    webhook: Text = Field(..., max_length=300, description="顾客群的群机器人 webhook 地址（或 key），留空表示取消")


class StoreSwitchIn(BaseModel):
    enabled: bool


class StoreItemOut(BaseModel):
    product_id: int
    title: str
    price_from_fen: int
    main_image: str
    enabled: bool


class StoreOut(BaseModel):
    leader_id: int
    leader_name: str
    items: list[StoreItemOut]


class DayQuery(QueryModel):
    day: str | None = Field(None, pattern=DAY, description="YYYY-MM-DD，默认今天")
    pickup_point_id: int | None = Field(None, ge=1, le=2**62)


class SummaryLineOut(BaseModel):
    product_id: int
    sku_id: int
    title: str
    sku_name: str
    quantity: int
    amount_fen: int


class PickItemOut(BaseModel):
    title: str
    sku_name: str
    quantity: int


class PickOut(BaseModel):
    order_id: int
    order_no: str
    code: str
    name: str
    phone: str = Field(description="已打码，如 138****0000")
    status: str
    verified: bool
    items: list[PickItemOut]


class DayReportOut(BaseModel):
    pickup_point_id: int
    point_name: str
    day: str
    cutoff_time: str
    orders: int
    units: int
    amount_fen: int
    summary: list[SummaryLineOut]
    picks: list[PickOut]


class ArrivalIn(BaseModel):
    day: str | None = Field(None, pattern=DAY)
    pickup_point_id: int | None = Field(None, ge=1, le=2**62)


class ArrivalOut(BaseModel):
    pickup_point_id: int
    point_name: str
    day: str
    orders: int
    consumers: int
    notified: int


class VerifyIn(BaseModel):
    code: Text = Field(..., min_length=6, max_length=40, description="提货码，或扫码得到的 huituan:pickup:<码>")


class VerifyOut(BaseModel):
    order_id: int
    order_no: str
    code: str
    verified_at: datetime
    items: list[PickItemOut]


class ShortageIn(BaseModel):
    product_id: int = Field(..., ge=1, le=2**62)
    quantity: int = Field(..., ge=1, le=10_000)
    kind: str = Field("shortage", pattern="^(shortage|damage)$")
    day: str | None = Field(None, pattern=DAY)
    note: Text = Field("", max_length=200)


class ShortageRefundOut(BaseModel):
    order_id: int
    order_no: str
    refund_no: str
    item_id: int
    quantity: int
    amount_fen: int


class ShortageOut(BaseModel):
    id: int
    pickup_point_id: int
    day: str
    product_id: int
    title: str
    kind: str
    quantity: int
    refunded_quantity: int
    refunded_fen: int
    orders: int
    refunds: list[ShortageRefundOut]
    failed: list[dict]


class CutoffIn(BaseModel):
    cutoff_time: Text = Field(..., max_length=10, description="HH:MM")


class NearbyQuery(QueryModel):
    latitude: float = Field(..., ge=-90, le=90)
    longitude: float = Field(..., ge=-180, le=180)
    consent: bool = Field(False, description="用户同意使用位置信息（不同意则不按距离查找）")
    radius_km: float = Field(10.0, gt=0, le=50)


class NearbyPointOut(PickupPointOut):
    distance_m: int


class NearbyOut(BaseModel):
    items: list[NearbyPointOut]


class DefaultPointIn(BaseModel):
    pickup_point_id: int = Field(..., ge=1, le=2**62)
    source: str = Field("chosen", pattern="^(chosen|share)$", description="chosen 自选；share 来自团长分享（已有默认时不覆盖）")


class DefaultPointOut(BaseModel):
    leader_id: int | None
    pickup_point: PickupPointOut | None


class TicketOut(BaseModel):
    order_id: int
    pickup_point_id: int
    point_name: str
    day: str
    code: str
    qr_text: str
    verified_at: datetime | None


class TicketListQuery(QueryModel):
    order_id: int | None = Field(None, ge=1, le=2**62)


class TicketListOut(BaseModel):
    items: list[TicketOut]
