"""The share material library (素材库): copy texts and images operators attach to a product
or an activity, handed to promoters with their own share code and poster URL filled in
(一键发圈: copy the text, save the images)."""

from __future__ import annotations

from typing import Any

from huituan.core.errors import NotFound, ValidationFailed
from huituan.core.inbound import is_http_url
from huituan.models.catalog import Product
from huituan.models.sharing import ShareChannel, ShareMaterial, ShareTargetKind
from huituan.services.sharing.codes import code_for

ACTIVITY_KINDS = ("group_buy", "bargain")
MAX_TEXTS = 9
MAX_IMAGES = 9


def _material_dict(m: ShareMaterial) -> dict[str, Any]:
    return {"id": m.id, "product_id": m.product_id, "activity_kind": m.activity_kind or None,
            "activity_id": m.activity_id, "title": m.title, "texts": list(m.texts or []),
            "images": list(m.images or []), "sort": m.sort, "is_active": m.is_active,
            "created_at": m.created_at.isoformat() if m.created_at else None}


def _check_content(texts: list[str], images: list[str]) -> None:
    if not any(t.strip() for t in texts) and not images:
        raise ValidationFailed("texts: 至少填写一段文案或一张图片", field="texts")
    for i, t in enumerate(texts):
        if len(t) > 1000:
            raise ValidationFailed("文案不能超过 1000 个字符", field=f"texts.{i}")
    for i, url in enumerate(images):
        if not is_http_url(url):
            raise ValidationFailed("图片地址必须是 http(s) 链接", field=f"images.{i}")


async def add_material(operator_id: int, *, product_id: int | None, activity_kind: str | None,
                       activity_id: int | None, title: str, texts: list[str], images: list[str],
                       sort: int = 0) -> dict[str, Any]:
    if (product_id is None) == (activity_id is None):
        raise ValidationFailed("product_id: 请选择一个商品或一个活动（二选一）", field="product_id")
    if activity_id is not None and activity_kind not in ACTIVITY_KINDS:
        raise ValidationFailed("activity_kind: 活动类型必须是 group_buy 或 bargain", field="activity_kind")
    if product_id is not None and not await Product.filter(id=product_id).exists():
        raise NotFound("商品不存在", code="product_not_found", field="product_id")
    _check_content(texts, images)
    m = await ShareMaterial.create(product_id=product_id, activity_kind=activity_kind or "", activity_id=activity_id,
                                   title=title.strip(), texts=[t.strip() for t in texts if t.strip()],
                                   images=images, sort=sort, created_by=operator_id)
    return _material_dict(m)


async def list_materials(product_id: int | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    q = ShareMaterial.all()
    if product_id is not None:
        q = q.filter(product_id=product_id)
    total = await q.count()
    rows = await q.order_by("-sort", "-id").offset((page - 1) * page_size).limit(page_size)
    return {"total": total, "items": [_material_dict(m) for m in rows]}


async def delete_material(material_id: int) -> None:
    if not await ShareMaterial.filter(id=material_id).delete():
        raise NotFound("素材不存在", code="material_not_found", field="id")


async def promoter_materials(sharer_id: int, product_id: int | None, h5_url: str) -> dict[str, Any]:
    """The product's active materials for one promoter: ``{code}``, ``{url}`` in the texts are
    replaced by the promoter's own share code (channel moments) and its H5 link."""
    if product_id is None:
        raise ValidationFailed("product_id: 缺少必填字段", field="product_id")
    product = await Product.get_or_none(id=product_id)
    if product is None:
        raise NotFound("商品不存在", code="product_not_found", field="product_id")
    sc = await code_for(sharer_id, ShareTargetKind.product, product_id, ShareChannel.moments)
    url = f"{h5_url}?s={sc.code}"
    rows = await ShareMaterial.filter(product_id=product_id, is_active=True).order_by("-sort", "-id")
    items = []
    for m in rows:
        texts = [t.replace("{code}", sc.code).replace("{url}", url) for t in (m.texts or [])]
        items.append({"id": m.id, "title": m.title, "texts": texts, "images": list(m.images or [])})
    return {"product_id": product_id, "share_code": sc.code, "share_url": url,
            "poster_url": f"/api/v1/posters/product?target={product_id}", "items": items}
