"""Schemas of the share, poster, share-funnel and material endpoints (routes/sharing.py, routes/posters.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KindName = Literal["promoter_invite", "product", "group_buy", "bargain", "leader_store"]
ChannelName = Literal["poster", "link", "moments"]
CODE_PATTERN = "^[0-9A-Za-z]{8}$"
KIND_DOC = "分享对象类型：promoter_invite 推手邀请、product 商品、group_buy 拼团、bargain 砍价、leader_store 团长小店"
CHANNEL_DOC = "分享渠道：poster 海报、link 链接、moments 朋友圈素材"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetOut(BaseModel):
    kind: KindName = Field(description=KIND_DOC)
    id: int = Field(description="分享对象编号（推手邀请为推手的用户编号）")


class SharerOut(BaseModel):
    id: int | None = Field(description="分享人用户编号")
    nickname: str = Field(description="分享人昵称")
    avatar_url: str = Field(description="分享人头像地址")


class ShareBindOut(BaseModel):
    bound: bool = Field(description="本次是否绑定了推荐关系")
    action: str = Field(description="bind 绑定、rebind 改绑、skipped 未绑定")
    reason: str = Field(description="原因（未绑定时说明为什么，如 already_bound）")


class ShareOut(BaseModel):
    code: str = Field(description="分享码（8 位字母或数字）", examples=["Ab3dE5gH"])
    scene: str = Field(description="登录时作为 scene 带回即可绑定推荐关系", examples=["Ab3dE5gH"])
    channel: ChannelName = Field(description=CHANNEL_DOC)
    target: TargetOut = Field(description="分享对象")
    sharer: SharerOut = Field(description="分享人")
    bind: ShareBindOut | None = Field(description="带登录凭证打开时的绑定结果；未登录为 null")


class PosterQuery(_In):
    target: int | None = Field(None, ge=1, le=2**62, description="分享对象编号（商品/拼团/砍价/团长）；推手邀请可不填")
    template: str | None = Field(None, pattern="^[a-z][a-z0-9_-]{1,31}$", description="模板标识；不填用该类型当前模板")


class Funnel(BaseModel):
    opens: int = Field(description="打开次数")
    new_users: int = Field(description="带分享码首次登录的新用户数")
    binds: int = Field(description="通过分享码绑定的人数")
    orders: int = Field(description="被绑定用户的已支付订单数")
    refunded_orders: int = Field(description="其中有退款的订单数")
    paid_fen: int = Field(description="实付减退款（分）")
    commission_fen: int = Field(description="分享人一级佣金（退款后，分）")


class ShareCodeFunnelOut(Funnel):
    code: str = Field(description="分享码", examples=["Ab3dE5gH"])
    target: TargetOut = Field(description="分享对象")
    channel: ChannelName = Field(description=CHANNEL_DOC)
    created_at: str = Field(description="分享码生成时间")


class ChannelFunnelOut(Funnel):
    channel: ChannelName = Field(description=CHANNEL_DOC)


class FunnelSummaryOut(BaseModel):
    total: Funnel = Field(description="全部")
    last_7_days: Funnel = Field(description="近 7 天")
    last_30_days: Funnel = Field(description="近 30 天")


class PromoterSharesOut(BaseModel):
    codes: list[ShareCodeFunnelOut] = Field(description="每个分享码的效果")
    channels: list[ChannelFunnelOut] = Field(description="每个渠道的效果")
    summary: FunnelSummaryOut = Field(description="汇总")


class MaterialsQuery(_In):
    # Optional in the model so that an unknown parameter is the error reported first; the
    # service refuses a missing product_id naming it.
    product_id: int | None = Field(None, ge=1, le=2**62, description="商品编号（必填）")


class MaterialItemOut(BaseModel):
    id: int = Field(description="素材编号")
    title: str = Field(description="素材标题")
    texts: list[str] = Field(description="文案（已填入我的分享码与链接）")
    images: list[str] = Field(description="图片地址")


class PromoterMaterialsOut(BaseModel):
    product_id: int = Field(description="商品编号")
    share_code: str = Field(description="我的分享码（朋友圈渠道）", examples=["Ab3dE5gH"])
    share_url: str = Field(description="H5 分享链接（带分享码）")
    poster_url: str = Field(description="该商品分享海报的接口地址（带登录凭证请求）")
    items: list[MaterialItemOut] = Field(description="素材")
