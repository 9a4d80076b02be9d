"""Shared test plumbing: service discovery (PostgreSQL, Redis) with skip-or-fail, free ports."""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_URL = os.environ.get("ECABINET_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ECABINET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def services_required() -> bool:
    return os.environ.get("ECABINET_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip with a clear reason, or fail when CI requires every service (ECABINET_REQUIRE_SERVICES=1)."""
    if services_required():
        pytest.fail(f"{reason} (ECABINET_REQUIRE_SERVICES=1 turns this skip into a failure)")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
