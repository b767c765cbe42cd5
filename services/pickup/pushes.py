"""Pushes of a leader's day: at cutoff the point summary to the leader (WeCom app message), and
to the leader's customer group through its group robot (群机器人) the day's list and the
arrival notice. Robot messages go through the outbox (kind robot_push with the robot ``key``)
and are rate-limited per robot in Redis: WeCom allows 20 messages a minute per robot."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from tortoise.transactions import in_transaction

from huituan.core.clock import CHINA_TZ, utcnow
from huituan.core.errors import RateLimited, ValidationFailed
from huituan.core.money import yuan
from huituan.models.leader import Leader, LeaderStatus, PickupPoint, PointDay
from huituan.models.outbox import OutboxKind
from huituan.services import notifications, outbox
from huituan.services.leader_store import store_products
from huituan.services.pickup.day import day_report, summary_text

log = logging.getLogger("huituan.pickup")

ROBOT_MAX_BYTES = 4000  # WeCom refuses markdown over 4096 bytes
ROBOT_WINDOW_MS = 60_000
ROBOT_WAIT_MAX_SECONDS = 20.0

# Sliding window log per robot: a slot is taken when fewer than ARGV[2] were sent in the last
# minute, else the milliseconds until the oldest leaves the window are returned.
_SLOT_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, 0, now - 60000)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, 60000)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + 60000 - now
"""


async def robot_slot(redis, robot_key: str, limit: int, now_ms: int | None = None) -> int:
    """0 when a message may go now (the slot is taken), else milliseconds to wait."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return int(await redis.eval(_SLOT_LUA, 1, f"robot:rate:{{{robot_key}}}", now_ms, limit, uuid.uuid4().hex))


def split_markdown(title: str, lines: list[str], limit: int = ROBOT_MAX_BYTES) -> list[str]:
    """Long lists become several messages, each under the robot's size limit."""
    out: list[str] = []
    cur = title
    for line in lines:
        line = line if len(line.encode()) < limit - 200 else line[: (limit - 200) // 3]
        if len((cur + "\n" + line).encode()) > limit:
            out.append(cur)
            cur = f"{title}（续）"
        cur += "\n" + line
    out.append(cur)
    return out


async def deliver_robot_push(rt, payload: dict[str, Any]) -> None:
    """Outbox handler for robot_push: waits for a rate slot (a little), else retries later."""
    key = payload.get("key") or ""
    limited = key or getattr(rt.wechat.wecom, "robot_key", "")  # the platform robot counts too
    if limited:
        limit = rt.settings.robot_messages_per_minute
        waited = 0.0
        while True:
            wait_ms = await robot_slot(rt.redis, limited, limit)
            if wait_ms <= 0:
                break
            if waited + wait_ms / 1000 > ROBOT_WAIT_MAX_SECONDS:
                raise RateLimited("群机器人每分钟最多 20 条，稍后重发", retry_after_ms=wait_ms)
            await asyncio.sleep(wait_ms / 1000)
            waited += wait_ms / 1000
    await rt.wechat.wecom.robot_push(payload["content"], payload.get("msgtype", "markdown"), key=key or None)


async def _queue_robot(leader: Leader, dedupe: str, parts: list[str], conn=None) -> int:
    for i, part in enumerate(parts):
        await outbox.enqueue(OutboxKind.robot_push, f"{dedupe}:{i}"[:191],
                             {"key": leader.robot_key, "content": part, "msgtype": "markdown"}, conn=conn)
    return len(parts)


async def push_group_list(rt, user_id: int) -> dict[str, Any]:
    """群发: the products of the leader store today to the customer group (split when long)."""
    leader = await Leader.get_or_none(user_id=user_id, status=LeaderStatus.approved)
    if leader is None:
        raise ValidationFailed("仅团长可以群发", field="leader")
    if not leader.robot_key:
        raise ValidationFailed("还没有登记客户群的群机器人，请在小程序「团长中心 → 群机器人」填写 webhook 地址",
                               field="robot", code="robot_not_registered")
    items = await store_products(leader.id)
    if not items:
        raise ValidationFailed("小店里还没有上架的商品", field="products")
    day = utcnow().astimezone(CHINA_TZ).strftime("%m月%d日")
    lines = [f"> {i + 1}. **{it['title']}** ¥{yuan(it['price_from_fen'])}" for i, it in enumerate(items)]
    parts = split_markdown(f"### {leader.name}的小店 · {day}今日团购", lines + ["在小程序下单，到自提点凭提货码提货"])
    n = await _queue_robot(leader, f"robot:list:{leader.id}:{uuid.uuid4().hex[:12]}", parts)
    outbox.kick(rt)
    return {"messages": n, "products": len(items)}


async def push_arrival_to_group(rt, leader_user_id: int, point_name: str, day: str, orders: int) -> int:
    leader = await Leader.get_or_none(user_id=leader_user_id, status=LeaderStatus.approved)
    if leader is None or not leader.robot_key or orders <= 0:
        return 0
    text = (f"### 到货通知\n> {point_name} {day} 的商品已到货，共 {orders} 单。\n"
            "> 请凭小程序里的提货码到自提点提货。")
    n = await _queue_robot(leader, f"robot:arrival:{leader.id}:{day}", [text])
    outbox.kick(rt)
    return n


async def push_cutoff_summaries(rt, now=None) -> int:
    """Job: every point whose cutoff passed today gets its summary sent to its leader once
    (PointDay.cutoff_pushed_at is the compare-and-set); returns how many were queued."""
    now = now or utcnow()
    local = now.astimezone(CHINA_TZ)
    day, hhmm = local.date().isoformat(), local.strftime("%H:%M")
    points = await PickupPoint.filter(is_active=True, leader__status=LeaderStatus.approved,
                                      cutoff_time__lte=hhmm).order_by("id").limit(500)
    done_ids = set(await PointDay.filter(day=day, pickup_point_id__in=[p.id for p in points] or [0],
                                         cutoff_pushed_at__isnull=False).values_list("pickup_point_id", flat=True))
    queued = 0
    for point in points:
        if point.id in done_ids:
            continue
        leader = await Leader.get(id=point.leader_id)
        await PointDay.bulk_create([PointDay(pickup_point_id=point.id, day=day)], ignore_conflicts=True)
        text = summary_text(await day_report(point.id, day))
        async with in_transaction() as conn:
            moved = await PointDay.filter(pickup_point_id=point.id, day=day, cutoff_pushed_at=None).using_db(
                conn).update(cutoff_pushed_at=now)
            if not moved:
                continue
            # Through the notification service: one per point and day, recorded (skipped with
            # no_wecom_link when the leader has not linked WeCom), quiet hours, admin view.
            status = await notifications.notify_wecom(
                "leader_daily_summary", leader.wecom_userid, {"content": "已截单。\n" + text}, conn=conn,
                dedupe_key=f"{point.id}:{day}", user_id=leader.user_id, urgent=True)
            queued += status == "pending"
    if queued:
        outbox.kick(rt)
    return queued
