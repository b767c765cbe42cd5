from __future__ import annotations

from huituan.bot.commands import BotContext, command
from huituan.bot.commands.format import DELIVERY_LABELS, ORDER_STATUS_LABELS, money, when
from huituan.services import reports


@command("订单", help="查看订单状态、金额和商品", usage="订单 <订单号>", example="订单 202405010430014821937560")
async def order(ctx: BotContext, args: list[str]) -> str:
    if not args:
        return "请在指令后面加上订单号，例如：订单 202405010430014821937560"
    o = await reports.order_summary(args[0])
    lines = [
        f"订单 {o.order_no}",
        f"状态：{ORDER_STATUS_LABELS.get(o.status, o.status)}（{DELIVERY_LABELS.get(o.delivery_mode, o.delivery_mode)}）",
        f"下单时间：{when(o.created_at)}",
        f"商品金额：{money(o.goods_fen)}  优惠：{money(o.discount_fen)}  运费：{money(o.shipping_fen)}",
        f"应付：{money(o.payable_fen)}  实付：{money(o.paid_fen)}" + (f"  已退：{money(o.refunded_fen)}" if o.refunded_fen else ""),
    ]
    if o.paid_at:
        lines.append(f"付款时间：{when(o.paid_at)}")
    lines.append("商品：")
    for item in o.items:
        name = item.title + (f"（{item.sku_name}）" if item.sku_name else "")
        extra = f"，已退 {item.refunded_quantity} 件" if item.refunded_quantity else ""
        lines.append(f"· {name} × {item.quantity}，单价 {money(item.unit_price_fen)}，实付 {money(item.paid_fen)}{extra}")
    return "\n".join(lines)
