"""Leaders, their point day and consumers' pickup choices (团长、自提、核销)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from huituan.miniapp_api.admin.schemas import PickupPointOut, QueryModel
from huituan.miniapp_api.schemas import Body, Name, Text

DAY = r"^\d{4}-\d{2}-\d{2}$"


class LeaderApplyIn(Body):
    name: Name = Field(..., min_length=1, max_length=32, description="团长姓名")
    phone: Text = Field(..., pattern=r"^1\d{10}$", description="手机号")
    point_name: Name = Field(..., min_length=1, max_length=64, description="自提点名称")
    province: Text = Field(..., min_length=1, max_length=32)
    city: Text = Field(..., min_length=1, max_length=32)
    district: Text = Field("", max_length=32)
    address: Text = Field(..., min_length=1, max_length=200)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    business_hours: Text = Field("", max_length=64, description="营业时间，如 08:00-21:00")


class StaffOut(BaseModel):
    user_id: int
    name: str = Field(description="店员称呼")
    status: Literal["invited", "active"] = Field(description="invited：已邀请，对方接受前不能核销；active：已接受")
    invited_at: datetime = Field(description="邀请时间")
    accepted_at: datetime | None = Field(None, description="接受时间（未接受为 null）")


class StaffInvitationOut(BaseModel):
    leader_id: int
    leader_name: str = Field(description="邀请您的团长")
    pickup_points: list[str] = Field(description="该团长的自提点")
    name: str = Field(description="团长对您的称呼")
    status: Literal["invited", "active"] = Field(description="invited：待您接受；active：您已是该团长的店员")
    invited_at: datetime = Field(description="邀请时间")
    accepted_at: datetime | None = Field(None, description="接受时间（未接受为 null）")


class StaffInvitationListOut(BaseModel):
    items: list[StaffInvitationOut]


class LeaderProfileOut(BaseModel):
    id: int
    user_id: int
    name: str = Field(description="团长姓名")
    phone: str
    status: str = Field(description="申请状态：pending 待审核，approved 已通过，rejected 已驳回，disabled 已停用")
    commission_bp: int | None = Field(description="该团长的佣金比例（基点）；null 表示用全局比例")
    reject_reason: str = Field(description="驳回理由（被驳回时）")
    wecom_linked: bool = Field(description="是否已绑定企业微信（可用机器人）")
    robot_registered: bool = Field(description="是否已登记顾客群的群机器人")
    created_at: datetime
    approved_at: datetime | None
    pickup_points: list[PickupPointOut] = Field(description="团长的自提点")
    staff: list[StaffOut] = Field(description="店员（可核销）")


class BindCodeOut(BaseModel):
    code: str = Field(description="8 位绑定码，在企业微信里发送「绑定 <绑定码>」", examples=["12345678"])
    expires_in: int
    hint: str = Field(description="给团长看的操作提示")


class StaffIn(Body):
    user_id: int = Field(..., ge=1, le=2**62)
    name: Text = Field("", max_length=32, description="店员称呼")


class CutoffOut(PickupPointOut):
    pass


class RobotIn(Body):
    webhook: Text = Field(..., max_length=300, description="顾客群的群机器人 webhook 地址（或 key），留空表示取消")


class StoreSwitchIn(Body):
    enabled: bool = Field(description="true 上架，false 下架（仅对本团长小店）")


class StoreItemOut(BaseModel):
    product_id: int
    title: str
    price_from_fen: int
    main_image: str
    enabled: bool = Field(description="是否在本团长小店上架")


class StoreOut(BaseModel):
    leader_id: int
    leader_name: str = Field(description="团长姓名")
    items: list[StoreItemOut]


class DayQuery(QueryModel):
    day: str | None = Field(None, pattern=DAY, description="自提点的日期 YYYY-MM-DD，默认今天（北京时间）",
                            examples=["2026-12-01"])
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
    code: str = Field(description="提货码")
    name: str = Field(description="收货人（昵称或收货人姓名）")
    phone: str = Field(description="手机号（已打码，中间四位为星号）")
    status: str
    verified: bool = Field(description="是否已核销")
    items: list[PickItemOut]


class DayReportOut(BaseModel):
    pickup_point_id: int
    point_name: str = Field(description="自提点名称")
    day: str = Field(description="自提点的日期（截单前付款算当天）", examples=["2026-12-01"])
    cutoff_time: str
    orders: int = Field(description="订单数")
    units: int = Field(description="待提货商品件数")
    amount_fen: int
    summary: list[SummaryLineOut] = Field(description="汇总单：每种商品和规格的件数")
    picks: list[PickOut] = Field(description="分拣单：每位顾客的提货码和商品")


class ArrivalIn(Body):
    day: str | None = Field(None, pattern=DAY, description="通知这一天及之前的订单，默认今天", examples=["2026-12-01"])
    pickup_point_id: int | None = Field(None, ge=1, le=2**62)


class ArrivalOut(BaseModel):
    pickup_point_id: int
    point_name: str = Field(description="自提点名称")
    day: str = Field(description="到货日期", examples=["2026-12-01"])
    orders: int = Field(description="变为待自提的订单数")
    consumers: int = Field(description="涉及的顾客数")
    notified: int = Field(description="发出的订阅消息数（每位顾客一次）")


class VerifyIn(Body):
    code: Text = Field(..., min_length=6, max_length=40, description="提货码，或扫码得到的 huituan:pickup:<码>")


class VerifyOut(BaseModel):
    order_id: int
    order_no: str
    code: str = Field(description="提货码")
    verified_at: datetime = Field(description="核销时间（UTC）")
    items: list[PickItemOut]


class ShortageIn(Body):
    product_id: int = Field(..., ge=1, le=2**62)
    quantity: int = Field(..., ge=1, le=10_000)
    kind: str = Field("shortage", pattern="^(shortage|damage)$", description="shortage 缺货，damage 损坏",
                      examples=["shortage"])
    day: str | None = Field(None, pattern=DAY, description="自提点的日期；默认今天及之前所有未提货的订单",
                            examples=["2026-12-01"])
    note: Text = Field("", max_length=200, description="备注")


class ShortageRefundOut(BaseModel):
    order_id: int
    order_no: str
    refund_no: str
    item_id: int
    quantity: int = Field(description="退款件数")
    amount_fen: int = Field(description="退款金额（分）")


class ShortageOut(BaseModel):
    id: int
    pickup_point_id: int
    day: str = Field(description="报损日期", examples=["2026-12-01"])
    product_id: int
    title: str
    kind: str = Field(description="shortage 缺货，damage 损坏")
    quantity: int = Field(description="报损件数")
    refunded_quantity: int = Field(description="已发起退款的件数")
    refunded_fen: int = Field(description="已发起退款的金额（分）")
    orders: int = Field(description="退款的订单数")
    refunds: list[ShortageRefundOut] = Field(description="每笔退款")
    failed: list[dict] = Field(description="未能自动退款的订单（已有退款在处理中），请运营处理")


class CutoffIn(Body):
    cutoff_time: Text = Field(..., max_length=10, description="每日截单时间 HH:MM（00:00–23:59）")


class NearbyQuery(QueryModel):
    latitude: float | None = Field(None, ge=-90, le=90, description="纬度（用户同意后才传）")
    longitude: float | None = Field(None, ge=-180, le=180, description="经度（用户同意后才传）")
    consent: bool = Field(False, description="用户同意使用位置信息（不同意则不按距离查找）")
    radius_km: float = Field(10.0, gt=0, le=50, description="查找半径（公里）")


class NearbyPointOut(PickupPointOut):
    distance_m: int = Field(description="距离（米）")


class NearbyOut(BaseModel):
    items: list[NearbyPointOut]


class DefaultPointIn(Body):
    pickup_point_id: int = Field(..., ge=1, le=2**62)
    source: str = Field("chosen", pattern="^(chosen|share)$", description="chosen 自选；share 来自团长分享（已有默认时不覆盖）",
                        examples=["chosen"])


class DefaultPointOut(BaseModel):
    leader_id: int | None
    pickup_point: PickupPointOut | None = Field(description="默认自提点；没有时为 null")


class TicketOut(BaseModel):
    order_id: int
    pickup_point_id: int
    point_name: str = Field(description="自提点名称")
    day: str = Field(description="所属自提点日期", examples=["2026-12-01"])
    code: str = Field(description="提货码（8 位数字）", examples=["12345678"])
    qr_text: str = Field(description="提货二维码内容，团长扫码核销", examples=["huituan:pickup:12345678"])
    verified_at: datetime | None = Field(description="核销时间（UTC）；未核销为 null")


class TicketListQuery(QueryModel):
    order_id: int | None = Field(None, ge=1, le=2**62)


class TicketListOut(BaseModel):
    items: list[TicketOut]
