"""The fixtures of the bridge's tests against Janus: two private Janus instances in a network namespace
of the module's own (tests/support/janus.py), and the real server with ECABINET_MEDIA_BACKEND=janus on
both (sites spread over them, the floor and the chair forwarded between them). A test module imports
`janus` and `server` from here; pytest then gives its tests (its own or re-collected ones) this server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.integration import conftest as integration
from tests.integration.conftest import Server
from tests.support.janus import JanusNetwork, janus_network


@pytest.fixture(scope="module")
def janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusNetwork]:
    # Two instances: the bridge spreads the sites over them and forwards the floor and the chair between them.
    with janus_network(tmp_path_factory.mktemp("janus-bridge"), count=2) as network:  # in a namespace of its own
        yield network


@pytest.fixture(scope="module")
async def server(janus: JanusNetwork, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    # media_host_addresses: where the test's peers (in this process) are reached from Janus's namespace.
    async with integration.serve("sqlite", tmp_path_factory.mktemp("data-janus"), media_backend="janus",
                                 janus_urls=tuple(each.url for each in janus.instances),
                                 media_host_addresses=janus.peer_addresses) as running:
        yield running
