"""Notifications: one service, three channels, one registry (registry.py).

    from huituan.services import notifications
    async with in_transaction() as conn:
        ...change state...
        await notifications.notify("group_succeeded", user_id, {"thing1": title, ...}, conn=conn,
                                   dedupe_key=f"group:{group.id}", page_args={"order_id": order_id})
    notifications.kick()

- ``notify(event, user_id, values, *, conn, dedupe_key, urgent=None, page_args=None) -> status``:
  a subscribe message (service notices only); spends one of the user's consents for the
  template, or is skipped with the reason (no_quota, disabled, no_template ...).
- ``notify_wecom(event, touser, values, *, conn, dedupe_key, user_id=None, operator_id=None)``:
  a WeCom app message to a linked leader or operator; ``notify_operators(event, values, ...)``
  to every linked operator; ``notify_robot(event, values, ...)`` to the group robot.
- Non-urgent messages in quiet hours (settings, default 22:00-08:00 China time) wait for the end.
- Delivery: outbox kind ``notification`` (``delivery.deliver`` / ``delivery.on_failed``, wired in
  ``huituan.wiring``); permanent WeChat errors fail at once with the code.
- ``subscriptions``: quota per user and template, and reminder preferences.
- ``admin``: lists, why skipped or failed, retry, counts per template.
- Sweeps for the reminder jobs: ``buyer`` (unpaid, shipped / ready, not picked up),
  ``reminders`` (commission settled, withdrawal result, operators' digest).
"""

from huituan.services.notifications import registry
from huituan.services.notifications.buyer import order_ready_for_pickup, order_shipped, refund_result
from huituan.services.notifications.service import (
    DUPLICATE,
    _settings,
    kick,
    notify,
    notify_operators,
    notify_robot,
    notify_wecom,
    quiet_until,
)
from huituan.services.notifications.values import clip

__all__ = ["DUPLICATE", "kick", "notify", "notify_operators", "notify_robot", "notify_wecom", "order_ready_for_pickup",
           "order_shipped", "quiet_until", "refund_result", "template_id"]


def template_id(template: str) -> str:
    """The configured id of a subscribe template ("" = not sent). Kept for callers written
    before ``notify``; they bypass quota and preferences: move them to ``notify``."""
    return registry.template_id(_settings(), template)


def _thing(text: str, limit: int = 20) -> str:
    """Kept for callers written before ``notify`` (a ``thing`` value cut on whole characters)."""
    return clip(text or "", limit) or "-"
