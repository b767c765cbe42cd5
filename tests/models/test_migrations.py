"""The committed migrations build, from an empty database, exactly the schema the models
describe: same tables, same columns. Runs the real `huituan migrate` on both backends."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse

import asyncpg

from huituan.core.db import pending_model_changes
from huituan.models import MODEL_APP
from tests.conftest import BACKEND

ROOT = Path(__file__).resolve().parents[2]


def _columns_sqlite(path: str) -> dict[str, set[str]]:
    import sqlite3

    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: {r[1] for r in con.execute(f'PRAGMA table_info("{t}")')}
            for t in tables
            if not t.startswith(("sqlite_", "tortoise_"))
        }
    finally:
        con.close()


async def _columns_postgres(url: str) -> dict[str, set[str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema='public'"
        )
    finally:
        await conn.close()
    out: dict[str, set[str]] = {}
    for r in rows:
        if not r["table_name"].startswith("tortoise_"):
            out.setdefault(r["table_name"], set()).add(r["column_name"])
    return out


def _migrate(database_url: str) -> None:
    env = dict(os.environ, HUITUAN_DATABASE_URL=database_url, HUITUAN_ENV="test")
    result = subprocess.run(
        [sys.executable, "-m", "huituan.cli", "migrate"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_models_have_no_unmigrated_changes():
    assert await pending_model_changes(MODEL_APP) == [], "run `huituan makemigrations` and commit the result"


async def test_migrate_from_empty_database_builds_the_model_schema(database_url, tmp_path):
    if BACKEND == "postgres":
        u = urlparse(database_url)
        admin = database_url
        name = f"huituan_mig_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        fresh = u._replace(path=f"/{name}").geturl()
        try:
            await asyncio.to_thread(_migrate, fresh)
            await asyncio.to_thread(_migrate, fresh)  # a second run is a no-op
            migrated = await _columns_postgres(fresh)
            expected = await _columns_postgres(database_url)
        finally:
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
    else:
        fresh_path = tmp_path / "fresh.sqlite3"
        await asyncio.to_thread(_migrate, f"sqlite://{fresh_path}")
        await asyncio.to_thread(_migrate, f"sqlite://{fresh_path}")
        migrated = _columns_sqlite(str(fresh_path))
        expected = _columns_sqlite(database_url[len("sqlite://"):])
    assert migrated == expected
