"""Operators decide in chat: the queue (待审核) and 通过 / 驳回 团长|提现|退款 <编号> [理由]."""

from __future__ import annotations

from huituan.bot.commands import BotContext, command
from huituan.bot.commands.format import money
from huituan.core.errors import NotFound
from huituan.services import leaders, review_queue, withdrawals
from huituan.services.orders import refunds

KINDS = {"团长": "leader", "提现": "withdrawal", "退款": "refund"}


@command("待审核", help="待审核的团长申请、提现和退款", example="待审核", aliases=("审核", "待办"))
async def queue(ctx: BotContext, args: list[str]) -> str:
    q = await review_queue.pending_reviews()
    out = [f"团长申请 {q['leaders_total']} 个："]
    out += [f"· 团长 {x['id']} {x['name']}：{x['point']}（{x['address']}）" for x in q["leaders"]]
    out.append(f"提现 {q['withdrawals_total']} 笔：")
    out += [f"· 提现 {w['id']} 用户{w['user_id']} {money(w['amount_fen'])}" for w in q["withdrawals"]]
    out.append(f"退款 {q['refunds_total']} 笔：")
    out += [f"· 退款 {r['id']} {r['refund_no']} {money(r['amount_fen'])} {r['reason'][:20]}" for r in q["refunds"]]
    if q["unmatched_payments_total"]:
        out.append(f"未匹配支付 {q['unmatched_payments_total']} 笔（到账但找不到订单）：请在管理后台处理")
    out.append("处理：通过 团长 <编号> / 驳回 提现 <编号> <理由>")
    return "\n".join(out)


def _parse(args: list[str], verb: str, need_reason: bool) -> tuple[str, str, str]:
    usage = f"用法：{verb} 团长|提现|退款 <编号>{' <理由>' if need_reason else ' [备注]'}，例如：{verb} 团长 12"
    if len(args) < 2 or args[0] not in KINDS:
        raise NotFound(usage, code="bad_arguments")
    if need_reason and len(args) < 3:
        raise NotFound(f"驳回时请写上理由。{usage}", code="bad_arguments")
    return KINDS[args[0]], args[1], " ".join(args[2:])


def _id(ref: str) -> int:
    if not ref.isdigit() or len(ref) > 18:
        raise NotFound(f"编号「{ref[:20]}」不正确，应为数字", code="bad_arguments")
    return int(ref)


@command("通过", help="通过团长申请、提现或退款", usage="通过 团长|提现|退款 <编号> [备注]", example="通过 团长 12",
         aliases=("批准", "同意"))
async def approve(ctx: BotContext, args: list[str]) -> str:
    kind, ref, note = _parse(args, "通过", False)
    op = ctx.operator.id
    if kind == "leader":
        x = await leaders.approve_leader(_id(ref), operator_id=op)
        return f"已通过团长 {x['name']}（编号 {x['id']}）的申请。"
    if kind == "withdrawal":
        w = await withdrawals.review_withdrawal(ctx.rt, _id(ref), True, op, note)
        return f"已通过提现 {w['id']}（{money(w['amount_fen'])}），正在打款。"
    rid = await review_queue.refund_id_of(ref)
    if rid is None:
        raise NotFound(f"没有找到退款 {ref[:20]}", code="refund_not_found")
    r = await refunds.approve_refund(ctx.rt, rid, op, note)
    return f"已通过退款 {r['refund_no']}（{money(r['amount_fen'])}），正在原路退回。"


@command("驳回", help="驳回团长申请、提现或退款（需写理由）", usage="驳回 团长|提现|退款 <编号> <理由>",
         example="驳回 团长 12 地址不在服务范围", aliases=("拒绝",))
async def reject(ctx: BotContext, args: list[str]) -> str:
    kind, ref, reason = _parse(args, "驳回", True)
    op = ctx.operator.id
    if kind == "leader":
        x = await leaders.reject_leader(_id(ref), reason, operator_id=op)
        return f"已驳回团长 {x['name']}（编号 {x['id']}）的申请，理由：{reason}"
    if kind == "withdrawal":
        w = await withdrawals.review_withdrawal(ctx.rt, _id(ref), False, op, reason)
        return f"已驳回提现 {w['id']}，金额已退回对方钱包。理由：{reason}"
    rid = await review_queue.refund_id_of(ref)
    if rid is None:
        raise NotFound(f"没有找到退款 {ref[:20]}", code="refund_not_found")
    r = await refunds.reject_refund(ctx.rt, rid, op, reason)
    return f"已驳回退款 {r['refund_no']}，理由：{reason}"
