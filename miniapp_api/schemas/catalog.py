from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from huituan.miniapp_api.schemas import Text


class ShopCategoryOut(BaseModel):
    id: int
    name: str
    sort: int


class ShopCategoryListOut(BaseModel):
    items: list[ShopCategoryOut]


class ProductQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # unknown query parameters are refused
    category_id: int | None = Field(None, ge=1, le=2**62)
    keyword: Text | None = Field(None, max_length=50)
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=50)


class ShopProductOut(BaseModel):
    id: int
    title: str
    subtitle: str
    main_image: str
    category_id: int | None
    price_from_fen: int
    sales: int


class ShopProductListOut(BaseModel):
    items: list[ShopProductOut]
    total: int
    page: int
    page_size: int


class ShopSkuOut(BaseModel):
    id: int
    name: str
    specs: dict[str, Any]
    price_fen: int
    struck_price_fen: int | None = Field(
        None, description="划线价（分）：该规格近 7 天实际在售过的最低价，仅当高于现价时给出；null 表示不显示划线价"
                          "（平台规则：划线价必须是真实的近期价格，不得虚构）")
    stock: int
    image: str


class ShopProductDetailOut(ShopProductOut):
    description: str
    images: list[Any]
    skus: list[ShopSkuOut]
    stock: int
