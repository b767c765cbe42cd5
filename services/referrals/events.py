"""USER_LOGGED_IN -> bind the user to the share code the client kept from first open.

Subscribed by the composition root (huituan.wiring)."""

from __future__ import annotations

from huituan.services.referrals.binding import bind_from_scene


async def on_user_logged_in(user_id: int, scene: str | None = None, is_new: bool = False, conn=None, **_) -> None:
    if scene:
        await bind_from_scene(user_id, scene, is_new=is_new, conn=conn)
