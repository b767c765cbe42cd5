"""Per pickup point and day: the order summary (汇总单: totals per product and SKU) and the
pick list (分拣单: per consumer, pickup code, masked phone), as data, CSV and a printable page.

One raw SQL read (core.sql): the summary of a point with thousands of orders is a hot path
(docs/PERFORMANCE.md). Lines count what is still to hand over: quantity minus refunded units.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from huituan.core import sql
from huituan.core.errors import Forbidden, NotFound
from huituan.models.leader import Leader, LeaderStaff, LeaderStatus, PickupPoint
from huituan.services.leaders import mask_phone

# Orders whose goods are handed over at the point (refunding: still there until the refund ends).
LIVE_STATUSES = ("paid", "ready_for_pickup", "completed", "partly_refunded", "refunding")

_LINES = (
    "SELECT t.order_id, t.code, t.user_id, t.verified_at, o.order_no, o.status, o.address, "
    "u.nickname, u.phone, i.id AS item_id, i.product_id, i.sku_id, i.title, i.sku_name, "
    "i.quantity - i.refunded_quantity AS qty, i.paid_fen - i.refunded_fen AS amount_fen "
    'FROM pickup_ticket t JOIN "order" o ON o.id = t.order_id JOIN "user" u ON u.id = t.user_id '
    "JOIN order_item i ON i.order_id = t.order_id "
    f"WHERE t.pickup_point_id = ? AND t.day = ? AND o.status IN ({sql.placeholders(len(LIVE_STATUSES))}) "
    "ORDER BY t.id, i.id"
)


async def staff_leader_ids(user_id: int) -> list[int]:
    """The approved leaders ``user_id`` serves as staff, having accepted their invitation
    (services.leaders.accept_staff_invitation): a disabled leader's staff act no more."""
    return list(await LeaderStaff.filter(user_id=user_id, accepted_at__isnull=False,
                                         leader__status=LeaderStatus.approved).values_list("leader_id", flat=True))


async def point_for_actor(user_id: int, pickup_point_id: int | None = None, *, staff_ok: bool = True) -> PickupPoint:
    """The point a leader (or, when ``staff_ok``, a staff member) acts on: the given one if they
    may, else their first active point."""
    leader = await Leader.get_or_none(user_id=user_id, status=LeaderStatus.approved)
    leader_ids = [leader.id] if leader else []
    if staff_ok:
        leader_ids += await staff_leader_ids(user_id)
    if not leader_ids:
        raise Forbidden("仅团长或团长的店员可以操作", code="not_a_leader")
    qs = PickupPoint.filter(leader_id__in=leader_ids, leader__status=LeaderStatus.approved)
    if pickup_point_id is not None:
        point = await qs.filter(id=pickup_point_id).first()
        if point is None:
            raise Forbidden("这不是您的自提点", code="not_your_point", field="pickup_point_id")
        return point
    # Their own store first: a leader who also serves another store as staff acts on their own
    # point unless they name the other one (a leader added as someone's staff had the other
    # store's day, arrivals and shortages answered for them; attacker pass, session 7).
    point = None
    if leader is not None:
        point = await qs.filter(leader_id=leader.id, is_active=True).order_by("id").first()
    if point is None:
        point = await qs.filter(is_active=True).order_by("id").first()
    if point is None:
        raise NotFound("您还没有自提点，请联系运营开通", code="pickup_point_not_found")
    return point


async def leader_point(leader_id: int) -> PickupPoint:
    """The first active point of an approved leader already identified (the bot): one query."""
    point = await PickupPoint.filter(leader_id=leader_id, is_active=True).order_by("id").first()
    if point is None:
        raise NotFound("您还没有自提点，请联系运营开通", code="pickup_point_not_found")
    return point


async def day_lines(pickup_point_id: int, day: str) -> list[dict[str, Any]]:
    return await sql.fetch(None, _LINES, [pickup_point_id, day, *LIVE_STATUSES])


def _receiver(row: dict[str, Any]) -> tuple[str, str]:
    addr = row.get("address")
    if isinstance(addr, str):  # raw SQL on SQLite hands JSON back as text
        try:
            addr = json.loads(addr)
        except ValueError:
            addr = None
    name = row.get("nickname") or ""
    phone = row.get("phone") or ""
    if isinstance(addr, dict):
        name = addr.get("receiver") or name
        phone = addr.get("phone") or phone
    return name or f"用户{row['user_id']}", mask_phone(phone)


async def day_report(pickup_point: int | PickupPoint, day: str) -> dict[str, Any]:
    """{point, day, orders, units, amount_fen, summary: [...], picks: [...]} of one point day."""
    point = pickup_point if isinstance(pickup_point, PickupPoint) else await PickupPoint.get_or_none(id=pickup_point)
    if point is None:
        raise NotFound("自提点不存在", code="pickup_point_not_found", field="pickup_point_id")
    rows = await day_lines(point.id, day)
    summary: dict[tuple[int, int], dict[str, Any]] = {}
    picks: dict[int, dict[str, Any]] = {}
    for r in rows:
        qty = int(r["qty"])
        if qty <= 0:
            continue
        key = (r["product_id"], r["sku_id"])
        s = summary.get(key)
        if s is None:
            s = summary[key] = {"product_id": r["product_id"], "sku_id": r["sku_id"], "title": r["title"],
                                "sku_name": r["sku_name"], "quantity": 0, "amount_fen": 0}
        s["quantity"] += qty
        s["amount_fen"] += int(r["amount_fen"])
        p = picks.get(r["order_id"])
        if p is None:
            name, phone = _receiver(r)
            p = picks[r["order_id"]] = {"order_id": r["order_id"], "order_no": r["order_no"], "code": r["code"],
                                        "name": name, "phone": phone, "status": r["status"],
                                        "verified": r["verified_at"] is not None, "items": []}
        p["items"].append({"title": r["title"], "sku_name": r["sku_name"], "quantity": qty})
    lines = sorted(summary.values(), key=lambda s: (s["title"], s["sku_name"], s["sku_id"]))
    return {
        "pickup_point_id": point.id, "point_name": point.name, "day": day, "cutoff_time": point.cutoff_time,
        "orders": len(picks), "units": sum(s["quantity"] for s in lines),
        "amount_fen": sum(s["amount_fen"] for s in lines), "summary": lines, "picks": list(picks.values()),
    }


def _label(title: str, sku_name: str) -> str:
    return f"{title}（{sku_name}）" if sku_name else title


def summary_text(rep: dict[str, Any], limit: int = 40) -> str:
    out = [f"【汇总单】{rep['point_name']} {rep['day']}（{rep['cutoff_time']} 截单）",
           f"订单 {rep['orders']} 笔，商品 {rep['units']} 件"]
    for s in rep["summary"][:limit]:
        out.append(f"· {_label(s['title'], s['sku_name'])} × {s['quantity']}")
    if len(rep["summary"]) > limit:
        out.append(f"……另有 {len(rep['summary']) - limit} 种商品，完整汇总单请在小程序中查看或下载 CSV")
    if not rep["summary"]:
        out.append("今天还没有订单。")
    return "\n".join(out)


def picklist_text(rep: dict[str, Any], limit: int = 30) -> str:
    out = [f"【分拣单】{rep['point_name']} {rep['day']}，共 {rep['orders']} 人次"]
    for p in rep["picks"][:limit]:
        goods = "、".join(f"{_label(i['title'], i['sku_name'])}×{i['quantity']}" for i in p["items"])
        done = "（已提货）" if p["verified"] else ""
        out.append(f"· {p['name']} {p['phone']} 提货码 {p['code']}{done}：{goods}")
    if len(rep["picks"]) > limit:
        out.append(f"……另有 {len(rep['picks']) - limit} 人次，完整分拣单请在小程序中查看或下载 CSV")
    if not rep["picks"]:
        out.append("今天还没有订单。")
    return "\n".join(out)


# A cell a spreadsheet may read as a formula: it starts with one of these, or does once
# leading whitespace is skipped (OWASP's list: = + - @, tab and carriage return).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text: a leading ' when it could start a formula
    (a SKU name "\t-1+1" went through the old check of its first character alone)."""
    if isinstance(value, str) and (value[:1] in _FORMULA_STARTS or value.lstrip()[:1] in _FORMULA_STARTS):
        return "'" + value
    return value


def _csv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    for row in rows:
        w.writerow([safe_cell(c) for c in row])
    return "\ufeff" + buf.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly


def summary_csv(rep: dict[str, Any]) -> str:
    rows: list[list[Any]] = [["商品", "规格", "数量", "金额（元）"]]
    rows += [[s["title"], s["sku_name"], s["quantity"], f"{s['amount_fen'] / 100:.2f}"] for s in rep["summary"]]
    return _csv(rows)


def picklist_csv(rep: dict[str, Any]) -> str:
    rows: list[list[Any]] = [["提货码", "收货人", "手机", "订单号", "商品", "规格", "数量", "已提货"]]
    for p in rep["picks"]:
        for i in p["items"]:
            rows.append([p["code"], p["name"], p["phone"], p["order_no"], i["title"], i["sku_name"], i["quantity"],
                         "是" if p["verified"] else "否"])
    return _csv(rows)


def printable_html(rep: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{e(rep['point_name'])} {e(rep['day'])} 汇总单与分拣单</title>",
        "<style>body{font-family:sans-serif;margin:16px}table{border-collapse:collapse;width:100%;margin-bottom:24px}"
        "td,th{border:1px solid #333;padding:4px 6px;text-align:left}@media print{.pick{page-break-inside:avoid}}"
        "</style></head><body>",
        f"<h1>{e(rep['point_name'])} · {e(rep['day'])}</h1>",
        f"<p>订单 {rep['orders']} 笔，商品 {rep['units']} 件（{e(rep['cutoff_time'])} 截单）</p>",
        "<h2>汇总单</h2><table><tr><th>商品</th><th>规格</th><th>数量</th></tr>",
    ]
    parts += [f"<tr><td>{e(s['title'])}</td><td>{e(s['sku_name'])}</td><td>{s['quantity']}</td></tr>"
              for s in rep["summary"]]
    parts.append("</table><h2>分拣单</h2><table><tr><th>提货码</th><th>收货人</th><th>手机</th><th>商品</th></tr>")
    for p in rep["picks"]:
        goods = "<br>".join(e(f"{_label(i['title'], i['sku_name'])} × {i['quantity']}") for i in p["items"])
        parts.append(f"<tr class='pick'><td>{e(p['code'])}</td><td>{e(p['name'])}</td><td>{e(p['phone'])}</td>"
                     f"<td>{goods}</td></tr>")
    parts.append("</table></body></html>")
    return "".join(parts)
