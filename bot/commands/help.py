from __future__ import annotations

from huituan.bot.commands import ANYONE, BotContext, command, explain, help_text
from huituan.services import leaders


@command("帮助", help="列出您可以使用的指令；帮助 <指令> 查看一条指令的用法", usage="帮助 [指令]", example="帮助 核销",
         aliases=("help", "?", "？", "菜单", "指令"), roles=(ANYONE,))
async def show_help(ctx: BotContext, args: list[str]) -> str:
    if args:
        return explain(ctx, " ".join(args))
    name = ctx.display_name
    role = "团长" if ctx.leader is not None else "运营" if ctx.operator is not None else ""
    if not ctx.linked:
        from huituan.bot.commands import UNKNOWN_SENDER_REPLY

        return UNKNOWN_SENDER_REPLY
    return help_text(ctx, f"{name}您好，我是惠团{role}助手。" if name else "您好，我是惠团助手。")


@command("绑定", help="用绑定码把企业微信账号绑定到惠团账号", usage="绑定 <绑定码>", example="绑定 12345678",
         aliases=("bind",), roles=(ANYONE,),
         details="团长在小程序「团长中心 → 绑定企业微信」获取绑定码；运营的绑定码由 huituan create-operator 打印。绑定码 10 分钟内有效，只能用一次。")
async def bind(ctx: BotContext, args: list[str]) -> str:
    if not args:
        return "请在「绑定」后面加上 8 位绑定码，例如：绑定 12345678"
    kind = await leaders.link_wecom(ctx.sender, args[0])
    who = "团长" if kind == "leader" else "运营"
    return f"绑定成功，您现在可以使用{who}指令了。发送「帮助」查看。"
