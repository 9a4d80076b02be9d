"""The pure parts of login throttling: the wait, what counts as one client, the bounded table of
unknown usernames."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backend.config import Settings
from backend.services import login_throttle


def test_the_wait_doubles_from_the_threshold_up_to_the_bound() -> None:
    settings = replace(Settings(), login_slowdown_after=3, login_slowdown_max_ms=2000)
    assert [login_throttle.slowdown_ms(settings, n) for n in range(8)] == [0, 0, 0, 250, 500, 1000, 2000, 2000]


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("not-an-address", "not-an-address"),
])
def test_an_ipv6_client_counts_as_its_64_network(address: str, key: str) -> None:
    assert login_throttle.address_key(address) == key


def test_unknown_names_are_kept_in_a_bounded_table() -> None:
    names = login_throttle._UnknownNames(size=100)
    for i in range(1000):
        names.add(f"ma.{i}", 60)
    assert len(names) == 100
    assert names.failures("ma.999", 60) == 1 and names.failures("ma.0", 60) == 0
