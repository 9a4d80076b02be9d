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


async def check(db: Database, redis_url: str) -> Literal["ok", "not_configured"]:
    """Raises ServiceUnavailable (503) naming what does not answer."""
    try:
        async with asyncio.timeout(_TIMEOUT_S), db.read() as s:
            await s.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise ServiceUnavailable(f"the database does not answer: {type(exc).__name__}") from exc
    if not redis_url:
        return "not_configured"
    client = aioredis.from_url(redis_url, socket_connect_timeout=_TIMEOUT_S, socket_timeout=_TIMEOUT_S)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable(f"Redis does not answer: {type(exc).__name__}") from exc
    finally:
        await client.aclose()
    return "ok"
