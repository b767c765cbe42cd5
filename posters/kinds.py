"""What each poster kind draws: (kind, target, sharer) -> PosterContent.

Errors name the field: an unknown kind -> 404 ``poster_kind_unknown`` (field kind); a kind whose
domain has not registered its provider -> 404 ``poster_kind_unavailable``; a missing target ->
422 (field target); a target that does not exist or is off sale -> 404 (field target); someone
else's bargain -> 403 ``bargain_not_yours`` (field target).
"""

from __future__ import annotations

from typing import Any

from huituan.core.clock import china_display
from huituan.core.errors import Forbidden, NotFound, ValidationFailed
from huituan.core.money import yuan
from huituan.models.catalog import Product, Sku
from huituan.models.sharing import ShareTargetKind
from huituan.models.user import User
from huituan.posters.registry import KINDS, BargainHelp, GroupBuyInvite, LeaderStore, PosterContent, provider_for
from huituan.services.price_history import reference_price


def check_kind(kind: str) -> ShareTargetKind:
    if kind not in KINDS:
        raise NotFound(f"kind: 海报类型不存在（可选 {'/'.join(KINDS)}）", code="poster_kind_unknown", field="kind")
    return ShareTargetKind(kind)


def _sharer_fields(sharer: User, content: PosterContent) -> None:
    # Only ever the requesting sharer's own name and avatar: every poster is made for its sharer.
    content.fields["sharer_name"] = sharer.nickname or "微信用户"
    if sharer.avatar_url:
        content.image_urls["sharer_avatar"] = sharer.avatar_url
    else:
        content.image_urls["sharer_avatar"] = ""


def _need_target(target: int | None) -> int:
    if target is None:
        raise ValidationFailed("target: 缺少必填字段（分享对象的 id）", field="target")
    return target


def _gone(what: str) -> NotFound:
    return NotFound(f"target: {what}不存在或已下架", code="poster_target_not_found", field="target")


async def _product(content: PosterContent, product_id: int) -> None:
    product = await Product.get_or_none(id=product_id, on_sale=True)
    if product is None:
        raise _gone("商品")
    sku = await Sku.filter(product_id=product_id, on_sale=True).order_by("price_fen", "id").first()
    if sku is None:
        raise _gone("商品")
    content.fields.update(headline="好物推荐，一起来买", title=product.title, subtitle=product.subtitle,
                          price_fen=sku.price_fen,
                          reference_price_fen=await reference_price(sku.id, sku.price_fen))
    content.image_urls["image"] = product.main_image or (product.images or [""])[0]


async def _invite(content: PosterContent) -> None:
    content.fields.update(headline="我在惠团发现了好物", title="邀你一起逛惠团：好物低价，社区自提",
                          subtitle="新鲜好物每日上新", note="长按识别，进入惠团")
    product = await Product.filter(on_sale=True).order_by("sort", "-id").first()
    content.image_urls["image"] = product.main_image if product else ""


async def _group_buy(content: PosterContent, data: GroupBuyInvite | None) -> None:
    if data is None or not data.on_sale:
        raise _gone("拼团")
    content.fields.update(
        headline="就差你了，一起拼团", title=data.title, price_fen=data.group_price_fen,
        reference_price_fen=await reference_price(data.sku_id, data.group_price_fen, data.started_at),
        note=f"{data.group_size} 人团 · 还差 {data.seats_left} 人 · {china_display(data.ends_at, '%m-%d %H:%M')} 结束",
        member_avatars=list(data.member_avatar_urls))
    content.image_urls["image"] = data.image_url
    for i, url in enumerate(data.member_avatar_urls):
        content.image_urls[f"member_avatars.{i}"] = url


async def _bargain(content: PosterContent, data: BargainHelp | None, sharer_id: int) -> None:
    if data is None or not data.on_sale:
        raise _gone("砍价")
    if data.owner_user_id != sharer_id:
        raise Forbidden("target: 只能分享自己发起的砍价", code="bargain_not_yours", field="target")
    cut = max(0, data.start_price_fen - data.current_price_fen)
    content.fields.update(
        headline="帮我砍一刀", title=data.title, price_fen=data.current_price_fen,
        subtitle=f"最低可砍至 ¥{yuan(data.floor_price_fen)}",
        note=f"已砍 ¥{yuan(cut)}，还需 {data.helpers_needed} 人帮砍 · {china_display(data.ends_at, '%m-%d %H:%M')} 结束")
    content.image_urls["image"] = data.image_url


async def _leader_store(content: PosterContent, data: LeaderStore | None) -> None:
    if data is None or not data.on_sale:
        raise _gone("团长小店")
    content.fields.update(headline="团长小店", title=data.store_name,
                          subtitle=f"自提点：{data.pickup_point_name}", note=f"地址：{data.address}")
    content.image_urls["image"] = data.image_url


async def content_for(kind: str, target: int | None, sharer: User) -> PosterContent:
    k = check_kind(kind)
    if k == ShareTargetKind.promoter_invite:
        content = PosterContent(kind=k.value, target_id=sharer.id)
        await _invite(content)
    else:
        target_id = _need_target(target)
        content = PosterContent(kind=k.value, target_id=target_id)
        if k == ShareTargetKind.product:
            await _product(content, target_id)
        else:
            provider = provider_for(k)
            if provider is None:
                raise NotFound(f"kind: 该海报类型（{k.value}）暂未开放", code="poster_kind_unavailable", field="kind")
            data: Any = await provider(target_id)
            if k == ShareTargetKind.group_buy:
                await _group_buy(content, data)
            elif k == ShareTargetKind.bargain:
                await _bargain(content, data, sharer.id)
            else:
                await _leader_store(content, data)
    _sharer_fields(sharer, content)
    return content
