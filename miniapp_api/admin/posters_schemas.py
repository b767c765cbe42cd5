"""Schemas of the admin poster-template and share-material endpoints (admin/posters.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

KindName = Literal["promoter_invite", "product", "group_buy", "bargain", "leader_store"]
KEY = "^[a-z][a-z0-9_-]{1,31}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateIn(_In):
    key: str = Field(pattern=KEY, description="模板标识；已存在的自建模板会被替换并升版本")
    spec: dict[str, Any] = Field(description="模板 JSON（画布、背景、图层）；错误时 details.field 为 JSON 指针，如 /layers/3/size")


class TemplateOut(BaseModel):
    key: str
    name: str
    builtin: bool
    version: str
    spec: dict[str, Any]


class TemplateListOut(BaseModel):
    items: list[TemplateOut]
    current: dict[str, str] = Field(description="每种海报当前使用的模板")


class PreviewIn(_In):
    kind: KindName = "product"
    key: str | None = Field(None, pattern=KEY)
    spec: dict[str, Any] | None = None


class SwitchIn(_In):
    kind: KindName
    key: str = Field(pattern=KEY)


class SwitchOut(BaseModel):
    kind: KindName
    template_key: str


class MaterialIn(_In):
    product_id: int | None = Field(None, ge=1, le=2**62)
    activity_kind: Literal["group_buy", "bargain"] | None = None
    activity_id: int | None = Field(None, ge=1, le=2**62)
    title: str = Field("", max_length=64)
    texts: list[str] = Field(default_factory=list, max_length=9, description="文案，可含 {code} 与 {url}")
    images: list[str] = Field(default_factory=list, max_length=9)
    sort: int = Field(0, ge=-1000000, le=1000000)


class MaterialOut(BaseModel):
    id: int
    product_id: int | None
    activity_kind: str | None
    activity_id: int | None
    title: str
    texts: list[str]
    images: list[str]
    sort: int
    is_active: bool
    created_at: str | None


class MaterialListQuery(_In):
    product_id: int | None = Field(None, ge=1, le=2**62)
    page: int = Field(1, ge=1, le=100000)
    page_size: int = Field(20, ge=1, le=100)


class MaterialListOut(BaseModel):
    total: int
    items: list[MaterialOut]
