"""The fixtures of the bridge's tests against Janus: two private Janus instances in a network namespace
of the module's own (tests/support/janus.py), and the real server with ECABINET_MEDIA_BACKEND=janus on
both (sites spread over them, the floor and the chair forwarded between them). A test module imports
`janus` and `server` from here; pytest then gives its tests (its own or re-collected ones) this server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from backend import migrate
from backend.db import Database
from backend.services import users
from tests.integration import conftest as integration
from tests.integration.conftest import ADMIN_PASSWORD, Server, serving
from tests.support.janus import JanusNetwork, janus_network


@pytest.fixture(scope="module")
def janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusNetwork]:
    # Two instances: the bridge spreads the sites over them and forwards the floor and the chair between them.
    with janus_network(tmp_path_factory.mktemp("janus-bridge"), count=2) as network:  # in a namespace of its own
        yield network


@pytest.fixture(scope="module")
async def server(janus: JanusNetwork, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("data-janus")
    url = f"sqlite+aiosqlite:///{data_dir / 'test.sqlite3'}"
    settings = replace(integration.test_settings(data_dir, url), media_backend="janus",
                       janus_urls=tuple(each.url for each in janus.instances),
                       media_host_addresses=janus.peer_addresses)  # the test peers, in this process
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    await users.create(db, None, {"username": "admin", "full_name": "Quản trị", "password": ADMIN_PASSWORD,
                                  "is_admin": True})
    try:
        async with serving(settings, db) as base_url:
            yield Server(base_url=base_url, settings=settings, db=db, backend="sqlite")
    finally:
        await db.dispose()
