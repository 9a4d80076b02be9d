"""The deployment's Redis prefix and the process's pools (no Redis needed: nothing connects here)."""

from __future__ import annotations

import pytest

from backend.config import Settings
from backend.exceptions import ConfigError
from backend.redis_link import SUBSCRIPTION_CONNECTIONS, default_prefix, link_for


@pytest.mark.parametrize(("url", "prefix"), [("redis://r:6379/3", "ecabinet:3"), ("redis://r:6379/7", "ecabinet:7"),
                                             ("redis://r:6379", "ecabinet:0"),
                                             ("unix:///run/redis.sock?db=5", "ecabinet:5")])
def test_the_default_prefix_carries_the_database_number_because_pub_sub_ignores_it(url: str, prefix: str) -> None:
    assert default_prefix(url) == prefix


def test_every_channel_and_key_is_under_the_configured_prefix() -> None:
    settings = Settings.from_env({"REDIS_URL": "redis://r:6379/3", "ECABINET_REDIS_PREFIX": "ubnd-phu-tho",
                                  "ECABINET_REDIS_MAX_CONNECTIONS": "7"})
    link = link_for(settings.redis_url, settings.redis_prefix, settings.redis_max_connections)
    assert link is not None
    assert link.socketio_channel == "ubnd-phu-tho:socketio"
    assert link.revocations_channel == "ubnd-phu-tho:revocations"
    assert link.key("presence", 12) == "ubnd-phu-tho:presence:12"
    assert link.commands.connection_pool.max_connections == 7
    assert link.subscriptions.connection_pool.max_connections == SUBSCRIPTION_CONNECTIONS
    assert link.commands.connection_pool is not link.subscriptions.connection_pool


def test_no_redis_url_no_link() -> None:
    assert link_for("", "", 16) is None


@pytest.mark.parametrize("env", [{"ECABINET_REDIS_PREFIX": "bộ nội vụ"}, {"ECABINET_REDIS_PREFIX": "a" * 65},
                                 {"ECABINET_REDIS_MAX_CONNECTIONS": "0"}, {"ECABINET_PRESENCE_TTL_SECONDS": "1"}])
def test_bad_redis_settings_stop_the_start(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        Settings.from_env(env)
