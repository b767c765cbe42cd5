from __future__ import annotations

from huituan.bot.commands import BotContext, command
from huituan.bot.commands.format import money
from huituan.services import reports, review_queue


@command("今日数据", help="平台今天的下单数、付款金额、待处理退款和团长数", example="今日数据",
         aliases=("今日", "今天", "数据"))
async def today(ctx: BotContext, args: list[str]) -> str:
    s = await reports.day_summary()
    n = await review_queue.platform_leader_numbers()
    return "\n".join([
        f"今日概况（{s.day}）",
        f"下单：{s.orders_created} 笔",
        f"付款：{s.orders_paid} 笔，共 {money(s.paid_fen)}",
        f"待处理退款：{s.pending_refunds} 笔，共 {money(s.pending_refund_fen)}",
        f"团长：{n['leaders']} 位，待审核 {n['pending_leaders']} 位",
    ])
