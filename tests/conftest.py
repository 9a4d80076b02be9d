"""Shared test plumbing: service discovery (PostgreSQL, Redis) with skip-or-fail, free ports."""

from __future__ import annotations

import os
import random
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


def _ephemeral_floor() -> int:
    try:
        return int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind (a TIME_WAIT is no use)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> int:
    """The first of `count` consecutive ports free on 127.0.0.1, below the kernel's ephemeral range: a port
    the kernel hands to an outgoing connection (this suite holds hundreds) stays in use while it lasts, and
    a server started on it later fails to bind (a worker of the deployment tests never came up that way)."""
    floor = _ephemeral_floor()
    if floor - count > 10_000:
        for _ in range(500):
            first = random.randrange(10_000, floor - count)
            if all(_bindable(first + i) for i in range(count)):
                return first
    with socket.socket() as s:  # a machine with an odd port range: any port the kernel gives
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port() -> int:
    return free_ports(1)
