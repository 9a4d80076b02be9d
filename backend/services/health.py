"""Liveness of what the service depends on (the database, and Redis when it is configured), and
readiness: the same, plus the database's migrations and a free PDF sandbox slot."""

from __future__ import annotations

import asyncio
from typing import Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from backend.config import Settings
from backend.db import Database
from backend.exceptions import ServiceUnavailable

_TIMEOUT_S = 2.0


async def check(db: Database, redis: aioredis.Redis | None) -> Literal["ok", "not_configured"]:
    """Raises ServiceUnavailable (503) naming what does not answer."""
    try:
        async with asyncio.timeout(_TIMEOUT_S), db.read() as s:
            await s.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise ServiceUnavailable(f"the database does not answer: {type(exc).__name__}") from exc
    if redis is None:
        return "not_configured"
    try:  # through the process's pool: a health probe opens no connection of its own
        async with asyncio.timeout(_TIMEOUT_S):
            await redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        raise ServiceUnavailable(f"Redis does not answer: {type(exc).__name__}") from exc
    return "ok"


_HEAD: str | None = None
PASSING = ("ok", "not_configured", "not_checked")
"""Verdicts that do not fail readiness (the migrations are not checked while the database is down)."""


def _migrations_head() -> str:
    """The newest migration this code knows (read once: the files do not change while it runs)."""
    global _HEAD
    if _HEAD is None:
        from alembic.script import ScriptDirectory

        from backend.migrate import alembic_config

        _HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""
    return _HEAD


async def _database(db: Database) -> str | None:
    """None, or what is wrong: the database does not answer, or its schema is not this code's."""
    try:
        async with asyncio.timeout(_TIMEOUT_S), db.read() as s:
            rows = (await s.exec(text("SELECT version_num FROM alembic_version"))).all()  # type: ignore[call-overload]
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        return f"the database does not answer: {type(exc).__name__}"
    return None if [r[0] for r in rows] == [_migrations_head()] else "migrations"


async def _redis(redis: aioredis.Redis) -> str | None:
    try:  # through the process's pool, like the health check
        async with asyncio.timeout(_TIMEOUT_S):
            await redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return f"Redis does not answer: {type(exc).__name__}"
    return None


async def ready(db: Database, settings: Settings, redis: aioredis.Redis | None) -> dict[str, str]:
    """Each check's verdict ("ok", "not_configured", or what is wrong). Ready when none is wrong: the
    database answers with the schema of this code (its migrations applied), Redis answers when configured,
    and the meeting documents' PDF sandbox has a free slot (a job sent here would start at once)."""
    from backend.services import pdf_jobs

    checks: dict[str, str] = {}
    database = await _database(db)
    if database == "migrations":
        checks["database"] = "ok"
        checks["migrations"] = f"the database is not at migration {_migrations_head()}: run ecabinet migrate"
    else:
        checks["database"] = database or "ok"
        checks["migrations"] = "ok" if database is None else "not_checked"
    checks["redis"] = (await _redis(redis) or "ok") if redis is not None else "not_configured"
    pool = pdf_jobs.pool(settings, "work")
    checks["pdf_sandbox"] = "ok" if pool.free > 0 else f"every one of its {pool.slots} slots is taken"
    return checks


def is_ready(checks: dict[str, str]) -> bool:
    return all(verdict in PASSING for verdict in checks.values())
