"""`huituan check-config` also opens the database, when there is one, and names the pending
outbox rows whose kind no handler is wired for; it exits 1 while there are any."""

from __future__ import annotations

import asyncio

import pytest

from huituan.cli import main
from huituan.core.db import close_db, init_db
from huituan.models import MODEL_APP
from huituan.models.outbox import OutboxKind, OutboxMessage
from huituan.services import outbox
from huituan.wiring import wire_services


@pytest.fixture
def env(monkeypatch, database_url, redis_url):
    for key, value in {"HUITUAN_ENV": "test", "HUITUAN_DATABASE_URL": database_url, "HUITUAN_REDIS_URL": redis_url,
                       "HUITUAN_SECRET_KEY": "test-secret-key-0123456789abcdef-0123456789"}.items():
        monkeypatch.setenv(key, value)


def _run(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    return exit_.value.code, capsys.readouterr().out


def _with_outbox_rows(database_url: str, *rows: tuple[OutboxKind, str]) -> None:
    """The outbox holds exactly these pending rows (written with the ORM, as enqueue would)."""

    async def go() -> None:
        await init_db(database_url, MODEL_APP)
        try:
            await OutboxMessage.all().delete()
            for kind, key in rows:
                await OutboxMessage.create(kind=kind, dedupe_key=key, payload={})
        finally:
            await close_db()

    asyncio.run(go())


def test_check_config_names_pending_rows_of_a_kind_with_no_handler(env, database_url, capsys):
    # given pending transfers and robot pushes in the database
    _with_outbox_rows(database_url, (OutboxKind.transfer, "transfer:1"), (OutboxKind.transfer, "transfer:2"),
                      (OutboxKind.robot_push, "push:1"))
    # when everything is wired, the same rows are no problem
    code, out = _run(capsys, "check-config")
    assert code == 0 and "配置可用" in out and "发件箱" not in out
    # but with the transfer handler gone (a dropped wiring line)
    wire_services()
    handler = outbox._handlers.pop(OutboxKind.transfer.value)
    try:
        code, out = _run(capsys, "check-config")
    finally:
        outbox.register_handler(OutboxKind.transfer, handler)
    # then the command names the kind and its count, and fails
    assert code == 1, out
    assert "发件箱有待发送的消息没有处理函数" in out and "  - transfer: 2 条" in out
    assert "robot_push" not in out and "配置可用" not in out
    _with_outbox_rows(database_url)


def test_check_config_without_a_database_skips_the_outbox(monkeypatch, tmp_path, capsys):
    # given a fresh machine: the SQLite file does not exist yet (migrate creates it)
    monkeypatch.setenv("HUITUAN_DATABASE_URL", f"sqlite://{tmp_path / 'none.sqlite3'}")
    code, out = _run(capsys, "check-config")
    # then the configuration is still checked, the outbox is skipped, and no file was created
    assert code == 0 and "跳过发件箱检查" in out and "配置可用" in out
    assert not (tmp_path / "none.sqlite3").exists()


def test_check_config_with_an_unreachable_database_says_so(monkeypatch, capsys):
    monkeypatch.setenv("HUITUAN_DATABASE_URL", "postgres://nobody:x@127.0.0.1:1/none")
    code, out = _run(capsys, "check-config")
    assert code == 0 and "数据库无法打开，跳过发件箱检查" in out
