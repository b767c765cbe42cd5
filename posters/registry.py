"""Poster kinds and the data each one draws.

Every kind turns (target id, the sharer) into a ``PosterContent``: text fields, price fields
and image URLs named as in the template fields (huituan.posters.templates). Kinds that belong
to another domain plug in through a small data contract and a provider callable, registered
from the composition root (``huituan.app``):

    register_group_buy(provider)      provider(group_id) -> GroupBuyInvite | None
    register_bargain(provider)        provider(bargain_id) -> BargainHelp | None
    register_leader_store(provider)   provider(leader_id) -> LeaderStore | None

Until a provider is registered, its kind answers 404 ``poster_kind_unavailable``; it renders
as soon as one is. The poster kinds of this module itself (promoter invite, product share)
are built in (huituan.posters.kinds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable

from huituan.models.sharing import ShareTargetKind

KINDS = tuple(k.value for k in ShareTargetKind)


@dataclass(frozen=True)
class GroupBuyInvite:
    """What a group-buy invite poster draws (拼团邀请). ``reference_price_fen`` is filled by
    the poster service from the SKU price history (7-day low before ``started_at``)."""

    group_id: int
    product_id: int
    sku_id: int
    title: str
    image_url: str
    group_price_fen: int
    group_size: int
    seats_left: int
    ends_at: datetime
    started_at: datetime  # when the group-buy activity began (for the honest reference price)
    member_avatar_urls: tuple[str, ...] = ()
    on_sale: bool = True  # False: the activity or group is over, no poster


@dataclass(frozen=True)
class BargainHelp:
    """What a bargain help poster draws (帮砍). Only the bargain's owner may make it."""

    bargain_id: int
    owner_user_id: int
    product_id: int
    title: str
    image_url: str
    current_price_fen: int
    floor_price_fen: int
    start_price_fen: int
    helpers_needed: int  # shown as is: a bargain states how many helpers it still needs
    ends_at: datetime
    on_sale: bool = True


@dataclass(frozen=True)
class LeaderStore:
    """What a leader store poster draws (团长小店)."""

    leader_id: int
    leader_user_id: int
    store_name: str
    pickup_point_name: str
    address: str
    image_url: str = ""
    on_sale: bool = True


@dataclass
class PosterContent:
    """The inputs of one poster, beside its template and code. Everything here is hashed into
    the cache key, so a price or activity change gives a new poster."""

    kind: str
    target_id: int
    fields: dict[str, Any] = field(default_factory=dict)
    image_urls: dict[str, str] = field(default_factory=dict)  # field -> URL ("member_avatars.0" for lists)


GroupBuyProvider = Callable[[int], Awaitable[GroupBuyInvite | None]]
BargainProvider = Callable[[int], Awaitable[BargainHelp | None]]
LeaderStoreProvider = Callable[[int], Awaitable[LeaderStore | None]]

_providers: dict[str, Callable[[int], Awaitable[Any]]] = {}


def register_group_buy(provider: GroupBuyProvider) -> None:
    _providers[ShareTargetKind.group_buy] = provider


def register_bargain(provider: BargainProvider) -> None:
    _providers[ShareTargetKind.bargain] = provider


def register_leader_store(provider: LeaderStoreProvider) -> None:
    _providers[ShareTargetKind.leader_store] = provider


def unregister(kind: str) -> None:
    _providers.pop(kind, None)


def provider_for(kind: str) -> Callable[[int], Awaitable[Any]] | None:
    return _providers.get(kind)


def available_kinds() -> list[str]:
    builtin = [ShareTargetKind.promoter_invite.value, ShareTargetKind.product.value]
    return builtin + [k for k in KINDS if k in _providers and k not in builtin]
