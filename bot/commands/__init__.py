"""The bot's command registry.

A command is an async function ``(ctx, args) -> str`` described with ``@command``:

    @command("订单", help="查看订单状态、金额和商品", usage="订单 <订单号>", example="订单 202405010430014821937560")
    async def order(ctx: BotContext, args: list[str]) -> str: ...

The decorator only describes; ``install(...)``, called from ``huituan.bot.register`` (which
the composition root calls), puts the commands in the registry. Importing a module registers
nothing.

The first word of a text message picks the command (full-width spaces count as spaces);
the rest are its arguments. Handlers call services and format a Chinese reply; a
``core.errors.HuituanError`` they raise becomes its message as the reply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from huituan.core.errors import HuituanError, ValidationFailed
from huituan.core.inbound import ascii_int, text_problem
from huituan.core.runtime import Runtime

log = logging.getLogger("huituan.bot")

Handler = Callable[["BotContext", list[str]], Awaitable[str]]


@dataclass
class BotContext:
    rt: Runtime
    sender: str  # WeCom userid
    operator: Any  # models.user.Operator of the sender (None for unknown senders)


@dataclass
class Command:
    name: str
    handler: Handler
    help: str
    usage: str
    example: str
    aliases: tuple[str, ...] = field(default_factory=tuple)


REGISTRY: dict[str, Command] = {}
_ORDERED: list[Command] = []


def command(name: str, *, help: str, usage: str | None = None, example: str | None = None,
            aliases: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    def describe(fn: Handler) -> Handler:
        fn.command = Command(name=name, handler=fn, help=help, usage=usage or name,  # type: ignore[attr-defined]
                             example=example or name, aliases=tuple(aliases))
        return fn

    return describe


def install(*handlers: Handler) -> None:
    """Register described command handlers; idempotent, refuses one name used twice."""
    for fn in handlers:
        cmd: Command = fn.command  # type: ignore[attr-defined]
        for key in (cmd.name, *cmd.aliases):
            existing = REGISTRY.get(key)
            if existing is not None and existing.handler is not fn:
                raise ValueError(f"bot command {key!r} registered twice")
            REGISTRY[key] = cmd
        if cmd.name not in [c.name for c in _ORDERED]:
            _ORDERED.append(cmd)


def commands() -> list[Command]:
    return list(_ORDERED)


MAX_COMMAND_CHARS = 500


def split_command(text: str) -> tuple[str, list[str]]:
    """(command name, arguments) of a chat message. Text that cannot be stored or echoed (NUL,
    lone surrogates) or longer than MAX_COMMAND_CHARS is no command: ("", [])."""
    if not text or len(text) > MAX_COMMAND_CHARS or text_problem(text) is not None:
        return "", []
    words = text.replace("\u3000", " ").strip().split()
    if not words:
        return "", []
    head = words[0].lstrip("/／")
    return head, words[1:]


def int_argument(args: list[str], index: int, *, name: str, low: int, high: int, default: int) -> int:
    """The ``index``-th argument as an integer of ASCII digits clamped to low..high (``default``
    when absent); anything else ('²', '١٢', '-3', 400 digits) is a ValidationFailed naming it."""
    if len(args) <= index:
        return default
    number = ascii_int(args[index], low=0, high=10**9, max_digits=9)
    if number is None:
        raise ValidationFailed(f"{name}应为数字", field=name)
    return max(low, min(number, high))


def help_text(prefix: str = "") -> str:
    lines = [prefix] if prefix else []
    lines.append("可用指令：")
    for cmd in commands():
        lines.append(f"· {cmd.usage} —— {cmd.help}（例：{cmd.example}）")
    return "\n".join(lines)


UNKNOWN_SENDER_REPLY = "您好，您的企业微信账号尚未绑定惠团运营账号，暂时无法使用机器人指令。请联系管理员开通。"
INTERNAL_ERROR_REPLY = "抱歉，系统开小差了，请稍后再试。"


async def dispatch(ctx: BotContext, text: str) -> str:
    """Run the command named by ``text`` and return the reply text."""
    if ctx.operator is None:
        return UNKNOWN_SENDER_REPLY
    name, args = split_command(text)
    cmd = REGISTRY.get(name)
    if cmd is None:
        prefix = f"没有看懂「{name[:20]}」。" if name else "请发送文字指令。"
        return help_text(prefix)
    try:
        return await cmd.handler(ctx, args)
    except HuituanError as err:
        return err.message
    except Exception:
        log.exception("bot command %s failed", cmd.name)
        return INTERNAL_ERROR_REPLY
