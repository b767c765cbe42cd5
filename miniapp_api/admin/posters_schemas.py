"""Schemas of the admin poster-template and share-material endpoints (admin/posters.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

KindName = Literal["promoter_invite", "product", "group_buy", "bargain", "leader_store"]
KEY = "^[a-z][a-z0-9_-]{1,31}$"
KIND_DOC = "海报类型：promoter_invite 推手邀请、product 商品、group_buy 拼团、bargain 砍价、leader_store 团长小店"
SPEC_EXAMPLE = {"name": "简约白", "format": "jpeg", "canvas": {"width": 750, "height": 1000},
                "background": {"color": "#ffffff"},
                "layers": [{"type": "image", "field": "image", "x": 0, "y": 0, "w": 750, "h": 600, "fit": "cover"},
                           {"type": "text", "field": "title", "x": 40, "y": 630, "size": 32, "max_width": 670,
                            "max_lines": 2, "weight": "bold"},
                           {"type": "price", "field": "price_fen", "struck_field": "reference_price_fen", "x": 40,
                            "y": 740, "size": 48},
                           {"type": "code", "x": 530, "y": 780, "size": 180}]}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateIn(_In):
    key: str = Field(pattern=KEY, description="模板标识；已存在的自建模板会被替换并升版本", examples=["simple"])
    spec: dict[str, Any] = Field(description="模板 JSON（画布、背景、图层）；错误时 details.field 为 JSON 指针，如 /layers/3/size",
                                 examples=[SPEC_EXAMPLE])


class TemplateOut(BaseModel):
    key: str = Field(description="模板标识", examples=["simple"])
    name: str = Field(description="模板名称")
    builtin: bool = Field(description="是否内置模板")
    version: str = Field(description="模板版本（参与海报缓存键）")
    spec: dict[str, Any] = Field(description="模板 JSON", examples=[SPEC_EXAMPLE])


class TemplateListOut(BaseModel):
    items: list[TemplateOut] = Field(description="模板")
    current: dict[str, str] = Field(description="每种海报当前使用的模板", examples=[{"product": "classic"}])


class PreviewIn(_In):
    kind: KindName = Field("product", description=KIND_DOC)
    key: str | None = Field(None, pattern=KEY, description="预览已有模板时的模板标识", examples=["classic"])
    spec: dict[str, Any] | None = Field(None, description="预览未保存的模板 JSON（与 key 二选一）")


class SwitchIn(_In):
    kind: KindName = Field(description=KIND_DOC)
    key: str = Field(pattern=KEY, description="要使用的模板标识", examples=["fresh"])


class SwitchOut(BaseModel):
    kind: KindName = Field(description=KIND_DOC)
    template_key: str = Field(description="当前使用的模板标识", examples=["fresh"])


class MaterialIn(_In):
    product_id: int | None = Field(None, ge=1, le=2**62, description="商品编号（与活动二选一）", examples=[1])
    activity_kind: Literal["group_buy", "bargain"] | None = Field(None, description="活动类型：group_buy 拼团、bargain 砍价")
    activity_id: int | None = Field(None, ge=1, le=2**62, description="活动编号（与商品二选一）")
    title: str = Field("", max_length=64, description="素材标题")
    texts: list[Annotated[str, Field(max_length=1000)]] = Field(default_factory=list, max_length=9,
                                                                 description="文案，可含 {code} 与 {url}",
                             examples=[["新米到了，扫码下单 {url}"]])
    images: list[Annotated[str, Field(max_length=512)]] = Field(default_factory=list, max_length=9,
                                                                 description="图片地址（http/https）")
    sort: int = Field(0, ge=-1000000, le=1000000, description="排序（大的在前）")


class MaterialOut(BaseModel):
    id: int = Field(description="素材编号")
    product_id: int | None = Field(description="商品编号")
    activity_kind: str | None = Field(description="活动类型")
    activity_id: int | None = Field(description="活动编号")
    title: str = Field(description="素材标题")
    texts: list[str] = Field(description="文案")
    images: list[str] = Field(description="图片地址")
    sort: int = Field(description="排序")
    is_active: bool = Field(description="是否启用")
    created_at: str | None = Field(description="创建时间")


class MaterialListQuery(_In):
    product_id: int | None = Field(None, ge=1, le=2**62, description="按商品筛选")
    page: int = Field(1, ge=1, le=100000, description="页码")
    page_size: int = Field(20, ge=1, le=100, description="每页条数")


class MaterialListOut(BaseModel):
    total: int = Field(description="总数")
    items: list[MaterialOut] = Field(description="素材")
