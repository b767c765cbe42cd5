"""The leader's store and money in chat: products on/off, wallet, withdrawal, team, group pushes,
and the group-buy commands (开团, 海报) that need the activity and poster services."""

from __future__ import annotations

import uuid

from huituan.bot.commands import LEADER, BotContext, command
from huituan.bot.commands.format import money, parse_count, parse_yuan
from huituan.services import leader_store, outbox, review_queue, withdrawals
from huituan.services.commission.queries import wallet_summary
from huituan.services.pickup import pushes


@command("上架", help="在您的小店里上架平台商品", usage="上架 <商品>", example="上架 草莓", roles=(LEADER,))
async def switch_on(ctx: BotContext, args: list[str]) -> str:
    if not args:
        return "请写上商品名称，例如：上架 草莓"
    product = await leader_store.find_product(" ".join(args))
    await leader_store.set_product_enabled(ctx.leader.id, product.id, True)
    return f"「{product.title}」已在您的小店上架。"


@command("下架", help="在您的小店里下架平台商品", usage="下架 <商品>", example="下架 草莓", roles=(LEADER,))
async def switch_off(ctx: BotContext, args: list[str]) -> str:
    if not args:
        return "请写上商品名称，例如：下架 草莓"
    product = await leader_store.find_product(" ".join(args))
    await leader_store.set_product_enabled(ctx.leader.id, product.id, False)
    return f"「{product.title}」已从您的小店下架。"


@command("钱包", help="佣金钱包：冻结中、可提现、提现中、已提现", example="钱包", aliases=("余额", "佣金"),
         roles=(LEADER,))
async def wallet(ctx: BotContext, args: list[str]) -> str:
    w = await wallet_summary(ctx.leader.user_id)
    out = ["您的佣金钱包",
           f"冻结中：{money(w['pending_fen'])}（顾客提货后过了售后期转为可提现）",
           f"可提现：{money(w['available_fen'])}",
           f"提现中：{money(w['withdrawing_fen'])}",
           f"已提现：{money(w['withdrawn_fen'])}"]
    if w["debt_fen"]:
        out.append(f"待抵扣：{money(w['debt_fen'])}（退款扣回的佣金，从之后的收入中抵扣）")
    return "\n".join(out)


@command("提现", help="把可提现佣金提到微信零钱", usage="提现 <金额>", example="提现 50", roles=(LEADER,),
         details="金额单位为元，最多两位小数。小额自动打款，大额由运营审核。")
async def withdraw(ctx: BotContext, args: list[str]) -> str:
    if not args:
        return "请写上提现金额（元），例如：提现 50"
    fen = parse_yuan(args[0])
    w = await withdrawals.request_withdrawal(ctx.rt, ctx.leader.user_id, fen)
    state = "已提交，等待运营审核" if w["status"] == "requested" else "已受理，正在打款到微信零钱"
    return f"提现 {money(fen)} {state}（编号 {w['id']}）。"


@command("团队", help="您的自提点、店员和顾客人数", example="团队", aliases=("店员",), roles=(LEADER,))
async def team(ctx: BotContext, args: list[str]) -> str:
    t = await review_queue.leader_team(ctx.leader.id)
    out = ["自提点：" + "、".join(f"{p['name']}（{p['cutoff_time']} 截单）" for p in t["points"]),
           f"选择您为团长的顾客：{t['customers']} 位",
           "店员：" + ("、".join((s["name"] or f"用户{s['user_id']}") + ("" if s["active"] else "（已邀请，待对方接受）")
                               for s in t["staff"]) or "暂无（在小程序团长中心邀请）")]
    return "\n".join(out)


@command("群发", help="把今天的团购商品发到您的顾客群（群机器人）", example="群发", aliases=("发群", "推送"),
         roles=(LEADER,))
async def broadcast(ctx: BotContext, args: list[str]) -> str:
    res = await pushes.push_group_list(ctx.rt, ctx.leader.user_id)
    return f"已把 {res['products']} 件商品发到顾客群（{res['messages']} 条消息）。"


# A passive WeCom reply is text only and due within 5 s: the poster follows as an image through
# the WeCom message API (outbox wecom_poster, rendered and sent by posters.chat).
POSTER_ON_ITS_WAY = "海报生成中，稍后以图片发送给您，长按保存后即可转发到群里。"


@command("开团", help="为商品开一个拼团，分享海报随后以图片发给您", usage="开团 <商品> [人数] [小时]",
         example="开团 草莓 3 24", aliases=("拼团",), roles=(LEADER,))
async def open_group(ctx: BotContext, args: list[str]) -> str:
    if not args:
        return "用法：开团 <商品> [人数] [小时]，例如：开团 草莓 3 24"
    words = list(args)
    numbers: list[str] = []
    while words and words[-1].isdigit() and len(numbers) < 2:
        numbers.insert(0, words.pop())
    if not words:
        return "请写上商品名称，例如：开团 草莓 3 24"
    size = parse_count(numbers[0], "人数", 2, 100) if numbers else None
    hours = parse_count(numbers[1], "小时", 1, 720) if len(numbers) > 1 else None
    product = await leader_store.find_product(" ".join(words))  # unknown product: a clear reply, nothing changes
    res = await leader_store.leader_open_group(ctx.leader.id, product.id, size, hours, poster_to=ctx.sender)
    outbox.kick(ctx.rt)
    g = res["group"]
    return "\n".join([
        f"已开团：{res['title']}，{res['group_size']} 人团，拼团价 {money(res['group_price_fen'])}，"
        f"{res['duration_hours']} 小时内成团。",
        f"分享码：{g['share_code']}（顾客在小程序打开分享码即可参团）",
        f"拼团{POSTER_ON_ITS_WAY}",
    ])


@command("海报", help="商品的分享海报，以图片发给您", usage="海报 <商品>", example="海报 草莓", roles=(LEADER,))
async def poster(ctx: BotContext, args: list[str]) -> str:
    if not args:
        return "请写上商品名称，例如：海报 草莓"
    product = await leader_store.find_product(" ".join(args))
    await leader_store.queue_product_poster(ctx.leader.id, product.id, ctx.sender, ctx.msg_id or uuid.uuid4().hex)
    outbox.kick(ctx.rt)
    return f"「{product.title}」的分享{POSTER_ON_ITS_WAY}"
