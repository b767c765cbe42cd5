"""The leader's day in chat: summary, pick list, arrival, pickup verification, shortage, cutoff."""

from __future__ import annotations

from huituan.bot.commands import LEADER, BotContext, command
from huituan.bot.commands.format import money, parse_count, when
from huituan.core.clock import china_date
from huituan.services import leader_store, pickup_points
from huituan.services.pickup import arrival, day, pushes, shortage, tickets


@command("今日", help="今天的汇总单：每种商品要备多少件", usage="今日 [日期]", example="今日",
         aliases=("汇总", "汇总单", "今天"), roles=(LEADER,),
         details="日期可写 昨天、明天 或 2026-12-01；默认今天。")
async def today(ctx: BotContext, args: list[str]) -> str:
    point = await day.leader_point(ctx.leader.id)
    rep = await day.day_report(point, tickets.parse_day(args[0] if args else None))
    return day.summary_text(rep)


@command("分拣单", help="按顾客分好的分拣单（提货码、手机号已打码）", usage="分拣单 [日期]", example="分拣单 昨天",
         aliases=("分拣", "拣货单"), roles=(LEADER,))
async def picklist(ctx: BotContext, args: list[str]) -> str:
    point = await day.leader_point(ctx.leader.id)
    rep = await day.day_report(point, tickets.parse_day(args[0] if args else None))
    return day.picklist_text(rep)


@command("到货", help="货到了：通知今天及之前的顾客来提货（每位顾客只通知一次）", example="到货",
         aliases=("已到货", "到货了"), roles=(LEADER,))
async def arrived(ctx: BotContext, args: list[str]) -> str:
    today_ = china_date().isoformat()
    res = await arrival.announce_arrival(ctx.leader.user_id, today_, actor_name=ctx.leader.name)
    if not res["orders"]:
        return "没有需要通知的订单（已全部通知过或还没有订单）。"
    await pushes.push_arrival_to_group(ctx.rt, ctx.leader.user_id, res["point_name"], today_, res["orders"])
    return f"已通知 {res['consumers']} 位顾客来 {res['point_name']} 提货，共 {res['orders']} 单。"


@command("核销", help="核销顾客的提货码，订单完成", usage="核销 <提货码>", example="核销 12345678",
         aliases=("提货", "验码"), roles=(LEADER,))
async def verify(ctx: BotContext, args: list[str]) -> str:
    if not args:
        return "请在「核销」后面加上顾客的 8 位提货码，例如：核销 12345678"
    res = await arrival.verify_pickup(ctx.leader.user_id, "".join(args), actor_name=ctx.leader.name, redis=ctx.rt.redis)
    goods = "、".join(f"{i['title']}×{i['quantity']}" for i in res["items"])
    return f"核销成功（{when(res['verified_at'])}），订单 {res['order_no']}：{goods}"


@command("报损", help="商品缺货或损坏：自动给受影响的顾客退款", usage="报损 <商品> <数量>", example="报损 草莓 2",
         aliases=("缺货", "损坏"), roles=(LEADER,),
         details="按付款时间从晚到早挑出未提货的订单退款，佣金按规则相应扣减，报损记录留给运营查看。")
async def report_shortage(ctx: BotContext, args: list[str]) -> str:
    if len(args) < 2:
        return "用法：报损 <商品> <数量>，例如：报损 草莓 2"
    qty = parse_count(args[-1], "数量", 1, 10000)
    product = await leader_store.find_product(" ".join(args[:-1]))
    res = await shortage.report_shortage(ctx.rt, ctx.leader.user_id, product.id, qty)
    out = [f"报损已登记（编号 {res['id']}）：{product.title} {qty} 件，"
           f"已为 {res['orders']} 笔订单退款 {money(res['refunded_fen'])}。"]
    if res["failed"]:
        out.append(f"{len(res['failed'])} 笔订单已有退款在处理中，请联系运营：" +
                   "、".join(f["order_no"] for f in res["failed"]))
    return "\n".join(out)


@command("截单", help="设置每天的截单时间，之后的订单算到第二天", usage="截单 <时间>", example="截单 21:30",
         aliases=("截单时间",), roles=(LEADER,))
async def cutoff(ctx: BotContext, args: list[str]) -> str:
    if not args:
        return "请写上截单时间，例如：截单 21:30"
    point = await pickup_points.set_cutoff(ctx.leader.user_id, args[0])
    return f"{point['name']} 的截单时间已改为每天 {point['cutoff_time']}。"
