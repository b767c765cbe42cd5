"""The bot's command registry, who may use what, and how a sloppy message finds its command.

A command is an async function ``(ctx, args) -> str`` described with ``@command``:

    @command("核销", help="核销顾客的提货码", usage="核销 <提货码>", example="核销 12345678",
             roles=("leader",), aliases=("提货",))
    async def verify(ctx: BotContext, args: list[str]) -> str: ...

The decorator only describes; ``install(...)``, called from ``huituan.bot.register`` (which
the composition root calls), puts the commands in the registry. Importing a module registers
nothing. One name may have one command per role (``今日`` is the leader's day for a leader
and the platform's day for an operator).

Reading a message: NFKC folds full-width letters, digits and spaces; the first word picks the
command, or the longest command name the message starts with (``核销12345678``), or the
pinyin of a name (``hexiao``); an unknown word gets the closest command the person may use
(rapidfuzz over names and their pinyin) as a suggestion. Unlinked senders may only link
(``绑定 <码>``) and ask for help. A ``core.errors.HuituanError`` a handler raises becomes its
message as the reply.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Awaitable, Callable

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz, process
from tortoise.exceptions import ValidationError as TortoiseValidationError

from huituan.core.errors import HuituanError, ValidationFailed, chat_text
from huituan.core.inbound import ascii_int, text_problem
from huituan.core.runtime import Runtime

log = logging.getLogger("huituan.bot")

Handler = Callable[["BotContext", list[str]], Awaitable[str]]
OPERATOR, LEADER, ANYONE = "operator", "leader", "anyone"
ROLE_LABELS = {OPERATOR: "运营", LEADER: "团长"}


@dataclass
class BotContext:
    rt: Runtime
    sender: str  # WeCom userid
    operator: Any  # models.user.Operator of the sender (None when not linked)
    leader: Any = None  # models.leader.Leader of the sender (approved, linked), else None
    msg_id: str = ""  # WeCom's MsgId of the message (names a request that queues something)

    @property
    def roles(self) -> set[str]:
        out = {ANYONE}
        if self.operator is not None:
            out.add(OPERATOR)
        if self.leader is not None:
            out.add(LEADER)
        return out

    @property
    def linked(self) -> bool:
        return self.operator is not None or self.leader is not None

    @property
    def display_name(self) -> str:
        if self.leader is not None:
            return self.leader.name
        if self.operator is not None:
            return self.operator.display_name or self.operator.username
        return ""


@dataclass
class Command:
    name: str
    handler: Handler
    help: str
    usage: str
    example: str
    aliases: tuple[str, ...] = field(default_factory=tuple)
    roles: tuple[str, ...] = (OPERATOR,)
    details: str = ""


REGISTRY: dict[str, list[Command]] = {}
_ORDERED: list[Command] = []


def command(name: str, *, help: str, usage: str | None = None, example: str | None = None,
            aliases: tuple[str, ...] = (), roles: tuple[str, ...] = (OPERATOR,), details: str = ""
            ) -> Callable[[Handler], Handler]:
    def describe(fn: Handler) -> Handler:
        fn.command = Command(name=name, handler=fn, help=help, usage=usage or name,  # type: ignore[attr-defined]
                             example=example or name, aliases=tuple(aliases), roles=tuple(roles), details=details)
        return fn

    return describe


def install(*handlers: Handler) -> None:
    """Register described command handlers; idempotent, refuses one name used twice for one role."""
    for fn in handlers:
        cmd: Command = fn.command  # type: ignore[attr-defined]
        for key in (cmd.name, *cmd.aliases):
            key = normalize(key).lower()
            slot = REGISTRY.setdefault(key, [])
            if any(c.handler is fn for c in slot):
                continue
            if any(set(c.roles) & set(cmd.roles) for c in slot):
                raise ValueError(f"bot command {key!r} registered twice")
            slot.append(cmd)
        if all(c.handler is not fn for c in _ORDERED):
            _ORDERED.append(cmd)
    _pinyin_index.cache_clear()


def commands(roles: set[str] | None = None) -> list[Command]:
    if roles is None:
        return list(_ORDERED)
    return [c for c in _ORDERED if set(c.roles) & roles]


def normalize(text: str) -> str:
    """Full-width letters, digits, punctuation and spaces to their usual forms; one space."""
    text = unicodedata.normalize("NFKC", text or "").replace("\u3000", " ")
    return " ".join(text.split())


@lru_cache(maxsize=4096)
def _py(text: str) -> str:
    return "".join(lazy_pinyin(text)).lower()


@lru_cache(maxsize=1)
def _pinyin_index() -> dict[str, str]:
    """pinyin of every name and alias -> that name or alias."""
    return {_py(k): k for k in REGISTRY if any("\u4e00" <= ch <= "\u9fff" for ch in k)}


MAX_COMMAND_CHARS = 500


def split_command(text: str) -> tuple[str, list[str]]:
    """(command name, arguments) of a chat message. Text that cannot be stored or echoed (NUL,
    lone surrogates) or longer than MAX_COMMAND_CHARS is no command: ("", [])."""
    if not text or len(text) > MAX_COMMAND_CHARS or text_problem(text) is not None:
        return "", []
    words = normalize(text).split()
    if not words:
        return "", []
    head = words[0].lstrip("/").lower()
    return head, words[1:]


def resolve(text: str) -> tuple[str, list[str]]:
    """(registry key or the unknown word, arguments)."""
    head, args = split_command(text)
    if not head or head in REGISTRY:
        return head, args
    # Glued arguments: 核销12345678, 开团苹果 → the longest name the word starts with.
    for key in sorted(REGISTRY, key=len, reverse=True):
        if len(key) >= 2 and head.startswith(key):
            raw = normalize(text).split()[0].lstrip("/")  # the argument keeps its case
            return key, [raw[len(key):], *args]
    pinyin = _pinyin_index().get(head) or _pinyin_index().get(_py(head))
    if pinyin:
        return pinyin, args
    return head, args


def suggest(word: str, roles: set[str]) -> str | None:
    """The closest command this person may use, by characters or by pinyin (typos, 同音字)."""
    if not word:
        return None
    allowed = {normalize(k).lower(): c.name for c in commands(roles) for k in (c.name, *c.aliases)}
    best = process.extractOne(word, list(allowed), scorer=fuzz.ratio, score_cutoff=50)
    by_pinyin = process.extractOne(_py(word), {k: _py(k) for k in allowed}, scorer=fuzz.ratio, score_cutoff=70)
    candidates = []
    if best:
        candidates.append((best[1], allowed[best[0]]))
    if by_pinyin:
        candidates.append((by_pinyin[1], allowed[by_pinyin[2]]))
    if not candidates:
        return None
    return max(candidates)[1]


def _role_text(cmd: Command) -> str:
    return "、".join(ROLE_LABELS[r] for r in cmd.roles if r in ROLE_LABELS) or "所有人"


def int_argument(args: list[str], index: int, *, name: str, low: int, high: int, default: int) -> int:
    """The ``index``-th argument as an integer of ASCII digits in low..high (``default`` when
    absent); anything else ('²', '١٢', '-3', 0 or 31 for 1..30, 400 digits) is a ValidationFailed
    naming it and the range: a value quietly clamped answers a question nobody asked."""
    if len(args) <= index:
        return default
    number = ascii_int(args[index], low=low, high=high, max_digits=9)
    if number is None:
        raise ValidationFailed(f"{name}应为 {low} 到 {high} 之间的整数", field=name)
    return number




def help_text(ctx: BotContext, prefix: str = "") -> str:
    lines = [prefix] if prefix else []
    lines.append("您的可用指令：")
    mine = commands(ctx.roles)
    for cmd in mine:
        lines.append(f"· {cmd.usage} —— {cmd.help}")
    example = next((c.name for c in mine if ANYONE not in c.roles), "帮助")
    lines.append(f"发送「帮助 指令名」查看某条指令的用法，例如：帮助 {example}")
    return "\n".join(lines)


def explain(ctx: BotContext, word: str) -> str:
    key, _ = resolve(word)
    cmds = REGISTRY.get(key) or []
    if not cmds:
        hint = suggest(key, ctx.roles)
        return f"没有「{word[:20]}」这条指令。" + (f"您是不是想找「{hint}」？" if hint else "发送「帮助」查看全部指令。")
    cmd = next((c for c in cmds if set(c.roles) & ctx.roles), cmds[0])
    out = [f"【{cmd.name}】{cmd.help}", f"用法：{cmd.usage}", f"例如：{cmd.example}"]
    if cmd.aliases:
        out.append("也可以说：" + "、".join(a for a in cmd.aliases if a not in ("?", "？")))
    if cmd.details:
        out.append(cmd.details)
    if not set(cmd.roles) & ctx.roles:
        out.append(f"（此指令仅限{_role_text(cmd)}使用）")
    return "\n".join(out)


UNKNOWN_SENDER_REPLY = ("您好，您的企业微信账号尚未绑定惠团账号。\n"
                        "团长：在小程序「团长中心 → 绑定企业微信」获取绑定码；运营：向管理员索取绑定码。\n"
                        "然后发送：绑定 <绑定码>，例如：绑定 12345678")
INTERNAL_ERROR_REPLY = "抱歉，系统开小差了，请稍后再试。"


def pick(ctx: BotContext, text: str) -> tuple[Command | None, list[str], str]:
    """(command to run or None, args, reply when None)."""
    key, args = resolve(text)
    cmds = REGISTRY.get(key) or []
    usable = [c for c in cmds if set(c.roles) & ctx.roles]
    if not ctx.linked and not usable:
        return None, args, UNKNOWN_SENDER_REPLY
    if not cmds:
        if not key:
            return None, args, help_text(ctx, "请发送文字指令。")
        hint = suggest(key, ctx.roles)
        if hint:
            return None, args, f"没有看懂「{key[:20]}」。您是不是想用「{hint}」？发送「帮助 {hint}」查看用法。"
        return None, args, help_text(ctx, f"没有看懂「{key[:20]}」。")
    if not usable:
        cmd = cmds[0]
        return None, args, f"「{cmd.name}」是{_role_text(cmd)}指令，您的账号不能使用。发送「帮助」查看您可以用的指令。"
    # A person who is both: the leader's version of a shared name first, it is their day.
    usable.sort(key=lambda c: 0 if LEADER in c.roles and LEADER in ctx.roles else 1)
    return usable[0], args, ""


async def run(ctx: BotContext, cmd: Command, args: list[str]) -> str:
    try:
        return await cmd.handler(ctx, args)
    except HuituanError as err:
        return chat_text(err.message)
    except (TortoiseValidationError, OverflowError) as exc:
        # A value the database cannot hold (too long, too large): the member's input, not our
        # fault. Arguments are bounded where they are parsed; this is the net under them.
        log.warning("bot command %s: input out of range: %s", cmd.name, exc)
        return OUT_OF_RANGE_REPLY
    except Exception:
        log.exception("bot command %s failed", cmd.name)
        return INTERNAL_ERROR_REPLY


OUT_OF_RANGE_REPLY = "输入的内容过长或数字超出范围，请检查后重试。"



async def dispatch(ctx: BotContext, text: str) -> str:
    """Run the command named by ``text`` and return the reply text."""
    cmd, args, reply = pick(ctx, text)
    if cmd is None:
        return reply
    return await run(ctx, cmd, args)
