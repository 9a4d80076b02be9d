"""/api/health reports the database and, when REDIS_URL is set, the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
import uvicorn

from backend.app import create_app
from backend.db import Database
from tests.conftest import REDIS_URL, free_port, port_open, unavailable
from tests.integration.conftest import Server


async def _serve(app: object) -> AsyncIterator[str]:
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        await task


@pytest.fixture
def redis_required() -> None:
    if not port_open("127.0.0.1", 6379):
        unavailable("Redis is not running on 127.0.0.1:6379")


async def test_health_without_redis_says_not_configured(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.get("/api/health")
    assert r.status_code == 200
    assert r.json()["database"] == "ok" and r.json()["redis"] == "not_configured"


async def test_health_pings_the_real_redis(server: Server, redis_required: None) -> None:
    settings = replace(server.settings, redis_url=REDIS_URL)
    db = Database(settings.effective_database_url)
    async for base in _serve(create_app(settings, db=db)):
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.get("/api/health")
    await db.dispose()
    assert r.status_code == 200, r.text
    assert r.json()["redis"] == "ok"


async def test_health_answers_503_when_redis_does_not(server: Server) -> None:
    settings = replace(server.settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    db = Database(settings.effective_database_url)
    async for base in _serve(create_app(settings, db=db)):
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.get("/api/health")
    await db.dispose()
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "unavailable" and "Redis" in r.json()["error"]["message"]
