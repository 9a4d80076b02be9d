from __future__ import annotations

import pytest

from backend.config import Settings, normalise_database_url
from backend.exceptions import ConfigError


def test_demo_mode_generates_a_secret_and_defaults_to_sqlite_under_data() -> None:
    s = Settings.from_env({})
    assert s.mode == "demo" and len(s.secret_key) >= 32
    assert Settings.from_env({}).secret_key != s.secret_key
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert s.effective_database_url.endswith("data/ecabinet.sqlite3")
    assert (s.host, s.port) == ("127.0.0.1", 8000)


@pytest.mark.parametrize("secret", [None, "", "changeme", "short-secret"])
def test_production_mode_refuses_a_missing_or_weak_secret(secret: str | None) -> None:
    env = {"ECABINET_MODE": "production"}
    if secret is not None:
        env["ECABINET_SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="ECABINET_SECRET_KEY"):
        Settings.from_env(env)


def test_production_mode_starts_with_a_real_secret_and_secure_cookies() -> None:
    s = Settings.from_env({"ECABINET_MODE": "production", "ECABINET_SECRET_KEY": "x" * 20 + "y7Gq" * 5,
                           "DATABASE_URL": "postgres://u:p@db/ecabinet", "REDIS_URL": "redis://r:6379/0"})
    assert s.secure_cookies is True
    assert s.effective_database_url == "postgresql+asyncpg://u:p@db/ecabinet"
    assert s.redis_url == "redis://r:6379/0"
    assert "secret_key" not in repr(s)


@pytest.mark.parametrize(("env", "name"), [({"ECABINET_PORT": "http"}, "ECABINET_PORT"),
                                           ({"ECABINET_MODE": "staging"}, "ECABINET_MODE"),
                                           ({"ECABINET_LOGIN_LOCK_AFTER": "ten"}, "ECABINET_LOGIN_LOCK_AFTER")])
def test_bad_values_are_named_in_the_error(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://h/db", "postgresql+asyncpg://h/db"),
    ("postgres://h/db", "postgresql+asyncpg://h/db"),
    ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
])
def test_database_urls_pick_the_async_drivers(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected
