"""Reminder sweeps for money and operations: commission settled (yesterday's, per promoter),
withdrawal paid or failed, and the operators' digest of pending reviews. Each is an
idempotent sweep: the dedupe key per event and recipient makes a second run send nothing."""

from __future__ import annotations

from datetime import date, timedelta

from tortoise.functions import Count, Sum

from huituan.core.clock import china_date, china_day_bounds, china_display, utcnow
from huituan.models.commission import CommissionRecord, CommissionStatus
from huituan.models.leader import Leader, LeaderStatus
from huituan.models.notification import NotificationStatus
from huituan.models.order import Refund, RefundStatus
from huituan.models.promoter import Promoter, PromoterStatus
from huituan.models.wallet import Withdrawal, WithdrawalStatus
from huituan.services.notifications.service import already_notified, notify, notify_operators
from huituan.services.orders import unmatched_payments


async def remind_commission_settled(day: date | None = None) -> int:
    """One message per promoter with the commission settled on ``day`` (China day; default
    yesterday): total and count."""
    day = day or china_date() - timedelta(days=1)
    start, end = china_day_bounds(day)
    rows = await (CommissionRecord.filter(status=CommissionStatus.settled, settled_at__gte=start, settled_at__lt=end)
                  .annotate(total=Sum("amount_fen"), n=Count("id")).group_by("beneficiary_id")
                  .values("beneficiary_id", "total", "n"))
    queued = 0
    for r in sorted(rows, key=lambda r: r["beneficiary_id"]):
        if not r["total"]:
            continue
        status = await notify("commission_settled", r["beneficiary_id"], {
            "amount1": int(r["total"]), "number2": int(r["n"]), "date3": day,
            "thing4": "佣金已转入可提现余额",
        }, conn=None, dedupe_key=f"day:{day.isoformat()}")
        queued += status == NotificationStatus.pending
    return queued


async def remind_withdrawals(since_hours: int = 72, limit: int = 1000) -> int:
    """Withdrawals finished (paid or failed) in the last ``since_hours``: one message each."""
    since = utcnow() - timedelta(hours=since_hours)
    rows = await (Withdrawal.filter(status__in=(WithdrawalStatus.paid, WithdrawalStatus.failed), finished_at__gte=since)
                  .order_by("id").limit(limit))
    done = (await already_notified("withdrawal_paid", [(f"withdrawal:{w.id}", w.user_id) for w in rows])
            | await already_notified("withdrawal_failed", [(f"withdrawal:{w.id}", w.user_id) for w in rows]))
    queued = 0
    for w in rows:
        if (f"withdrawal:{w.id}", w.user_id) in done:
            continue
        paid = w.status == WithdrawalStatus.paid
        status = await notify("withdrawal_paid" if paid else "withdrawal_failed", w.user_id, {
            "amount1": w.net_fen if paid else w.amount_fen,
            "phrase2": "已到账" if paid else "提现失败",
            "time3": w.finished_at,
            "thing4": "已转入微信零钱" if paid else (w.fail_reason or "金额已退回可提现余额"),
        }, conn=None, dedupe_key=f"withdrawal:{w.id}")
        queued += status == NotificationStatus.pending
    return queued


async def pending_reviews() -> dict[str, int]:
    return {
        "团长申请": await Leader.filter(status=LeaderStatus.pending).count(),
        "推手申请": await Promoter.filter(status=PromoterStatus.applied).count(),
        "提现审核": await Withdrawal.filter(status=WithdrawalStatus.requested).count(),
        "退款审核": await Refund.filter(status=RefundStatus.requested).count(),
        # money received for no order of ours: an operator refunds or matches it by hand
        "未匹配支付": await unmatched_payments.open_count(),
    }


async def send_operator_digest() -> int:
    """The operators' digest of pending reviews (WeCom app message to each linked operator);
    nothing when nothing waits. One per China hour at most."""
    counts = {k: v for k, v in (await pending_reviews()).items() if v}
    if not counts:
        return 0
    now = utcnow()
    lines = "\n".join(f"- {k}：{v} 条" for k, v in counts.items())
    return await notify_operators("operator_review_digest", {"time": china_display(now), "lines": lines},
                                  conn=None, dedupe_key=china_display(now, "%Y-%m-%dT%H"))
