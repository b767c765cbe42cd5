"""Request and response models of the admin API (and the public pickup-point list)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from huituan.core.clock import CHINA_TZ, china_day_bounds
from huituan.core.inbound import is_http_url
from huituan.core.web.http import model_response
from huituan.core.web.instants import RANGE_MESSAGE, check_instant
from huituan.miniapp_api.schemas import Name
from huituan.miniapp_api.schemas.orders import AddressSnapshotOut, MyOrderItemOut
from huituan.models.leader import LeaderStatus
from huituan.models.order import OrderStatus, RefundStatus, UnmatchedPaymentStatus

# Every string, number and list a client sends is bounded (tests/core/web/test_input_bounds.py).
SpecName = Annotated[str, Field(min_length=1, max_length=32)]
SpecValue = Annotated[str, Field(max_length=64)]


def _http_url(value: str) -> str:
    # An image users' phones load: an http(s) address, never javascript: or file: (attacker
    # pass, session 7; share materials already refused them).
    if value and not is_http_url(value):
        raise ValueError("图片地址必须是 http(s) 链接")
    return value


ImageUrl = Annotated[str, Field(max_length=512), AfterValidator(_http_url)]


def _drop_null_variants(schema: dict[str, Any]) -> None:
    # Query strings cannot carry JSON null: "absent" is how a client leaves a filter out.
    for prop in schema.get("properties", {}).values():
        variants = prop.get("anyOf")
        if variants and any(v.get("type") == "null" for v in variants):
            rest = [v for v in variants if v.get("type") != "null"]
            prop.pop("anyOf")
            if len(rest) == 1:
                prop.update(rest[0])
            else:
                prop["anyOf"] = rest
            if prop.get("default", 0) is None:
                prop.pop("default")


# Database ids: bigint; larger numbers are a 422 naming the field, not a driver overflow.
Id = Annotated[int, Field(ge=1, le=2**62)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class _NoNul(BaseModel):
    # PostgreSQL text cannot hold NUL: refuse it as bad input naming the field, not a 500. The
    # edge's screening (core.inbound) refuses it first; this holds for a model filled elsewhere.
    # An after-check: a per-field "before" validator would hand every field's JSON value on as
    # a Python value, and strict JSON validation (core.web.http.parse_json) would then refuse a
    # time or an enum written as its JSON string.
    @model_validator(mode="after")
    def _no_nul(self) -> Any:
        for name, value in self.__dict__.items():
            if _has_nul(value):
                raise ValueError(f"{name}: 不能包含空字符（\\x00）")
        return self


class QueryModel(_NoNul):
    # Unknown query parameters are refused like unknown body fields (a misspelt filter is a
    # 422 naming it, not a silently unfiltered list).
    model_config = ConfigDict(json_schema_extra=_drop_null_variants, extra="forbid")


class Body(_NoNul):
    model_config = ConfigDict(extra="forbid")


respond = model_response  # the route modules call it ``s.respond``


class PageQuery(QueryModel):
    page: int = Field(1, ge=1, le=10_000, description="页码，从 1 开始")
    page_size: int = Field(20, ge=1, le=100, description="每页条数")


class Page(BaseModel):
    total: int
    page: int
    page_size: int


# --- operators -------------------------------------------------------------------------------

class LoginIn(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


class OperatorOut(BaseModel):
    id: int
    username: str
    display_name: str
    wecom_userid: str | None
    is_active: bool
    created_at: datetime


class LoginOut(BaseModel):
    token: str
    expires_in: int = Field(description="token 有效期（秒）")
    operator: OperatorOut


# --- catalog ---------------------------------------------------------------------------------

class CategoryIn(Body):
    name: Name = Field(min_length=1, max_length=32)
    sort: int = Field(0, ge=-1_000_000, le=1_000_000)
    is_active: bool = True


class CategoryPatch(Body):
    name: Name = Field(None, min_length=1, max_length=32)
    sort: int = Field(None, ge=-1_000_000, le=1_000_000)
    is_active: bool = Field(None)


class CategoryOut(BaseModel):
    id: int
    name: str
    sort: int
    is_active: bool
    created_at: datetime


class CategoryListOut(BaseModel):
    items: list[CategoryOut]


class SkuIn(Body):
    code: str = Field(min_length=1, max_length=64, description="全局唯一的 SKU 编码")
    name: str = Field("", max_length=100)
    specs: dict[SpecName, SpecValue] = Field(default_factory=dict, max_length=20, description="规格，如 {\"重量\": \"5kg\"}")
    price_fen: int = Field(gt=0, le=100_000_000, description="售价（分）")
    original_price_fen: int = Field(0, ge=0, le=100_000_000, description="划线价（分）")
    stock: int = Field(0, ge=0, le=10_000_000)
    on_sale: bool = True
    image: ImageUrl = Field("", max_length=512)


class SkuPatch(Body):
    """库存不在这里修改：请用 POST /api/admin/v1/skus/{id}/stock。"""

    code: str = Field(None, min_length=1, max_length=64)
    name: str = Field(None, max_length=100)
    specs: dict[SpecName, SpecValue] = Field(None, max_length=20)
    price_fen: int = Field(None, gt=0, le=100_000_000)
    original_price_fen: int = Field(None, ge=0, le=100_000_000)
    on_sale: bool = Field(None)
    image: ImageUrl = Field(None, max_length=512)


class StockIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"delta": 50}, {"set": 300, "expected_stock": 280}]})

    set: int | None = Field(None, ge=0, le=10_000_000, description="把库存设为该值（须同时给出 expected_stock）")
    expected_stock: int | None = Field(None, ge=0, le=10_000_000,
                                       description="设置库存时必填：修改前看到的库存；与当前库存不一致返回 409 stock_changed")
    delta: int | None = Field(None, ge=-10_000_000, le=10_000_000,
                              description="库存增减量；减少后不能为负，否则 409")


class SkuOut(BaseModel):
    id: int
    product_id: int
    code: str
    name: str
    specs: dict[str, Any]
    price_fen: int
    original_price_fen: int
    stock: int
    on_sale: bool
    image: str
    created_at: datetime
    updated_at: datetime


class ProductIn(Body):
    title: Name = Field(min_length=1, max_length=100)
    category_id: Id | None = None
    subtitle: str = Field("", max_length=200)
    description: str = Field("", max_length=20_000)
    main_image: ImageUrl = Field(None, max_length=512, description="默认取 images 的第一张")
    images: list[ImageUrl] = Field(default_factory=list, max_length=20)
    on_sale: bool = True
    sort: int = Field(0, ge=-1_000_000, le=1_000_000)
    skus: list[SkuIn] = Field(default_factory=list, max_length=50)


class ProductPatch(Body):
    title: Name = Field(None, min_length=1, max_length=100)
    category_id: Id | None = Field(None, description="传 null 取消分类")
    subtitle: str = Field(None, max_length=200)
    description: str = Field(None, max_length=20_000)
    main_image: ImageUrl = Field(None, max_length=512)
    images: list[ImageUrl] = Field(None, max_length=20)
    on_sale: bool = Field(None)
    sort: int = Field(None, ge=-1_000_000, le=1_000_000)


class ProductOut(BaseModel):
    id: int
    category_id: int | None
    title: str
    subtitle: str
    description: str
    main_image: str
    images: list[str]
    on_sale: bool
    price_from_fen: int = Field(description="在售 SKU 的最低价（分）；无在售 SKU 时为 0")
    sales: int
    sort: int
    created_at: datetime
    updated_at: datetime


class ProductDetailOut(ProductOut):
    skus: list[SkuOut]


class ProductListQuery(PageQuery):
    on_sale: bool | None = None
    category_id: Id | None = None
    keyword: str | None = Field(None, max_length=100, description="匹配标题、副标题或完整 SKU 编码")


class ProductListOut(Page):
    items: list[ProductOut]


class OnSaleIn(Body):
    ids: list[Id] = Field(min_length=1, max_length=500)
    on_sale: bool


class OnSaleOut(BaseModel):
    updated: int
    ids: list[int]
    on_sale: bool


class ImportQuery(QueryModel):
    dry_run: bool = Field(False, description="true：只校验不写入")
    stock_mode: Literal["keep", "set"] = Field(
        "keep", description="已有 SKU 的库存：keep（默认）不改库存，以线上库存为准；"
                            "set 把库存设为该行的 stock（行内留空则不改）")


class ImportJsonIn(_NoNul):
    """每个商品：{title, category, subtitle?, description?, images?, on_sale?,
    skus: [{code, name?, price_fen, original_price_fen?, stock, on_sale?, image?}]}。
    新 SKU 必须提供 price_fen 与 stock；已有 SKU 只更新提供了的字段（空字符串视为未提供），
    库存默认不改（见 stock_mode）。逐行校验，坏行不影响好行。"""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"products": [
        {"title": "烟台红富士苹果", "category": "蔬菜水果", "subtitle": "脆甜多汁",
         "images": ["https://img.example.com/demo/yantai-apple.jpg"],
         "skus": [{"code": "APPLE-2.5KG", "name": "2.5kg 装", "price_fen": 2990, "original_price_fen": 3990, "stock": 500},
                  {"code": "APPLE-5KG", "name": "5kg 装", "price_fen": 5490, "stock": 300}]}]}]})
    products: list[dict[str, Any]] = Field(max_length=5000, description="商品列表，每个商品带 skus；格式见接口说明")


class ImportRowError(BaseModel):
    field: str
    message: str
    current_stock: int | None = Field(None, description="库存已变化时（field 为 expected_stock）：当前库存")


class ImportRowOut(BaseModel):
    row: int = Field(description="行号：JSON 为按出现顺序的 SKU 序号，CSV 为数据行序号（不含表头），均从 1 开始")
    ok: bool
    product_id: int | None = None
    sku_code: str | None = None
    stock: Literal["set", "kept"] | None = Field(
        None, description="成功行对库存的处理：set 为写入了该行的 stock（新 SKU，或 stock_mode=set），"
                          "kept 为保持已有 SKU 的库存不变")
    error: ImportRowError | None = None


class ImportOut(BaseModel):
    total: int
    succeeded: int
    failed: int
    dry_run: bool
    stock_mode: Literal["keep", "set"] = "keep"
    rows: list[ImportRowOut]


# --- orders and refunds ----------------------------------------------------------------------

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOUND_SCHEMA = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}


def _china_bound(value: Any, *, end: bool) -> Any:
    """A bare date is the China day (Asia/Shanghai): its start as a lower bound, the next
    day's start as an (exclusive) upper bound. A time without an offset is China time. Either
    way the result is an aware UTC datetime: the server never compares naive datetimes."""
    if isinstance(value, str) and _DAY.match(value.strip()):
        try:
            start, next_start = china_day_bounds(date.fromisoformat(value.strip()))
        except ValueError:
            raise ValueError("日期不正确，应为 YYYY-MM-DD") from None
        except OverflowError:  # 0001-01-01 or 9999-12-31: no China day bounds in UTC
            raise ValueError(RANGE_MESSAGE) from None
        return next_start if end else start
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("时间格式不正确，应为 YYYY-MM-DD 或 ISO 8601 时间（如 2024-05-01T08:00:00+08:00）") from None
    if isinstance(value, datetime):
        return check_instant(value.replace(tzinfo=CHINA_TZ) if value.tzinfo is None else value)
    return value


ChinaFrom = Annotated[datetime, BeforeValidator(lambda v: _china_bound(v, end=False)),
                      AfterValidator(check_instant), WithJsonSchema(_BOUND_SCHEMA)]
ChinaTo = Annotated[datetime, BeforeValidator(lambda v: _china_bound(v, end=True)),
                    AfterValidator(check_instant), WithJsonSchema(_BOUND_SCHEMA)]


class OrderSearchQuery(PageQuery):
    status: OrderStatus | None = Field(None, description="订单状态")
    keyword: str | None = Field(None, min_length=1, max_length=64,
                                description="关键词：订单号前缀、商品名称、收货人姓名或手机号（含买家绑定手机号）")
    order_no: str | None = Field(None, max_length=32, description="完整订单号")
    user_id: Id | None = Field(None, description="买家用户 id")
    phone: str | None = Field(None, max_length=20, description="买家绑定的手机号")
    created_from: ChinaFrom | None = Field(
        None, description="下单时间起（含）：日期 YYYY-MM-DD 表示北京时间当天 0 点；时间不带时区按北京时间")
    created_to: ChinaTo | None = Field(
        None, description="下单时间止：日期 YYYY-MM-DD 表示包含北京时间当天（到次日 0 点，不含）；时间不带时区按北京时间")


class OrderOut(BaseModel):
    id: int
    order_no: str
    user_id: int
    status: OrderStatus
    delivery_mode: str
    address: AddressSnapshotOut | None = Field(description="收货地址快照；自提订单为 null")
    pickup_point_id: int | None
    activity_type: str
    activity_ref: str
    goods_fen: int
    discount_fen: int
    shipping_fen: int
    payable_fen: int
    paid_fen: int
    refunded_fen: int
    remark: str
    transaction_id: str | None
    express_company: str
    express_no: str
    pay_deadline: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    created_at: datetime


class OrderListOut(Page):
    items: list[OrderOut]


# The admin order detail shows the same line as the buyer sees.
OrderItemOut = MyOrderItemOut


class PaymentOut(BaseModel):
    id: int
    transaction_id: str
    amount_fen: int
    status: str
    created_at: datetime


class RefundLineOut(BaseModel):
    item_id: int = Field(description="订单明细编号")
    quantity: int = Field(description="退款件数")
    amount_fen: int = Field(description="该行退款金额（分）")


class RefundOut(BaseModel):
    id: int
    refund_no: str
    order_id: int
    order_no: str | None = None
    user_id: int
    status: RefundStatus
    amount_fen: int
    items: list[RefundLineOut] = Field(description="退款明细；整单退款为空列表")
    whole_order: bool
    reason: str
    automatic: bool
    payment_transaction_id: str | None = Field(None, description="自动退款退回的那笔微信支付")
    wechat_refund_id: str | None
    reviewed_by: int | None
    review_note: str
    created_at: datetime
    finished_at: datetime | None


class WeChatDeliveryOut(BaseModel):
    status: Literal["pending", "sent", "failed"] = Field(
        description="pending 待上传或重试中；sent 微信已收到；failed 已放弃，需人工处理（见 last_error）")
    attempts: int = Field(description="已尝试次数")
    last_error: str = Field(description="最近一次失败的原因（含微信 errcode）；成功后为空")
    next_attempt_at: datetime | None = Field(description="下次重试时间（UTC）")
    sent_at: datetime | None = Field(description="微信确认收到的时间（UTC）")


class WeChatShippingOut(BaseModel):
    upload: WeChatDeliveryOut | None = Field(
        description="小程序发货信息录入（发货或到货待自提时上传；未上传前微信冻结这笔货款）；null 表示尚未产生")
    confirm_receive: WeChatDeliveryOut | None = Field(
        description="确认收货提醒（买家确认收货或自提核销后通知微信）；null 表示尚未产生")


class OrderDetailOut(OrderOut):
    items: list[OrderItemOut]
    payments: list[PaymentOut]
    refunds: list[RefundOut]
    wechat_shipping: WeChatShippingOut = Field(description="微信小程序发货信息管理的上传状态")


class ShipIn(Body):
    express_company: str = Field(min_length=1, max_length=32)
    express_no: str = Field(min_length=1, max_length=64)


class RefundListQuery(PageQuery):
    status: RefundStatus | None = None
    automatic: bool | None = Field(None, description="true 只看自动退款（订单未留下的支付），false 只看买家申请")


class RefundListOut(Page):
    items: list[RefundOut]


class ApproveRefundIn(Body):
    note: str = Field("", max_length=200)


class RejectRefundIn(Body):
    note: str = Field(min_length=1, max_length=200, description="驳回理由，买家可见")


# --- unmatched payments ---------------------------------------------------------------------

class UnmatchedPaymentOut(BaseModel):
    id: int
    transaction_id: str = Field(description="微信支付单号")
    out_trade_no: str = Field(description="支付里的商户订单号（本系统没有这个订单）")
    amount_fen: int = Field(description="到账金额（分）")
    payer_openid: str = Field(description="付款人 openid")
    status: UnmatchedPaymentStatus = Field(
        description="open 待处理 / refunding 原路退款中 / refunded 已退回付款人 / resolved 已人工处理")
    resolved_by: int | None = Field(description="处理（或发起退款）的运营账号 id")
    resolution_note: str = Field(description="处理说明")
    refund_no: str | None = Field(description="最近一次原路退款的商户退款单号（UP…）")
    refund_attempts: int = Field(description="发起过几次原路退款")
    wechat_refund_id: str | None = Field(description="微信支付退款单号（已退款时）")
    refund_failure: str = Field(description="上次退款未成功的原因（退款失败后回到 open）")
    created_at: datetime = Field(description="收到支付通知的时间（UTC）")
    refund_requested_at: datetime | None = Field(description="最近一次发起退款的时间（UTC）")
    resolved_at: datetime | None = Field(description="处理完成或退款成功的时间（UTC）")


class UnmatchedPaymentListQuery(PageQuery):
    status: UnmatchedPaymentStatus | None = Field(
        None, description="open 待处理 / refunding 退款中 / refunded 已退款 / resolved 已人工处理；不填为全部")


class UnmatchedPaymentListOut(Page):
    items: list[UnmatchedPaymentOut]


class RefundUnmatchedIn(Body):
    note: str = Field("", max_length=200, description="备注（可不填），如「核实为重复扣款」")


class ResolveUnmatchedIn(Body):
    note: str = Field(min_length=1, max_length=200,
                      description="处理说明，如「已在商户平台原路退款」或「已人工补单，订单号 …」")


# --- leaders and pickup points ---------------------------------------------------------------

class LeaderIn(Body):
    user_id: Id
    name: Name = Field(min_length=1, max_length=32)
    phone: str = Field(min_length=5, max_length=20)
    commission_bp: int | None = Field(None, ge=0, le=3000, description="团长佣金，万分比；不填用全局比例")


class LeaderOut(BaseModel):
    id: int
    user_id: int
    name: str
    phone: str
    status: LeaderStatus
    commission_bp: int | None
    created_at: datetime
    approved_at: datetime | None
    reject_reason: str = Field("", description="驳回理由（被驳回时）")
    wecom_linked: bool = Field(False, description="是否已绑定企业微信（可用机器人）")
    robot_registered: bool = Field(False, description="是否已登记顾客群的群机器人")


class RejectLeaderIn(Body):
    reason: str = Field(min_length=1, max_length=200, description="驳回理由，申请人可见")


class LeaderRateIn(Body):
    commission_bp: int | None = Field(None, ge=0, le=3000, description="该团长的佣金万分比；null 表示用全局比例")


class ProductLeaderRateIn(Body):
    rate_bp: int | None = Field(None, ge=0, le=3000, description="该商品的团长佣金万分比（优先于团长和全局）；null 删除")


class ProductLeaderRateOut(BaseModel):
    product_id: int
    rate_bp: int | None = Field(description="该商品的团长佣金比例（基点）；null 表示没有单独设置")
    global_rate_bp: int = Field(description="全局团长佣金比例（基点）")


class ShortageReportOut(BaseModel):
    id: int
    leader_id: int
    pickup_point_id: int
    day: str = Field(description="报损日期", examples=["2026-12-01"])
    product_id: int
    title: str
    kind: str = Field(description="shortage 缺货，damage 损坏")
    quantity: int = Field(description="报损件数")
    refunded_quantity: int
    refunded_fen: int = Field(description="已发起退款的金额（分）")
    refunds: list[dict[str, Any]] = Field(description="每笔退款（订单、退款单号、件数、金额）")
    note: str
    created_at: datetime


class ShortageReportQuery(PageQuery):
    leader_id: Id | None = None


class ShortageReportListOut(Page):
    items: list[ShortageReportOut]


class LeaderListQuery(PageQuery):
    status: LeaderStatus | None = None


class LeaderListOut(Page):
    items: list[LeaderOut]


class PickupPointIn(Body):
    name: Name = Field(min_length=1, max_length=64)
    province: str = Field(min_length=1, max_length=32)
    city: str = Field(min_length=1, max_length=32)
    district: str = Field("", max_length=32)
    address: str = Field(min_length=1, max_length=200)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    contact_phone: str = Field("", max_length=20)
    business_hours: str = Field("", max_length=64)
    cutoff_time: str = Field("22:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="截单时间 HH:MM")
    is_active: bool = True


class AdminPickupPointIn(PickupPointIn):
    leader_id: Id


class PickupPointOut(BaseModel):
    id: int
    leader_id: int
    name: str
    province: str
    city: str
    district: str
    address: str
    latitude: float | None
    longitude: float | None
    contact_phone: str
    business_hours: str
    cutoff_time: str
    is_active: bool


class PickupPointQuery(QueryModel):
    city: str | None = Field(None, max_length=32, description="按城市筛选，如 杭州市")
    page: int = Field(1, ge=1, le=10_000, description="页码，从 1 开始")
    page_size: int = Field(20, ge=1, le=50, description="每页条数（最多 50）")


class AdminPickupPointQuery(PageQuery):
    leader_id: Id | None = None
    city: str | None = Field(None, max_length=32)


class PickupPointListOut(Page):
    items: list[PickupPointOut]


class AdminPickupPointListOut(Page):
    items: list[PickupPointOut]
