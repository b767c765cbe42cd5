"""The ``huituan`` command.

serve, jobs, migrate, makemigrations, demo-data, create-operator, check-config, ledger verify.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys

from huituan.core import event_loop
from huituan.core.logging import setup_logging
from huituan.core.settings import Environment, Settings, explain_settings_error
from huituan.models import MODEL_APP
from huituan.wiring import wire_services

log = logging.getLogger("huituan.cli")


class UserMistake(Exception):
    """A mistake in how the command was called or configured: shown as lines, no traceback."""

    def __init__(self, *lines: str, code: int = 2):
        super().__init__(lines[0] if lines else "")
        self.lines = lines
        self.code = code


def _settings(args: argparse.Namespace | None = None) -> Settings:
    from pydantic import ValidationError

    overrides = {}
    if args is not None and getattr(args, "port", None):
        overrides["port"] = args.port
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise UserMistake("配置有误 / invalid settings:", *(f"  - {line}" for line in explain_settings_error(exc))) from None


def _refuse_unsafe_production(settings: Settings) -> None:
    if settings.env == Environment.production:
        problems = settings.production_problems()
        if problems:
            print("生产环境配置不完整，拒绝启动：", file=sys.stderr)
            for p in problems:
                print(f"  - {p}", file=sys.stderr)
            raise SystemExit(2)


# A crowd connecting at once (a flash sale's first second) must not overflow the accept queue:
# an overflow drops the handshake's last ACK, and the client's first request then waits for
# TCP retransmissions (200 ms, 400 ms, 1 s). aiohttp listens again on the socket it is given,
# with its own default of 128, so every run_app gets this too.
LISTEN_BACKLOG = 1024


def _bind(host: str, port: int):
    """Listen before anything else starts (runtime, jobs lease): a busy port fails at once."""
    import errno
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserMistake(f"端口 {port} 已被占用，换一个端口（--port 或 HUITUAN_PORT）/ "
                              f"port {port} is already in use on {host}: pick another (--port or HUITUAN_PORT)") from None
        raise UserMistake(f"无法监听 {host}:{port}（{exc.strerror}）/ cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def banner_lines(settings: Settings, host: str, demo_login: tuple[str, str] | None) -> list[str]:
    """What `serve` prints once it listens: where the API, its docs and the sandbox are."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{settings.port}"
    lines = [
        f"惠团 huituan 已启动 / serving on {base}",
        f"  接口文档 docs:    {base}/api/v1/docs",
        f"  OpenAPI:          {base}/api/v1/openapi.json",
        f"  健康检查 health:  {base}/readyz",
    ]
    if settings.sandbox:
        lines.append(f"  微信沙箱 sandbox: {base}/sandbox/outbox （未配置 HUITUAN_WECHAT_APPID：微信、支付、企业微信由沙箱模拟 / "
                     "WeChat, Pay and WeCom are emulated）")
    else:
        lines.append("  微信 WeChat: 真实接口 / real WeChat APIs (no sandbox)")
    if demo_login:
        lines.append(f"  演示运营 demo operator: {demo_login[0]} / {demo_login[1]} "
                     f"（POST /api/admin/v1/auth/login；企业微信沙箱成员 demo-operator）")
    return lines


def _banner_hook(settings: Settings, host: str):
    async def print_banner(_app) -> None:
        from huituan.services.demo import demo_operator_login

        try:
            login = await demo_operator_login()
        except Exception:  # no tables yet: the banner still shows the URLs
            log.warning("demo operator lookup failed", exc_info=True)
            login = None
        print("\n".join(banner_lines(settings, host, login)), flush=True)

    return print_banner


async def _tune_collector(_app) -> None:
    """Once everything is loaded (modules, the pinyin tables, pools), move those objects out of
    the collector's reach: a full collection otherwise walks ~400,000 long-lived objects and
    stops the event loop for ~150 ms. And collect the young generation after 50,000 net
    allocations instead of 700: under a burst of 512 connections the default ran ~70 young
    collections a second, each promoting the objects of requests still in flight until a full
    collection had to walk them (measured in the flash-sale burst: ~6 % of the CPU and its tail).
    Requests free their objects by reference counting; only cycles wait for a collection."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


async def _open_pools(app) -> None:
    """Open the connection pools before the first request: a burst's first second otherwise
    paid for 50 Redis and 20 PostgreSQL connects (redis-py reads its package metadata on each)
    while its winners waited. Failures are left to the first request, as without this."""
    from tortoise import connections

    from huituan.core.web.keys import RUNTIME_KEY

    rt = app[RUNTIME_KEY]
    settings = rt.settings

    async def hold_pg() -> None:
        async with connections.get("default").acquire_connection() as conn:
            await conn.execute("SELECT 1")
            await asyncio.sleep(0.05)  # held together: each opens its own connection

    try:
        await asyncio.gather(*(rt.redis.ping() for _ in range(settings.redis_pool_max)))
        if settings.database_url.startswith(("postgres://", "postgresql://")):
            await asyncio.gather(*(hold_pg() for _ in range(settings.database_pool_max)))
    except Exception:  # noqa: BLE001 - readiness reports a broken backend; serving starts anyway
        log.warning("opening the connection pools failed", exc_info=True)


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from huituan.app import create_app

    settings = _settings(args)
    _refuse_unsafe_production(settings)
    setup_logging(settings.log_level, settings.log_json)
    with_jobs = settings.jobs_enabled and not args.no_jobs
    host = args.host or settings.host
    if settings.sandbox and not args.host and "host" not in settings.model_fields_set:
        # The sandbox marks orders paid for anyone who asks: never on every interface by default.
        host = "127.0.0.1"
        log.warning("sandbox mounted: listening on 127.0.0.1 only; set HUITUAN_HOST (or --host) to expose it")
    workers = args.workers or 1
    if workers < 1:
        raise UserMistake("--workers 至少为 1 / --workers must be at least 1")
    if workers > 1 and settings.redis_url.startswith("memory://"):
        raise UserMistake("--workers 大于 1 需要共享的 Redis（HUITUAN_REDIS_URL），memory:// 只在单进程内有效 / "
                          "--workers > 1 needs a shared Redis (HUITUAN_REDIS_URL)")
    sock = _bind(host, settings.port)  # first: a busy port fails at once, nothing opened
    if settings.database_url.startswith("sqlite"):
        # The embedded default is the one-command first use: its schema is brought up to date
        # before serving (an unmigrated file served "no such table" to every request).
        # PostgreSQL deployments run `huituan migrate` as a release step (docs/DEPLOY.md).
        asyncio.run(_migrate(settings))
    if workers == 1:
        app = create_app(settings, with_jobs=with_jobs)
        app.on_startup.append(_banner_hook(settings, host))
        app.on_startup.append(_open_pools)
        app.on_startup.append(_tune_collector)
        log.info("serving on %s:%s (sandbox=%s, jobs=%s)", host, settings.port, settings.sandbox, with_jobs)
        web.run_app(app, sock=sock, access_log=None, print=None, backlog=LISTEN_BACKLOG, loop=event_loop.new_event_loop(settings.event_loop))
        return 0
    return _serve_prefork(settings, sock, host, workers, with_jobs)


def _serve_prefork(settings: Settings, sock, host: str, workers: int, with_jobs: bool) -> int:
    """N processes accept on one listening socket (one process per core). Only worker 0 runs
    the scheduler; the Redis lease keeps jobs single across machines anyway."""
    import os
    import signal

    from aiohttp import web

    from huituan.app import create_app

    if settings.sandbox and not os.environ.get("HUITUAN_SANDBOX_KEY_DIR"):
        # Every worker must sign and verify sandbox Pay messages with the same keys.
        os.environ["HUITUAN_SANDBOX_KEY_DIR"] = os.path.abspath("./var/sandbox-keys")
    if settings.sandbox and not (settings.wechatpay_api_base and settings.wechat_api_base and settings.wecom_api_base):
        # The sandbox keeps what it emulates (prepays, payments, refunds, media) in the memory
        # of the process that served it: a payment made through one worker is unknown to
        # another (attacker pass, session 8).
        log.warning("the WeChat sandbox keeps its state per process: with --workers %d point "
                    "HUITUAN_WECHAT_API_BASE, HUITUAN_WECHATPAY_API_BASE and HUITUAN_WECOM_API_BASE at one "
                    "sandbox process (docs/DEVELOPING.md), or use real WeChat", workers)
    children: list[int] = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                app = create_app(settings, with_jobs=with_jobs and index == 0)
                if index == 0:
                    app.on_startup.append(_banner_hook(settings, host))
                app.on_startup.append(_open_pools)
                app.on_startup.append(_tune_collector)
                # Each worker makes its own loop after the fork: a loop never crosses a fork.
                web.run_app(app, sock=sock, access_log=None, print=None, handle_signals=True, backlog=LISTEN_BACKLOG,
                            loop=event_loop.new_event_loop(settings.event_loop))
            finally:
                os._exit(0)
        children.append(pid)
    log.info("serving on %s:%s with %d workers (sandbox=%s, jobs=%s)", host, settings.port, workers,
             settings.sandbox, with_jobs)

    def forward(signum, _frame):
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        while True:
            try:
                _, code = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        status = status or (1 if os.waitstatus_to_exitcode(code) not in (0, -signal.SIGTERM) else 0)
    sock.close()
    return status


def cmd_jobs(args: argparse.Namespace) -> int:
    from huituan.app import run_jobs_forever

    settings = _settings()
    _refuse_unsafe_production(settings)
    setup_logging(settings.log_level, settings.log_json)
    event_loop.run(run_jobs_forever(settings), settings.event_loop)
    return 0


async def _migrate(settings: Settings) -> None:
    from huituan.core.db import close_db, migrate_db

    try:
        await migrate_db(settings.database_url, MODEL_APP)
    finally:
        await close_db()


def cmd_migrate(args: argparse.Namespace) -> int:
    asyncio.run(_migrate(_settings()))
    print("数据库已迁移到最新版本")
    return 0


def cmd_makemigrations(args: argparse.Namespace) -> int:
    from huituan.core.db import pending_model_changes

    written = asyncio.run(pending_model_changes(MODEL_APP, write=not args.check))
    if args.check:
        if written:
            print("模型有未生成迁移的变更：", ", ".join(written))
            return 1
        print("迁移与模型一致")
        return 0
    print("已生成迁移：" + ", ".join(written) if written else "模型没有变化")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from huituan.core.db import close_db, init_db
    from huituan.services.demo import load_demo_data

    settings = _settings()

    async def go() -> dict:
        wire_services()
        await init_db(settings.database_url, MODEL_APP)
        try:
            return await load_demo_data()
        finally:
            await close_db()

    summary = asyncio.run(go())
    print("演示数据已就绪：", summary)
    return 0


def _ask_password() -> str:
    if not sys.stdin.isatty():
        raise UserMistake("没有终端可以输入密码，请用 --password 提供 / no terminal to type the password on: pass --password")
    first = getpass.getpass("密码 password: ")
    second = getpass.getpass("再输入一次 again: ")
    if first != second:
        raise UserMistake("两次输入的密码不一致 / the two passwords differ")
    return first


def cmd_create_operator(args: argparse.Namespace) -> int:
    from huituan.core.db import close_db, init_db
    from huituan.services.leaders import BIND_CODE_TTL_SECONDS, issue_bind_code
    from huituan.services.operators import create_operator

    settings = _settings()
    password = args.password if args.password is not None else _ask_password()

    async def go():
        wire_services()
        await init_db(settings.database_url, MODEL_APP)
        try:
            op = await create_operator(args.username, password, display_name=args.name or args.username,
                                       wecom_userid=args.wecom_userid)
            return op, await issue_bind_code("operator", op.id)
        finally:
            await close_db()

    op, code = asyncio.run(go())
    print(f"运营账号已创建：{op.username} (id={op.id})")
    print(f"企业微信绑定码：{code}（{BIND_CODE_TTL_SECONDS // 60} 分钟内有效，只能用一次）："
          f"在企业微信里给惠团助手发送「绑定 {code}」")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Check the configuration for the environment it names: exit 0 ("配置可用") only when
    nothing is listed. Production requirements are listed (exit 2) for HUITUAN_ENV=production
    or with --production; invalid settings never get this far (exit 2, see ``_settings``)."""
    settings = _settings()
    print(f"env={settings.env} sandbox={settings.sandbox} database={settings.database_url.split('@')[-1]} "
          f"redis={settings.redis_url.split('@')[-1]}")
    production = settings.env == Environment.production or args.production
    problems = settings.production_problems() if production else []
    if problems:
        print(f"生产环境配置有 {len(problems)} 项问题，不能上线 / {len(problems)} problems for production:")
        for p in problems:
            print(f"  - {p}")
        return 2
    unhandled = _unhandled_outbox(settings)
    if unhandled:
        print("发件箱有待发送的消息没有处理函数（在 huituan/wiring.py 注册后才会发送）：")
        for kind, n in sorted(unhandled.items()):
            print(f"  - {kind}: {n} 条")
        return 1
    print("配置可用 / configuration OK")
    if not production:
        print(f"（{settings.env} 环境；上线前用 `huituan check-config --production` 检查生产环境要求）")
    return 0


def _unhandled_outbox(settings: Settings) -> dict[str, int]:
    """Pending outbox rows by kind that no handler is wired for, when the database can be
    opened; {} (with a note) when it cannot: check-config also runs before the first migrate."""
    import os

    from huituan.core.db import close_db, init_db
    from huituan.services import outbox

    url = settings.database_url
    if url.startswith("sqlite://") and not os.path.exists(url[len("sqlite://"):]):
        print("（数据库文件尚不存在，跳过发件箱检查）")
        return {}

    async def go() -> dict[str, int]:
        wire_services()
        await init_db(url, MODEL_APP)
        try:
            return await outbox.unhandled_kinds()
        finally:
            await close_db()

    try:
        return asyncio.run(go())
    except Exception as exc:  # noqa: BLE001 - a report, not a gate: say why and go on
        print(f"（数据库无法打开，跳过发件箱检查：{type(exc).__name__}）")
        return {}


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from huituan.core.db import close_db, init_db
    from huituan.services.wallet.verify import verify_ledger

    settings = _settings()

    async def go():
        wire_services()
        await init_db(settings.database_url, MODEL_APP)
        try:
            return await verify_ledger()
        finally:
            await close_db()

    mismatches = asyncio.run(go())
    if mismatches:
        for m in mismatches:
            print(f"不一致: {m}")
        return 1
    print("账本核对通过")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="huituan", description="惠团 backend")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="mini-program API + bot callback + scheduler in one process")
    p.add_argument("--port", type=int, default=None, help="port to listen on (default HUITUAN_PORT, 8080)")
    p.add_argument("--host", default=None, help="address to bind (default HUITUAN_HOST, 0.0.0.0)")
    p.add_argument("--no-jobs", action="store_true", help="do not run the scheduler in this process")
    p.add_argument("--workers", type=int, default=1, help="processes sharing the port (one per core); needs real Redis")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("jobs", help="run the scheduler only")
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("migrate", help="bring the database to the head migration")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("makemigrations", help="write a migration for model changes (developers)")
    p.add_argument("--check", action="store_true", help="exit 1 when models changed without a migration")
    p.set_defaults(func=cmd_makemigrations)

    p = sub.add_parser("demo-data", help="load the idempotent demo catalog")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("create-operator", help="create an operator account for the admin API and the bot")
    p.add_argument("username", help="login name of the new operator")
    p.add_argument("--password", default=None,
                   help="at least 8 characters; asked twice on a terminal when left out (required without a terminal)")
    p.add_argument("--name", default=None, help="display name (default: the username)")
    p.add_argument("--wecom-userid", default=None,
                   help="the operator's WeCom userid, so the bot accepts their operator commands")
    p.set_defaults(func=cmd_create_operator)

    p = sub.add_parser("check-config", help="check the configuration (settings, database and Redis URLs, outbox wiring)")
    p.add_argument("--production", action="store_true",
                   help="also check what production needs (implied by HUITUAN_ENV=production)")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("ledger", help="wallet ledger tools")
    lsub = p.add_subparsers(dest="ledger_command", required=True)
    lp = lsub.add_parser("verify", help="check that ledger entries sum to cached balances")
    lp.set_defaults(func=cmd_ledger_verify)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # a user's mistake is explained; anything else is a bug and keeps its traceback
        lines = explain_failure(exc)
        if lines is None:
            raise
        for line in lines:
            print(line, file=sys.stderr)
        code = exc.code if isinstance(exc, UserMistake) else 1
    raise SystemExit(code)


def explain_failure(exc: BaseException) -> list[str] | None:
    """The lines that explain a mistake the user can fix (settings, input, an unreachable or
    unmigrated database); None for anything else."""
    from tortoise.exceptions import DBConnectionError, OperationalError

    from huituan.core.db import UnsupportedDatabaseUrl
    from huituan.core.errors import HuituanError

    if isinstance(exc, UserMistake):
        return [f"错误：{exc.lines[0]}", *exc.lines[1:]]
    if isinstance(exc, HuituanError):  # bad input (e.g. a short password)
        return [f"错误：{exc.message}"]
    if isinstance(exc, UnsupportedDatabaseUrl):
        return [f"错误：HUITUAN_DATABASE_URL 不受支持（只支持 sqlite:// 与 postgres://）/ {exc}"]
    if isinstance(exc, (DBConnectionError, ConnectionError, TimeoutError)) or (
            isinstance(exc, OSError) and exc.errno is not None):
        return [f"错误：无法连接数据库或 Redis，请检查 HUITUAN_DATABASE_URL / HUITUAN_REDIS_URL 与服务是否在运行 / "
                f"cannot reach the database or Redis: {exc}"]
    if isinstance(exc, OperationalError):
        return [f"错误：数据库操作失败，是否已运行 `huituan migrate`？/ database error (did you run `huituan migrate`?): {exc}"]
    return None


if __name__ == "__main__":
    main()
