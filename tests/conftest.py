"""Test harness: a real database and Redis, the whole app served on a loopback port with the
WeChat sandbox mounted, so the real signing, encryption and parsing code runs in every test.

Backend by HUITUAN_TEST_BACKEND:
- ``postgres``: HUITUAN_TEST_DATABASE_URL and HUITUAN_TEST_REDIS_URL must be set (make test
  starts both servers); missing URLs fail the run instead of skipping it.
- ``sqlite`` (default): an SQLite file and ``memory://`` Redis.
"""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from aiohttp.test_utils import TestClient, TestServer

from huituan.core.settings import Settings

BACKEND = os.environ.get("HUITUAN_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgres"):
    raise pytest.UsageError(f"HUITUAN_TEST_BACKEND must be sqlite or postgres, not {BACKEND!r}")
if BACKEND == "postgres" and not (os.environ.get("HUITUAN_TEST_DATABASE_URL") and os.environ.get("HUITUAN_TEST_REDIS_URL")):
    raise pytest.UsageError(
        "HUITUAN_TEST_BACKEND=postgres needs HUITUAN_TEST_DATABASE_URL and HUITUAN_TEST_REDIS_URL (run `make test`)"
    )

TEST_SECRET = "test-secret-key-0123456789abcdef-0123456789"


# A test that does not touch the backend under test (the CLI in subprocesses with settings of its
# own, the wheel): both passes would run the same thing twice, so it runs once, in the SQLite pass.
# The time matters: `make test` runs the suite twice and must stay well under 15 minutes.
BACKEND_INDEPENDENT = pytest.mark.skipif(
    BACKEND != "sqlite", reason="backend-independent: runs once, in the SQLite pass of `make test`"
)


def pytest_report_header(config):
    return f"huituan backend: {BACKEND}"


def pytest_collection_modifyitems(config, items):
    if BACKEND == "postgres":
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only: runs in the postgres pass of `make test`")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _reset_schema(database_url: str) -> None:
    from tortoise import Tortoise, connections

    from huituan.core.db import close_db, init_db
    from huituan.models import MODEL_APP

    await init_db(database_url, MODEL_APP)
    conn = connections.get("default")
    if database_url.startswith("postgres"):
        await conn.execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    await Tortoise.generate_schemas(safe=False)
    await close_db()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if BACKEND == "postgres":
        url = os.environ["HUITUAN_TEST_DATABASE_URL"]
    else:
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    asyncio.run(_reset_schema(url))
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ["HUITUAN_TEST_REDIS_URL"] if BACKEND == "postgres" else "memory://"


@pytest.fixture
def make_settings(database_url, redis_url):
    """Settings for a test app; keyword overrides win."""

    def _make(**overrides) -> Settings:
        port = overrides.pop("port", None) or free_port()
        values = dict(
            env="test",
            port=port,
            public_base_url=f"http://127.0.0.1:{port}",
            database_url=database_url,
            redis_url=redis_url,
            secret_key=TEST_SECRET,
            log_json=False,
            jobs_enabled=False,
            product_cache_seconds=0,
            # no quiet hours unless a test sets them: the suite runs at any hour
            quiet_hours_start="00:00",
            quiet_hours_end="00:00",
        )
        values.update(overrides)
        return Settings(**values)

    return _make


_PG_WIPE: str | None = None  # the clearing script, built once per run (tables and sequences)


async def wipe_state(rt) -> None:
    """Empty every table and the Redis db so each test starts clean."""
    from tortoise import Tortoise, connections

    global _PG_WIPE
    conn = connections.get("default")
    tables = sorted({m._meta.db_table for app in Tortoise.apps.values() for m in app.values()})
    if BACKEND == "postgres":
        # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE of ~50 tables (new files
        # for each) took ~300 ms per test, half the PostgreSQL pass. Foreign keys are not
        # checked while clearing (replica role: the test database's superuser) and every
        # sequence starts again at 1, as RESTART IDENTITY did.
        if _PG_WIPE is None:
            rows = await conn.execute_query_dict("SELECT relname FROM pg_class WHERE relkind = 'S'")
            _PG_WIPE = ("SET session_replication_role = replica;"
                        + "".join(f'DELETE FROM "{t}";' for t in tables)
                        + "".join(f"""SELECT setval('"{r['relname']}"', 1, false);""" for r in rows)
                        + "SET session_replication_role = DEFAULT;")
        await conn.execute_script(_PG_WIPE)
    else:
        await conn.execute_script(
            "PRAGMA foreign_keys=OFF;" + "".join(f'DELETE FROM "{t}";' for t in tables)
            + "DELETE FROM sqlite_sequence;" + "PRAGMA foreign_keys=ON;"
        )
    await rt.redis.flushdb()


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture
async def server(settings, request):
    """The whole app (API, admin, bot, sandbox) on a loopback port, state wiped.

    Afterwards `huituan ledger verify` must pass (every test that moved money leaves an exact
    ledger); a test that corrupts the ledger on purpose is marked ``ledger_tampered``."""
    from huituan.app import create_app
    from huituan.core.web.keys import RUNTIME_KEY

    app = create_app(settings)
    srv = TestServer(app, host="127.0.0.1", port=settings.port)
    await srv.start_server()
    await wipe_state(app[RUNTIME_KEY])
    yield srv
    try:
        if not getattr(srv, "_ledger_checked", False):
            await _verify_ledger_after(request, srv)
    finally:
        await srv.close()


async def _verify_ledger_after(request, srv) -> None:
    """`huituan ledger verify` on what the test left (before the app closes the database)."""
    from huituan.services import outbox
    from huituan.services.wallet.verify import verify_ledger

    srv._ledger_checked = True
    await outbox.wait_idle()
    if request.node.get_closest_marker("ledger_tampered") is None:
        problems = await verify_ledger()
        assert problems == [], f"huituan ledger verify failed after {request.node.nodeid}: {problems[:5]}"


@pytest.fixture
async def client(server, request):
    c = TestClient(server)
    await c.start_server()
    yield c
    try:
        await _verify_ledger_after(request, server)
    finally:
        await c.close()


@pytest.fixture
def rt(server):
    """The running app's Runtime, for calling services directly."""
    from huituan.core.web.keys import RUNTIME_KEY

    return server.app[RUNTIME_KEY]


def pytest_asyncio_loop_factories(config, item):
    """The loop the service serves on (HUITUAN_EVENT_LOOP, uvloop by default) runs the tests too."""
    from huituan.core import event_loop
    from huituan.core.settings import EventLoop

    kind = os.environ.get("HUITUAN_EVENT_LOOP", EventLoop.uvloop.value)
    return {kind: event_loop.loop_factory(kind)}
