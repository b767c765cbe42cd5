from __future__ import annotations

from huituan.bot.commands import BotContext, command
from huituan.bot.commands.format import money
from huituan.services import reports


@command("今日", help="今天的下单数、付款金额和待处理退款", example="今日", aliases=("今天",))
async def today(ctx: BotContext, args: list[str]) -> str:
    s = await reports.day_summary()
    return "\n".join([
        f"今日概况（{s.day}）",
        f"下单：{s.orders_created} 笔",
        f"付款：{s.orders_paid} 笔，共 {money(s.paid_fen)}",
        f"待处理退款：{s.pending_refunds} 笔，共 {money(s.pending_refund_fen)}",
    ])
