"""The bridge's behavioural tests through the real server with ECABINET_MEDIA_BACKEND=janus: the same
Socket.IO events, the same speaker queue, the same refusals, with a private Janus in a
network namespace of the test's own (tests/support/janus.py) carrying the media instead of the embedded
aiortc relay. The tests are those of test_bridge.py, collected again here where `server` is a server
whose bridge uses Janus.

Not repeated here: the control room's bitrate and frame figures (Janus keeps its own, in its Admin API,
which e-Cabinet does not read yet: see docs/bridge.md)."""

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
from tests.integration.media.test_bridge import (  # noqa: F401 (collected here again, against Janus)
    test_bad_signalling_gets_a_clear_error,
    test_the_speaker_queue_decides_what_every_site_receives,
)
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
