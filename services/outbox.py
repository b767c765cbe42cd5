"""The outbox: side effects that leave the process, written with their cause, delivered after commit.

Usage (docs/ARCHITECTURE.md, State and concurrency)::

    async with in_transaction() as conn:
        ...change state...
        await outbox.enqueue(OutboxKind.subscribe_message, f"order:{order.id}:paid",
                             {"openid": ..., "template_id": ..., "data": {...}, "page": ...}, conn=conn)
    outbox.kick(rt)          # after commit: deliver in the background, never raises

- ``async enqueue(kind, dedupe_key, payload, conn, not_before=None) -> None``: a repeated
  dedupe_key is ignored (INSERT ... ON CONFLICT DO NOTHING: on PostgreSQL an IntegrityError
  would abort the caller's whole transaction); ``not_before`` postpones the first try (quiet hours).
- ``register_handler(kind, fn, on_failed=None)``: ``fn: async (rt, payload) -> None``; raise
  to retry. A permanent error (``PermanentDeliveryError``, or a WeChat errcode in
  ``PERMANENT_ERRCODES`` such as 43101 the user refused) is failed at once, no retry.
  ``on_failed: async (payload, error, errcode) -> None`` hears about a row parked as failed.
  Called by the composition root (``huituan.wiring``) for every kind, never at import time:
  ``BUILTIN_HANDLERS`` here (subscribe_message {openid, template_id, data, page?},
  wecom_message {touser, content, markdown?}), and each domain's own ("refund", "transfer",
  "robot_push" by services.pickup.pushes, "wecom_poster" by posters.chat, ...).
- ``enqueue`` refuses a kind with no handler (``UnhandledOutboxKind``), so a wiring mistake
  fails the change that would have left a message pending forever; ``unhandled_kinds()``
  counts pending rows nobody can deliver (rows written before a handler was removed), which
  /readyz, ``huituan check-config`` and the outbox job report.
- ``async deliver_pending(rt, limit=100, concurrency=1) -> int``: delivers due rows; safe with
  many processes (the outbox job sends ``HUITUAN_OUTBOX_CONCURRENCY`` at a time).
- ``kick(rt)``; ``async wait_idle()`` (tests: wait for kicked deliveries).
- ``async requeue(dedupe_key) -> bool``: a failed or sent row goes back to pending, due now
  (the far end says it never got it); then ``kick``.
- ``async purge_delivered(older_than, batch) -> int``: retention, deletes sent rows delivered
  before ``older_than`` (the Notification rows keep the history).
- ``async deliver_now(rt, dedupe_key) -> bool``: deliver that one row in the caller's task,
  through the same claim (never twice with a concurrent sweep); ``status_of(dedupe_key)``.

Claiming: a row is due when pending and ``next_attempt_at`` is null or past. A process claims
it with a compare-and-set on (status, attempts) that bumps ``attempts`` and pushes
``next_attempt_at`` one lease ahead, so no other process picks it while the handler runs and
a crashed process's row comes back after the lease. Success -> sent; failure -> backoff; the
MAX_ATTEMPTS-th failure, or a permanent one -> failed with last_error (an operator looks at these).
A handler that outlives the lease can run twice: handlers must be idempotent at the far end
(refunds and transfers are, by out_refund_no / out_bill_no).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Count

from huituan.core.clock import utcnow
from huituan.models.outbox import OutboxKind, OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from huituan.core.runtime import Runtime

log = logging.getLogger("huituan.outbox")

MAX_ATTEMPTS = 8
LEASE_SECONDS = 60
BACKOFF_BASE_SECONDS = 10
BACKOFF_MAX_SECONDS = 3600

Handler = Callable[["Runtime", dict[str, Any]], Awaitable[None]]
FailedHook = Callable[[dict[str, Any], str, "int | None"], Awaitable[None]]
_handlers: dict[str, Handler] = {}
_on_failed: dict[str, FailedHook] = {}

# WeChat / WeCom errcodes that no retry can fix: the message is failed at once with the code.
PERMANENT_ERRCODES = frozenset({
    40003,  # invalid openid
    40037,  # invalid template_id
    41030,  # invalid page
    43101,  # the user refused (no subscription left)
    43107,  # subscribe message capability banned for this template
    47003,  # argument invalid (a value breaks the template's data type)
    40008, 40031, 40056, 40058, 41009, 60111, 81013,  # WeCom: bad message, userid, agent
    93000,  # WeCom robot: invalid webhook url
    40004, 40005, 40006, 44001,  # WeCom media upload: type, file type, size, empty (a re-render is the same file)
})
_tasks: set[asyncio.Task] = set()
_rerun: set[int] = set()  # id(rt) of runtimes kicked while a delivery was already running



def backoff_seconds(attempts: int) -> int:
    """Delay before the next try after ``attempts`` failures: 10s, 20s, 40s ... capped at 1h."""
    return min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)


class UnhandledOutboxKind(RuntimeError):
    """An outbox kind was enqueued that no handler is registered for (a wiring fault)."""


class PermanentDeliveryError(Exception):
    """Raised by a handler when retrying cannot help (the far end refused the content): the
    row goes to failed at once with this error (and ``errcode`` when WeChat gave one), for an
    operator to look at."""

    def __init__(self, message: str = "", errcode: int | None = None):
        super().__init__(message)
        self.errcode = errcode


PermanentFailure = PermanentDeliveryError  # the name services.notifications used first


def permanent_errcode(exc: BaseException) -> int | None:
    """The errcode when ``exc`` is permanent (0 when permanent without a code), else None."""
    if isinstance(exc, PermanentDeliveryError):
        return exc.errcode or 0
    details = getattr(exc, "details", None)
    if isinstance(details, dict) and "errcode" in details:
        try:
            code = int(details["errcode"])
        except (TypeError, ValueError):
            return None
        return code if code in PERMANENT_ERRCODES else None
    return None


def register_handler(kind: OutboxKind | str, fn: Handler, on_failed: FailedHook | None = None) -> None:
    _handlers[str(OutboxKind(kind))] = fn
    if on_failed is not None:
        _on_failed[str(OutboxKind(kind))] = on_failed


def handled_kinds() -> set[str]:
    return set(_handlers)


async def unhandled_kinds() -> dict[str, int]:
    """Pending rows by kind for the kinds no handler is registered for (empty when healthy)."""
    rows = await (OutboxMessage.filter(status=OutboxStatus.pending)
                  .exclude(kind__in=list(_handlers) or ["-"])
                  .annotate(n=Count("id")).group_by("kind").values("kind", "n"))
    return {str(r["kind"]): int(r["n"]) for r in rows}


async def enqueue(kind: OutboxKind | str, dedupe_key: str, payload: dict[str, Any], conn: BaseDBAsyncClient | None = None,
                  not_before: datetime | None = None) -> None:
    """Queue ``payload`` in the caller's transaction; a repeated ``dedupe_key`` is a no-op.
    ``not_before``: the first try waits until then (quiet hours)."""
    if str(kind) not in _handlers:
        raise UnhandledOutboxKind(f"outbox kind {kind!s} has no handler: register it in huituan.wiring")
    if len(dedupe_key) > 191:
        raise ValueError("dedupe_key longer than 191 characters")
    row = OutboxMessage(kind=OutboxKind(kind), dedupe_key=dedupe_key, payload=payload,
                        status=OutboxStatus.pending, attempts=0, last_error="", next_attempt_at=not_before)
    # bulk_create(ignore_conflicts) is INSERT ... ON CONFLICT DO NOTHING on both backends:
    # the duplicate never raises, so the caller's PostgreSQL transaction stays usable.
    await OutboxMessage.bulk_create([row], ignore_conflicts=True, using_db=conn)


async def _claim(row: OutboxMessage) -> int | None:
    """CAS: pending with the attempts we saw -> attempts+1, leased. Returns the new attempts."""
    attempts = row.attempts + 1
    claimed = await OutboxMessage.filter(id=row.id, status=OutboxStatus.pending, attempts=row.attempts).update(
        attempts=attempts, next_attempt_at=utcnow() + timedelta(seconds=LEASE_SECONDS)
    )
    return attempts if claimed else None


async def _deliver_one(rt: "Runtime", row: OutboxMessage) -> bool:
    attempts = await _claim(row)
    if attempts is None:
        return False  # another process has it
    handler = _handlers[row.kind]
    try:
        await handler(rt, row.payload)
    except Exception as exc:  # noqa: BLE001 - any failure is retried, then parked
        error = f"{type(exc).__name__}: {exc}"
        details = getattr(exc, "details", None)
        if details:
            error += f" {details}"
        error = error[:2000]
        errcode = permanent_errcode(exc)
        if errcode is not None or attempts >= MAX_ATTEMPTS:
            parked = await OutboxMessage.filter(id=row.id, status=OutboxStatus.pending, attempts=attempts).update(
                status=OutboxStatus.failed, last_error=error, next_attempt_at=None
            )
            log.error("outbox %s %s failed for good after %s attempts (%s): %s", row.kind, row.dedupe_key, attempts,
                      "permanent" if errcode is not None else "attempts exhausted", error)
            hook = _on_failed.get(row.kind)
            if parked and hook is not None:
                code = errcode if errcode else _errcode_of(exc)
                try:
                    await hook(row.payload, error, code)
                except Exception:  # noqa: BLE001 - the outbox row already tells the story
                    log.exception("outbox on_failed hook for %s raised", row.kind)
        else:
            delay = backoff_seconds(attempts)
            await OutboxMessage.filter(id=row.id, status=OutboxStatus.pending, attempts=attempts).update(
                last_error=error, next_attempt_at=utcnow() + timedelta(seconds=delay)
            )
            log.warning("outbox %s %s attempt %s failed, retry in %ss: %s", row.kind, row.dedupe_key, attempts, delay, error)
        return False
    await OutboxMessage.filter(id=row.id, status=OutboxStatus.pending, attempts=attempts).update(
        status=OutboxStatus.sent, sent_at=utcnow(), last_error="", next_attempt_at=None
    )
    return True


def _errcode_of(exc: BaseException) -> int | None:
    details = getattr(exc, "details", None)
    try:
        return int(details["errcode"]) if isinstance(details, dict) and "errcode" in details else None
    except (TypeError, ValueError):
        return None


async def purge_delivered(older_than: datetime, batch: int = 5000) -> int:
    """Retention: delete sent rows delivered before ``older_than``, ``batch`` at a time so the
    table stays small and its delivery query flat (the Notification rows keep the history).
    Pending and failed rows are never touched."""
    removed = 0
    while True:
        ids = await (OutboxMessage.filter(status=OutboxStatus.sent, sent_at__lt=older_than)
                     .order_by("id").limit(batch).values_list("id", flat=True))
        if not ids:
            return removed
        removed += await OutboxMessage.filter(id__in=list(ids), status=OutboxStatus.sent).delete()
        if len(ids) < batch:
            return removed


async def deliver_now(rt: "Runtime", dedupe_key: str) -> bool:
    """Deliver one message now, in the caller's task (after the commit that queued it): the
    caller gets its effect at once (a transfer's package_info for the answer). It goes through
    the same claim as every delivery, so a concurrent sweep or kick cannot run it a second
    time; a message that is not pending or not due yet is left to them. True when sent."""
    row = await OutboxMessage.get_or_none(dedupe_key=dedupe_key, status=OutboxStatus.pending)
    if row is None or str(row.kind) not in _handlers:
        return False
    if row.next_attempt_at is not None and row.next_attempt_at > utcnow():
        return False
    return await _deliver_one(rt, row)


async def status_of(dedupe_key: str) -> OutboxStatus | None:
    """The status of the message queued under ``dedupe_key``, None when there is none."""
    rows = await OutboxMessage.filter(dedupe_key=dedupe_key).values_list("status", flat=True)
    return OutboxStatus(rows[0]) if rows else None


async def requeue(dedupe_key: str) -> bool:
    """failed | sent -> pending with attempts 0, due now; True when this call moved it.

    A pending row is left alone: it is queued or being delivered, and resetting its attempts
    would break the (status, attempts) claim of the process holding it. The status guard is
    the compare-and-set: of two concurrent callers one moves the row."""
    moved = await OutboxMessage.filter(
        dedupe_key=dedupe_key, status__in=(OutboxStatus.failed, OutboxStatus.sent)
    ).update(status=OutboxStatus.pending, attempts=0, next_attempt_at=utcnow(), sent_at=None)
    return moved == 1


async def deliver_pending(rt: "Runtime", limit: int = 100, concurrency: int = 1) -> int:
    """Deliver due messages; returns how many were sent by this call. ``concurrency`` > 1 sends
    that many at a time (each row still goes through its own claim)."""
    kinds = [OutboxKind(k) for k in _handlers if k in OutboxKind._value2member_map_]
    if not kinds:
        return 0
    now = utcnow()
    rows = await (
        OutboxMessage.filter(status=OutboxStatus.pending, kind__in=kinds)
        .filter(next_attempt_at__isnull=True)
        .order_by("id").limit(limit)
    )
    if len(rows) < limit:
        rows += await (
            OutboxMessage.filter(status=OutboxStatus.pending, kind__in=kinds, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id").limit(limit - len(rows))
        )
    if concurrency <= 1:
        sent = 0
        for row in rows:
            if await _deliver_one(rt, row):
                sent += 1
        return sent
    gate = asyncio.Semaphore(concurrency)

    async def one(row: OutboxMessage) -> bool:
        async with gate:
            return await _deliver_one(rt, row)

    return sum(await asyncio.gather(*(one(r) for r in rows)))


async def _run(rt: "Runtime") -> None:
    key = id(rt)
    try:
        while True:
            _rerun.discard(key)
            try:
                await deliver_pending(rt)
            except Exception:  # noqa: BLE001 - the scheduled sweep retries later
                log.exception("outbox background delivery failed")
                return
            if key not in _rerun:
                return
    finally:
        _rerun.discard(key)


def kick(rt: "Runtime") -> None:
    """Deliver in the background, after the caller's commit. Never raises, never blocks."""
    try:
        key = id(rt)
        if any(getattr(t, "_outbox_rt", None) == key and not t.done() for t in _tasks):
            _rerun.add(key)  # the running delivery goes round once more
            return
        task = asyncio.get_running_loop().create_task(_run(rt))
        task._outbox_rt = key  # type: ignore[attr-defined]
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
    except Exception:  # noqa: BLE001
        log.exception("outbox kick failed")


async def wait_idle() -> None:
    """Wait for the background deliveries started by ``kick`` (tests, shutdown)."""
    while _tasks:
        await asyncio.gather(*list(_tasks), return_exceptions=True)


# ---- built-in handlers ------------------------------------------------------------------------

async def _send_subscribe_message(rt: "Runtime", payload: dict[str, Any]) -> None:
    await rt.wechat.miniprogram.send_subscribe_message(
        payload["openid"], payload["template_id"], payload.get("data") or {}, page=payload.get("page")
    )


async def _send_wecom_message(rt: "Runtime", payload: dict[str, Any]) -> None:
    if payload.get("markdown"):
        await rt.wechat.wecom.send_markdown(payload["touser"], payload["content"])
    else:
        await rt.wechat.wecom.send_text(payload["touser"], payload["content"])


async def queue_wecom_text(touser: str, content: str, dedupe_key: str, conn: BaseDBAsyncClient | None = None) -> None:
    """A WeCom application text message to one member (delivered by the outbox)."""
    await enqueue(OutboxKind.wecom_message, dedupe_key, {"touser": touser, "content": content}, conn)


async def queue_wecom_poster(touser: str, sharer_id: int, poster_kind: str, target: int | None, dedupe_key: str,
                             template: str | None = None, conn: BaseDBAsyncClient | None = None) -> None:
    """A share poster (``poster_kind`` of ``target``, made for ``sharer_id``) sent as an image to
    one WeCom member: rendered, uploaded and sent by the ``wecom_poster`` handler (posters.chat)."""
    await enqueue(OutboxKind.wecom_poster, dedupe_key, {
        "wecom_userid": touser, "sharer_id": sharer_id, "poster_kind": poster_kind, "target": target,
        "template": template}, conn)


# robot_push is delivered by services.pickup.pushes.deliver_robot_push (rate-limited per robot).
BUILTIN_HANDLERS: dict[OutboxKind, Handler] = {
    OutboxKind.subscribe_message: _send_subscribe_message,
    OutboxKind.wecom_message: _send_wecom_message,
}
