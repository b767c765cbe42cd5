"""Tortoise ORM setup. The same code runs on SQLite (embedded) and PostgreSQL (production).

Tortoise keeps its state in a ContextVar; we init it ourselves with the global fallback so
that aiohttp handlers, APScheduler jobs and background tasks all see the same connections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

from tortoise import Tortoise

APP_LABEL = "models"  # the label in relation strings such as "models.User", not a module path


def _pooled_connection_class() -> type:
    import asyncpg

    class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
        """A pooled PostgreSQL connection returned without asyncpg's reset statement.

        asyncpg resets every connection on release with one more round trip (``SELECT
        pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``): for an ORM read outside a
        transaction that doubles the round trips, and in a flash-sale burst the winners' orders
        waited on it. We never leave session state behind: locks are transaction-scoped
        (``pg_advisory_xact_lock``), settings too (``SET TRANSACTION``), no LISTEN, no cursors
        outside a transaction (tests/core/test_db_session_state.py keeps it so). An open
        transaction is still rolled back on release (asyncpg does that before this query)."""

        def get_reset_query(self) -> str:
            return ""

    return PooledConnection


class UnsupportedDatabaseUrl(ValueError):
    """The database URL names neither sqlite:// nor postgres://."""


@dataclass(frozen=True)
class ModelApp:
    """The model modules and their migrations package, handed in by whoever opens the
    database (``huituan.models.MODEL_APP``): core knows no module of ours above it."""

    modules: tuple[ModuleType, ...]
    migrations: ModuleType


def tortoise_config(database_url: str, app: ModelApp, pool_max: int = 20) -> dict[str, Any]:
    if database_url.startswith("sqlite://"):
        path = database_url[len("sqlite://"):]
        if path not in (":memory:", "") and os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        connection: dict[str, Any] = {
            "engine": "tortoise.backends.sqlite",
            "credentials": {"file_path": path, "journal_mode": "WAL", "foreign_keys": "ON"},
        }
    elif database_url.startswith(("postgres://", "postgresql://")):
        u = urlparse(database_url)
        connection = {
            "engine": "tortoise.backends.asyncpg",
            "credentials": {
                "host": u.hostname or "127.0.0.1",
                "port": u.port or 5432,
                "user": u.username or "postgres",
                "password": u.password or "",
                "database": (u.path or "/huituan").lstrip("/"),
                "minsize": 1,
                "maxsize": pool_max,
                "connection_class": _pooled_connection_class(),
            },
        }
    else:
        raise UnsupportedDatabaseUrl(f"unsupported database url: {database_url.split('@')[-1][:80]}")
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": [m.__name__ for m in app.modules],
                "default_connection": "default",
                "migrations": app.migrations.__name__,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(database_url: str, app: ModelApp, pool_max: int = 20) -> None:
    await Tortoise.init(config=tortoise_config(database_url, app, pool_max), _enable_global_fallback=True)


async def close_db() -> None:
    # Tortoise.close_connections also clears the global fallback context, so the next
    # init in this process (tests, CLI commands) starts clean.
    await Tortoise.close_connections()


async def migrate_db(database_url: str, app: ModelApp) -> None:
    """Bring the database to the head migration (idempotent)."""
    from tortoise.migrations.api import migrate

    await migrate(config=tortoise_config(database_url, app))


async def pending_model_changes(app: ModelApp, database_url: str = "sqlite://:memory:", *,
                                write: bool = False) -> list[str]:
    """Names of the migrations ``makemigrations`` would write now (empty: the committed
    migrations describe the models exactly); ``write=True`` writes them. Reads only the
    migration files and the models, not the database."""
    from tortoise.context import TortoiseContext
    from tortoise.migrations.autodetector import MigrationAutodetector

    config = tortoise_config(database_url, app)
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        detector = MigrationAutodetector(ctx.apps, config["apps"])
        writers = await detector.changes()
    if write:
        for w in writers:
            w.write()
    return [f"{w.app_label}.{w.name}" for w in writers]
