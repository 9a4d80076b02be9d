"""WebRTC in these tests stays on 127.0.0.1: every peer of this process (the test's and the in-process
server's relay) gathers host candidates only there, never on the machine's outward address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from media import hooks


@pytest.fixture(scope="session", autouse=True)
def loopback_only() -> Iterator[None]:
    hooks.restrict_host_addresses(["127.0.0.1"])
    yield
    hooks.restrict_host_addresses([])
