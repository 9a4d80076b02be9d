"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import backend.models  # noqa: F401
from backend import migrate
from tests.integration.conftest import Server


def _diff(sync_conn: Any) -> list[Any]:
    ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True, "include_object": migrate.include_object})
    return list(compare_metadata(ctx, SQLModel.metadata))


async def test_migrated_schema_matches_the_models(server: Server) -> None:
    async with server.db.engine.connect() as conn:
        differences = await conn.run_sync(_diff)
    assert differences == []


async def test_migrating_twice_changes_nothing(server: Server) -> None:
    await asyncio.to_thread(migrate.upgrade, server.settings.effective_database_url)
    async with server.db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
