"""Share posters delivered into WeCom chat: render, upload as temporary media, send as an image.

The outbox kind ``wecom_poster`` (payload ``wecom_userid``, ``sharer_id``, ``poster_kind``,
``target``, ``template``) is queued by ``services.outbox.queue_wecom_poster`` (the bot's 开团 and
海报) and delivered by ``deliver_wecom_poster``, which the composition root registers for it.

A WeCom passive reply is text only and due within 5 seconds, so the bot acknowledges at once
and the image follows. A failed render, upload or send is retried by the outbox's backoff. The
same image is uploaded once: its media_id (good for three days at WeCom) is kept in Redis by
the image's SHA-256 for a little less than that, so a retry, a leader asking 海报 again, or
another process sending the same poster reuses it; should WeCom no longer know it (40007), it
is forgotten and the retry uploads again. A poster whose target is gone by then (the group
ended or filled, the product went off sale) cannot be made by any retry: the member is told in
a line of text and the row fails at once.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from huituan.core.errors import Forbidden, NotFound, UpstreamError, ValidationFailed, chat_text
from huituan.core.wechat.base import WeChatApiError
from huituan.posters.service import get_service
from huituan.services import outbox

if TYPE_CHECKING:
    from huituan.core.runtime import Runtime

log = logging.getLogger("huituan.posters")

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg"}


async def deliver_wecom_poster(rt: "Runtime", payload: dict[str, Any]) -> None:
    touser, kind, target = payload["wecom_userid"], payload["poster_kind"], payload.get("target")
    sharer_id = int(payload["sharer_id"])
    try:
        poster = await get_service(rt).poster(sharer_id, kind, target, payload.get("template"))
    except (NotFound, Forbidden, ValidationFailed) as exc:
        log.warning("wecom poster %s:%s for user %s to %s cannot be made: %s %s", kind, target, sharer_id, touser,
                    exc.code, exc.message)
        await _tell(rt, touser, f"海报未能生成：{_reason(exc.message)}。")
        raise outbox.PermanentDeliveryError(f"poster {kind}:{target} cannot be made: {exc.code}") from exc
    name = f"poster-{kind}-{target if target is not None else sharer_id}.{EXTENSIONS.get(poster.content_type, 'jpg')}"
    key = MEDIA_KEY + hashlib.sha256(poster.body).hexdigest()
    media_id = await rt.redis.get(key)
    if not media_id:
        media_id = await rt.wechat.wecom.upload_media("image", name, poster.body, poster.content_type)
        await rt.redis.set(key, media_id, ex=MEDIA_REUSE_SECONDS)
    try:
        await rt.wechat.wecom.send_image(touser, media_id)
    except WeChatApiError as exc:
        if exc.errcode == INVALID_MEDIA_ID:
            await rt.redis.delete(key)  # WeCom let it go early: the retry uploads again
        raise


MEDIA_KEY = "wecom:media:image:"
# WeCom keeps temporary media three days from the upload: reuse it for well under that, so a
# media_id read just before its end is still good when the message is sent.
MEDIA_REUSE_SECONDS = 2 * 86400 + 12 * 3600
INVALID_MEDIA_ID = 40007


def _reason(message: str) -> str:
    return chat_text(message).rstrip("。")  # the sentence it goes into ends it


async def _tell(rt: "Runtime", touser: str, text: str) -> None:
    """Best effort: the failed row already tells the operator; the member learns why no image came."""
    try:
        await rt.wechat.wecom.send_text(touser, text)
    except UpstreamError as exc:
        log.warning("wecom poster failure notice to %s not sent: %s", touser, exc.details)
