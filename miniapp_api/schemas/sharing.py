"""Schemas of the share, poster, share-funnel and material endpoints (routes/sharing.py, routes/posters.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KindName = Literal["promoter_invite", "product", "group_buy", "bargain", "leader_store"]
CODE_PATTERN = "^[0-9A-Za-z]{8}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetOut(BaseModel):
    kind: KindName
    id: int


class SharerOut(BaseModel):
    id: int | None
    nickname: str
    avatar_url: str


class ShareBindOut(BaseModel):
    bound: bool
    action: str
    reason: str


class ShareOut(BaseModel):
    code: str
    scene: str = Field(description="登录时作为 scene 带回即可绑定推荐关系")
    channel: Literal["poster", "link", "moments"]
    target: TargetOut
    sharer: SharerOut
    bind: ShareBindOut | None = Field(description="带登录凭证打开时的绑定结果；未登录为 null")


class PosterQuery(_In):
    target: int | None = Field(None, ge=1, le=2**62, description="分享对象 id（商品/拼团/砍价/团长）；推手邀请可不填")
    template: str | None = Field(None, pattern="^[a-z][a-z0-9_-]{1,31}$", description="模板标识；不填用该类型当前模板")


class Funnel(BaseModel):
    opens: int
    new_users: int
    binds: int
    orders: int
    refunded_orders: int
    paid_fen: int = Field(description="实付减退款（分）")
    commission_fen: int = Field(description="分享人一级佣金（退款后，分）")


class ShareCodeFunnelOut(Funnel):
    code: str
    target: TargetOut
    channel: Literal["poster", "link", "moments"]
    created_at: str


class ChannelFunnelOut(Funnel):
    channel: Literal["poster", "link", "moments"]


class FunnelSummaryOut(BaseModel):
    total: Funnel
    last_7_days: Funnel
    last_30_days: Funnel


class PromoterSharesOut(BaseModel):
    codes: list[ShareCodeFunnelOut]
    channels: list[ChannelFunnelOut]
    summary: FunnelSummaryOut


class MaterialsQuery(_In):
    product_id: int = Field(ge=1, le=2**62)


class MaterialItemOut(BaseModel):
    id: int
    title: str
    texts: list[str]
    images: list[str]


class PromoterMaterialsOut(BaseModel):
    product_id: int
    share_code: str
    share_url: str = Field(description="H5 分享链接（带分享码）")
    poster_url: str = Field(description="该商品分享海报的接口地址（带登录凭证请求）")
    items: list[MaterialItemOut]
