"""Liveness of what the service depends on."""

from __future__ import annotations

from sqlalchemy import text

from backend.db import Database


async def check(db: Database) -> None:
    async with db.read() as s:
        await s.exec(text("SELECT 1"))  # type: ignore[call-overload]
