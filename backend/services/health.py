"""Liveness of what the service depends on: the database, and Redis when it is configured."""

from __future__ import annotations

import asyncio
from typing import Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

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
