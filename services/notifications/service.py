"""Queue one notification: dedupe, preference, template, recipient, quota, quiet hours.

Called inside the transaction of the change that causes it (``conn``); the outbox delivers
after commit. Every call leaves one ``Notification`` row per (event, business key, recipient)
that says what happened: pending (queued, maybe postponed to the end of quiet hours),
skipped with the reason (``disabled``, ``no_template``, ``no_recipient``, ``user_disabled``,
``no_quota``, ``no_wecom_link``), then sent or failed (WeChat's code). A second call with the
same key changes nothing and returns ``duplicate``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from datetime import datetime, time, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from huituan.core.clock import CHINA_TZ, as_utc, utcnow
from huituan.core.runtime import get_runtime
from huituan.models.notification import Channel, Notification, NotificationPreference, NotificationStatus, SubscriptionQuota
from huituan.models.outbox import OutboxKind
from huituan.models.user import Operator, User
from huituan.services import outbox
from huituan.services.notifications import registry
from huituan.services.notifications.values import format_values

log = logging.getLogger("huituan.notifications")

DUPLICATE = "duplicate"
WECOM_MAX_BYTES = 2048  # WeCom app markdown content limit


def _settings():
    try:
        return get_runtime().settings
    except RuntimeError:  # CLI commands without a running service: nothing is sent
        return None


def _hm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def quiet_until(now: datetime, start: str = "22:00", end: str = "08:00") -> datetime | None:
    """The end of the quiet hours (UTC) when ``now`` falls inside them (China time), else None.
    A window may cross midnight (22:00-08:00); equal start and end means none."""
    s, e = _hm(start), _hm(end)
    if s == e:
        return None
    local = as_utc(now).astimezone(CHINA_TZ)
    t = local.time()
    inside = (s <= t < e) if s < e else (t >= s or t < e)
    if not inside:
        return None
    end_day = local.date() if t < e else local.date() + timedelta(days=1)
    return datetime.combine(end_day, e, tzinfo=CHINA_TZ).astimezone(as_utc(now).tzinfo)


def _key(event: str, dedupe_key: str, recipient: str) -> str:
    key = f"{event}:{dedupe_key}:{recipient}"
    if len(key) > 191:
        key = f"{event}:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


async def already_notified(event: str, pairs: list[tuple[str, int]]) -> set[tuple[str, int]]:
    """The (dedupe_key, user_id) pairs that already have their row for ``event``: sweeps skip
    them without reading anything else (the unique key would make them no-ops anyway)."""
    if not pairs:
        return set()
    keys = {_key(event, k, f"u{u}"): (k, u) for k, u in pairs}
    found = await Notification.filter(dedupe_key__in=list(keys)).values_list("dedupe_key", flat=True)
    return {keys[k] for k in found}


def clip_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"  # never half a character


def _atomic(fn):
    """Without the caller's transaction (the jobs' sweeps), claim the row, spend the consent and
    queue the outbox message in one of our own: each committed alone, a sweep stopped between
    them (shutdown, a lost lease) left a pending row with its consent spent, no message, and a
    dedupe key that blocked every retry (attacker pass, session 8)."""
    @functools.wraps(fn)
    async def wrapper(*args: Any, conn: BaseDBAsyncClient | None, **kwargs: Any):
        if conn is not None:
            return await fn(*args, conn=conn, **kwargs)
        async with in_transaction() as tx:
            return await fn(*args, conn=tx, **kwargs)
    return wrapper


async def _claim(conn: BaseDBAsyncClient | None, key: str, **fields: Any) -> Notification | None:
    """Insert the row for ``key`` unless one exists: the insert that wins the unique key owns it
    (ON CONFLICT DO NOTHING keeps the caller's PostgreSQL transaction usable)."""
    token = uuid.uuid4().hex
    await Notification.bulk_create([Notification(dedupe_key=key, claim=token, **fields)], ignore_conflicts=True,
                                   using_db=conn)
    row = await Notification.get_or_none(dedupe_key=key).using_db(conn)
    return row if row is not None and row.claim == token else None


async def _skip(conn, row: Notification, reason: str) -> str:
    await Notification.filter(id=row.id).using_db(conn).update(status=NotificationStatus.skipped, reason=reason)
    log.info("notification %s skipped: %s", row.dedupe_key, reason)
    return NotificationStatus.skipped


async def _queue(conn, row: Notification, payload: dict[str, Any], urgent: bool, settings) -> str:
    due = None
    if not urgent and settings is not None:
        due = quiet_until(utcnow(), settings.quiet_hours_start, settings.quiet_hours_end)
    await Notification.filter(id=row.id).using_db(conn).update(due_at=due)
    await outbox.enqueue(OutboxKind.notification, f"notification:{row.id}", {"notification_id": row.id, **payload},
                         conn=conn, not_before=due)
    return NotificationStatus.pending


async def is_enabled(user_id: int, event: str, conn=None) -> bool:
    rows = await NotificationPreference.filter(user_id=user_id, event=event).using_db(conn).values_list("enabled", flat=True)
    return rows[0] if rows else True


@_atomic
async def notify(event: str, user_id: int, values: dict[str, Any], *, conn: BaseDBAsyncClient | None,
                 dedupe_key: str, urgent: bool | None = None, page_args: dict[str, Any] | None = None,
                 page: str | None = None) -> str:
    """A subscribe message about ``event`` to user ``user_id``; returns the row's status
    (pending | skipped) or ``duplicate``. ``values``: the template's keywords, typed (fen as
    int, datetimes, text; see values.py). ``page_args`` fill the event's page; ``page``
    replaces it."""
    spec = registry.get(event)
    if spec.channel != Channel.subscribe:
        raise ValueError(f"{event} is a {spec.channel} event: use notify_wecom / notify_operators / notify_robot")
    data = format_values(spec.keywords, values)
    urgent = spec.urgent if urgent is None else urgent
    settings = _settings()
    tid = registry.template_id(settings, spec.template)
    if page is None:
        page = spec.page.format(**(page_args or {})) if spec.page else ""
    row = await _claim(conn, _key(event, dedupe_key, f"u{user_id}"), event=event, channel=Channel.subscribe,
                       user_id=user_id, template_id=tid, values=data, page=page, urgent=urgent)
    if row is None:
        return DUPLICATE
    if spec.can_disable and not await is_enabled(user_id, event, conn):
        return await _skip(conn, row, "disabled")
    if not tid:
        return await _skip(conn, row, "no_template")
    user = await User.filter(id=user_id).using_db(conn).values("openid", "is_disabled")
    if not user or not user[0]["openid"]:
        return await _skip(conn, row, "no_recipient")
    if user[0]["is_disabled"]:
        return await _skip(conn, row, "user_disabled")
    # One consent, one message: spend it here, in the cause's transaction (guarded update).
    spent = await SubscriptionQuota.filter(user_id=user_id, template_id=tid, remaining__gt=0).using_db(conn).update(
        remaining=F("remaining") - 1, used_total=F("used_total") + 1)
    if not spent:
        return await _skip(conn, row, "no_quota")
    openid = user[0]["openid"]
    await Notification.filter(id=row.id).using_db(conn).update(touser=openid)
    return await _queue(conn, row, {"channel": Channel.subscribe.value, "touser": openid, "template_id": tid,
                                    "data": data, "page": page}, urgent, settings)


def render_text(spec: registry.EventSpec, values: dict[str, Any]) -> str:
    return clip_bytes(spec.text.format(**{k: "" if v is None else v for k, v in values.items()}), WECOM_MAX_BYTES)


@_atomic
async def notify_wecom(event: str, touser: str | None, values: dict[str, Any], *, conn: BaseDBAsyncClient | None,
                       dedupe_key: str, user_id: int | None = None, operator_id: int | None = None,
                       urgent: bool | None = None) -> str:
    """A WeCom application message to one member (a linked leader or operator, by WeCom userid)."""
    spec = registry.get(event)
    if spec.channel != Channel.wecom_app:
        raise ValueError(f"{event} is not a WeCom app event")
    content = render_text(spec, values)
    urgent = spec.urgent if urgent is None else urgent
    recipient = f"w{touser}" if touser else (f"u{user_id}" if user_id else f"o{operator_id}")
    row = await _claim(conn, _key(event, dedupe_key, recipient), event=event, channel=Channel.wecom_app,
                       user_id=user_id, operator_id=operator_id, touser=touser or "", values={"content": content},
                       urgent=urgent)
    if row is None:
        return DUPLICATE
    if not touser:
        return await _skip(conn, row, "no_wecom_link")
    return await _queue(conn, row, {"channel": Channel.wecom_app.value, "touser": touser, "content": content},
                        urgent, _settings())


@_atomic
async def notify_operators(event: str, values: dict[str, Any], *, conn: BaseDBAsyncClient | None,
                           dedupe_key: str) -> int:
    """A WeCom app message to every active operator linked to WeCom; returns how many were queued."""
    operators = await Operator.filter(is_active=True, wecom_userid__isnull=False).using_db(conn).order_by("id").values(
        "id", "wecom_userid")
    queued = 0
    for op in operators:
        status = await notify_wecom(event, op["wecom_userid"], values, conn=conn, dedupe_key=dedupe_key,
                                    operator_id=op["id"])
        queued += status == NotificationStatus.pending
    return queued


@_atomic
async def notify_robot(event: str, values: dict[str, Any], *, conn: BaseDBAsyncClient | None, dedupe_key: str) -> str:
    """A push to the WeCom group robot (the only channel marketing may use)."""
    spec = registry.get(event)
    if spec.channel != Channel.robot:
        raise ValueError(f"{event} is not a robot event")
    content = clip_bytes(spec.text.format(**values), 4096)
    row = await _claim(conn, _key(event, dedupe_key, "robot"), event=event, channel=Channel.robot,
                       values={"content": content}, urgent=spec.urgent)
    if row is None:
        return DUPLICATE
    return await _queue(conn, row, {"channel": Channel.robot.value, "content": content}, spec.urgent, _settings())


def kick() -> None:
    """Deliver after commit (the outbox job delivers later if this process cannot)."""
    try:
        outbox.kick(get_runtime())
    except Exception as exc:  # noqa: BLE001 - the runtime is missing in CLI use
        log.debug("outbox kick skipped: %s", exc)
