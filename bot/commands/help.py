from __future__ import annotations

from huituan.bot.commands import BotContext, command, help_text


@command("帮助", help="列出所有指令", example="帮助", aliases=("help", "?", "？", "菜单"))
async def show_help(ctx: BotContext, args: list[str]) -> str:
    name = getattr(ctx.operator, "display_name", "") or getattr(ctx.operator, "username", "")
    return help_text(f"{name}您好，我是惠团运营助手。" if name else "您好，我是惠团运营助手。")
