from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from huituan.miniapp_api.schemas import Body, Text
from huituan.models.order import OrderStatus

ID = Field(..., ge=1, le=2**62)


class OrderLineIn(Body):
    sku_id: int = ID
    # Range checks against settings (order_max_quantity) happen in the service, naming the field.
    quantity: int = Field(..., ge=1, le=1_000_000, description="购买件数，1 到 HUITUAN_ORDER_MAX_QUANTITY（默认 999）")


class CreateOrderIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"items": [{"sku_id": 1, "quantity": 2}], "delivery_mode": "express", "address_id": 1, "remark": "请放门卫"},
        {"items": [{"sku_id": 1, "quantity": 1}], "delivery_mode": "pickup", "pickup_point_id": 1},
    ]})
    items: list[OrderLineIn] = Field(..., min_length=1, max_length=200,
                                     description="1..HUITUAN_ORDER_MAX_ITEMS 行；同一 sku 合并")
    delivery_mode: Literal["express", "pickup"]
    address_id: int | None = Field(None, ge=1, le=2**62, description="快递必填")
    pickup_point_id: int | None = Field(None, ge=1, le=2**62, description="自提必填")
    remark: Text = Field("", max_length=200)


class OrderQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # unknown query parameters are refused
    status: OrderStatus | None = None
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=50)


class MyOrderItemOut(BaseModel):
    id: int
    product_id: int
    sku_id: int
    title: str
    sku_name: str
    image: str
    unit_price_fen: int
    quantity: int
    paid_fen: int
    refunded_quantity: int
    refunded_fen: int


class AddressSnapshotOut(BaseModel):
    """下单时的收货地址快照（之后修改地址簿不影响订单）"""

    id: int = Field(description="下单时所选地址的编号")
    receiver: str = Field(description="收货人姓名")
    phone: str = Field(description="收货人手机号")
    province: str = Field(description="省")
    city: str = Field(description="市")
    district: str = Field(description="区/县")
    detail: str = Field(description="详细地址")


class WxPaymentOut(BaseModel):
    """原样传给 wx.requestPayment 的参数（微信支付 JSAPI 调起支付签名）"""

    appId: str = Field(description="小程序 AppID", examples=["wx1234567890abcdef"])
    timeStamp: str = Field(description="时间戳（秒，字符串）", examples=["1714537801"])
    nonceStr: str = Field(description="随机字符串", examples=["5K8264ILTKCH16CQ2502SI8ZNMTM67VS"])
    package: str = Field(description="prepay_id=<预支付交易会话标识>", examples=["prepay_id=wx01123001a1b2c3d4e5f6a7b8c9d0e1f2"])
    signType: Literal["RSA"] = Field(description="签名方式，固定 RSA")
    paySign: str = Field(description="签名（Base64）", examples=["oR9d8PuhnIc+YZ8cBHFCwfgpaK9gd7vaRvkYD7rthRAZ..."])


class MyOrderOut(BaseModel):
    id: int
    order_no: str
    status: OrderStatus
    delivery_mode: Literal["express", "pickup"]
    address: AddressSnapshotOut | None = Field(description="收货地址快照；自提订单为 null")
    pickup_point_id: int | None
    activity_type: str
    goods_fen: int
    discount_fen: int
    shipping_fen: int
    payable_fen: int
    paid_fen: int
    refunded_fen: int
    remark: str
    pay_deadline: str | None
    paid_at: str | None
    shipped_at: str | None
    completed_at: str | None
    cancelled_at: str | None
    cancel_reason: str
    express_company: str
    express_no: str
    created_at: str | None
    items: list[MyOrderItemOut]


class MyOrderListOut(BaseModel):
    items: list[MyOrderOut]
    total: int
    page: int
    page_size: int


class PaymentParamsOut(BaseModel):
    order_id: int
    order_no: str
    payable_fen: int
    payment: WxPaymentOut = Field(..., description="直接传给 wx.requestPayment 的参数")


class RefundLineIn(Body):
    item_id: int = ID
    quantity: int = Field(..., ge=1, le=1_000_000)


class RefundIn(Body):
    items: list[RefundLineIn] | None = Field(None, min_length=1, max_length=200,
                                             description="省略则整单退款")
    reason: Text = Field(..., min_length=1, max_length=200)


class MyRefundLineOut(BaseModel):
    item_id: int
    quantity: int
    amount_fen: int


class MyRefundOut(BaseModel):
    id: int
    refund_no: str
    order_id: int
    status: Literal["requested", "processing", "succeeded", "failed", "rejected"]
    amount_fen: int
    items: list[MyRefundLineOut]
    whole_order: bool
    reason: str
    automatic: bool
    review_note: str
    created_at: str | None
    finished_at: str | None


class MyRefundListOut(BaseModel):
    items: list[MyRefundOut]


class PayNotifyAckOut(BaseModel):
    code: Literal["SUCCESS", "FAIL"]
    message: str | None = None
