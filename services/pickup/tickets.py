"""ORDER_PAID for pickup orders: the pickup code, the point day after the cutoff, and the
leader commission (in the payment's transaction)."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta

from huituan.core import sql
from huituan.core.clock import CHINA_TZ, as_utc, china_date, utcnow
from huituan.core.errors import ValidationFailed
from huituan.models.leader import PickupTicket
from huituan.services import leader_store

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_CONTEXT = (
    'SELECT o.user_id, o.delivery_mode, o.pickup_point_id, p.cutoff_time, p.leader_id, l.user_id AS leader_user_id, '
    "l.status AS leader_status, l.commission_bp AS leader_bp "
    'FROM "order" o JOIN pickup_point p ON p.id = o.pickup_point_id JOIN leader l ON l.id = p.leader_id '
    "WHERE o.id = ? AND o.delivery_mode = 'pickup'"
)


def parse_cutoff(text: str) -> str:
    """'21:30', '２１：３０', '9:05', '21点' -> 'HH:MM'; anything else (25:00) is refused."""
    t = (text or "").strip().replace("：", ":").replace("点", ":00" if ":" not in text else "")
    t = t.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if re.fullmatch(r"\d:\d\d", t):
        t = "0" + t
    if not _HHMM.match(t):
        raise ValidationFailed(f"截单时间「{text[:10]}」不正确，请用 00:00 到 23:59 之间的时间，例如 21:30",
                               field="cutoff_time")
    return t


def point_day(cutoff_time: str, at: datetime | None = None) -> str:
    """The day of the point an order paid at ``at`` belongs to: at or after the cutoff
    (China time) it is the next day."""
    local = as_utc(at or utcnow()).astimezone(CHINA_TZ)
    day = local.date()
    if local.strftime("%H:%M") >= (cutoff_time or "22:00"):
        day += timedelta(days=1)
    return day.isoformat()


def parse_day(text: str | None, default: date | None = None) -> str:
    if not text:
        return (default or china_date()).isoformat()
    t = text.strip()
    if t in ("今天", "今日"):
        return china_date().isoformat()
    if t in ("明天",):
        return (china_date() + timedelta(days=1)).isoformat()
    if t in ("昨天",):
        return (china_date() - timedelta(days=1)).isoformat()
    if not _DAY.match(t):
        raise ValidationFailed("day: 日期格式应为 YYYY-MM-DD", field="day")
    try:
        parsed = date.fromisoformat(t)
    except ValueError:
        raise ValidationFailed("day: 日期不存在", field="day") from None
    if not 2000 <= parsed.year <= 2099:  # 9999-12-31 has no next day; no pickup day is that far
        raise ValidationFailed("day: 日期超出范围（2000 年到 2099 年）", field="day")
    return t


async def _new_code(point_id: int, conn) -> str:
    # Not unique in the database (an IntegrityError would abort the payment's transaction on
    # PostgreSQL): 8 random digits, checked per point.
    for _ in range(10):
        code = f"{secrets.randbelow(10**8):08d}"
        if not await PickupTicket.filter(pickup_point_id=point_id, code=code, verified_at=None).using_db(conn).exists():
            return code
    return f"{secrets.randbelow(10**10):010d}"


async def on_paid(order_id: int, conn, **_) -> None:
    """Subscribed to ORDER_PAID: idempotent per order (PickupTicket.order_id is unique)."""
    rows = await sql.fetch(conn, _CONTEXT, [order_id])
    if not rows:
        return  # express order (or a point that no longer exists)
    ctx = rows[0]
    if await PickupTicket.filter(order_id=order_id).using_db(conn).exists():
        return
    day = point_day(ctx["cutoff_time"])
    code = await _new_code(ctx["pickup_point_id"], conn)
    await PickupTicket.bulk_create([PickupTicket(order_id=order_id, user_id=ctx["user_id"],
                                                 pickup_point_id=ctx["pickup_point_id"], day=day, code=code)],
                                   ignore_conflicts=True, using_db=conn)
    if ctx["leader_status"] == "approved":
        await leader_store.credit_leader_commission(order_id, ctx["leader_id"], ctx["leader_user_id"],
                                                    ctx["leader_bp"], conn)
