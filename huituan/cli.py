"""The ``huituan`` command.

serve, jobs, migrate, makemigrations, demo-data, create-operator, check-config, ledger verify.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys

from huituan.core.logging import setup_logging
from huituan.core.settings import Environment, Settings
from huituan.models import MODEL_APP
from huituan.wiring import wire_services

log = logging.getLogger("huituan.cli")


def _settings(args: argparse.Namespace | None = None) -> Settings:
    overrides = {}
    if args is not None and getattr(args, "port", None):
        overrides["port"] = args.port
    return Settings(**overrides)


def _refuse_unsafe_production(settings: Settings) -> None:
    if settings.env == Environment.production:
        problems = settings.production_problems()
        if problems:
            print("生产环境配置不完整，拒绝启动：", file=sys.stderr)
            for p in problems:
                print(f"  - {p}", file=sys.stderr)
            raise SystemExit(2)


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from huituan.app import create_app

    settings = _settings(args)
    _refuse_unsafe_production(settings)
    setup_logging(settings.log_level, settings.log_json)
    with_jobs = settings.jobs_enabled and not args.no_jobs
    host = args.host or settings.host
    workers = args.workers or 1
    if workers == 1:
        app = create_app(settings, with_jobs=with_jobs)
        log.info("serving on %s:%s (sandbox=%s, jobs=%s)", host, settings.port, settings.sandbox, with_jobs)
        web.run_app(app, host=host, port=settings.port, access_log=None, print=None)
        return 0
    return _serve_prefork(settings, host, workers, with_jobs)


def _serve_prefork(settings: Settings, host: str, workers: int, with_jobs: bool) -> int:
    """N processes accept on one listening socket (one process per core). Only worker 0 runs
    the scheduler; the Redis lease keeps jobs single across machines anyway."""
    import os
    import signal
    import socket

    from aiohttp import web

    from huituan.app import create_app

    if settings.redis_url.startswith("memory://"):
        print("--workers 大于 1 需要共享的 Redis（HUITUAN_REDIS_URL），memory:// 只在单进程内有效", file=sys.stderr)
        return 2
    if settings.sandbox and not os.environ.get("HUITUAN_SANDBOX_KEY_DIR"):
        # Every worker must sign and verify sandbox Pay messages with the same keys.
        os.environ["HUITUAN_SANDBOX_KEY_DIR"] = os.path.abspath("./var/sandbox-keys")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, settings.port))
    sock.listen(1024)
    sock.set_inheritable(True)
    children: list[int] = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                app = create_app(settings, with_jobs=with_jobs and index == 0)
                web.run_app(app, sock=sock, access_log=None, print=None, handle_signals=True)
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
    asyncio.run(run_jobs_forever(settings))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from huituan.core.db import close_db, migrate_db

    settings = _settings()

    async def go() -> None:
        try:
            await migrate_db(settings.database_url, MODEL_APP)
        finally:
            await close_db()

    asyncio.run(go())
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


def cmd_create_operator(args: argparse.Namespace) -> int:
    from huituan.core.db import close_db, init_db
    from huituan.services.operators import create_operator

    settings = _settings()
    password = args.password or getpass.getpass("密码: ")

    async def go():
        wire_services()
        await init_db(settings.database_url, MODEL_APP)
        try:
            return await create_operator(args.username, password, display_name=args.name or args.username,
                                         wecom_userid=args.wecom_userid)
        finally:
            await close_db()

    op = asyncio.run(go())
    print(f"运营账号已创建：{op.username} (id={op.id})")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings()
    print(f"env={settings.env} sandbox={settings.sandbox} database={settings.database_url.split('@')[-1]} redis={settings.redis_url.split('@')[-1]}")
    problems = settings.production_problems()
    if settings.env == Environment.production and problems:
        for p in problems:
            print(f"  - {p}")
        return 2
    if problems:
        print("（非生产环境；上线前需处理：）")
        for p in problems:
            print(f"  - {p}")
    unhandled = _unhandled_outbox(settings)
    if unhandled:
        print("发件箱有待发送的消息没有处理函数（在 huituan/wiring.py 注册后才会发送）：")
        for kind, n in sorted(unhandled.items()):
            print(f"  - {kind}: {n} 条")
        return 1
    print("配置可用")
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
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--host", default=None)
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
    p.add_argument("username")
    p.add_argument("--password", default=None)
    p.add_argument("--name", default=None)
    p.add_argument("--wecom-userid", default=None)
    p.set_defaults(func=cmd_create_operator)

    p = sub.add_parser("check-config", help="show the effective configuration and what production needs")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("ledger", help="wallet ledger tools")
    lsub = p.add_subparsers(dest="ledger_command", required=True)
    lp = lsub.add_parser("verify", help="check that ledger entries sum to cached balances")
    lp.set_defaults(func=cmd_ledger_verify)
    return parser


def main(argv: list[str] | None = None) -> None:
    from huituan.core.errors import HuituanError

    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except HuituanError as err:  # bad input (e.g. a short password): a message, not a traceback
        print(f"错误：{err.message}", file=sys.stderr)
        code = 1
    raise SystemExit(code)


if __name__ == "__main__":
    main()
