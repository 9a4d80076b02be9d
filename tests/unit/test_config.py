from __future__ import annotations

import pytest

from backend.config import Settings, normalise_database_url
from backend.exceptions import ConfigError
from backend.services import auth


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
                                           ({"ECABINET_LOGIN_ADDRESS_LIMIT": "ten"}, "ECABINET_LOGIN_ADDRESS_LIMIT"),
                                           ({"ECABINET_TRUSTED_PROXIES": "10.0.0.1,nginx"},
                                            "ECABINET_TRUSTED_PROXIES"),
                                           ({"ECABINET_HSTS_SECONDS": "1y"}, "ECABINET_HSTS_SECONDS")])
def test_bad_values_are_named_in_the_error(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_production_behind_https_sends_hsts_for_a_year_and_uses_host_cookies() -> None:
    s = Settings.from_env({"ECABINET_MODE": "production", "ECABINET_SECRET_KEY": "x" * 20 + "y7Gq" * 5})
    assert s.hsts_seconds == 31_536_000
    assert (auth.session_cookie(s), auth.csrf_cookie(s)) == ("__Host-ecabinet_session", "__Host-ecabinet_csrf")


def test_the_demo_over_plain_http_sends_no_hsts_and_keeps_plain_cookie_names() -> None:
    s = Settings.from_env({})
    assert s.hsts_seconds == 0 and s.secure_cookies is False
    assert (auth.session_cookie(s), auth.csrf_cookie(s)) == ("ecabinet_session", "ecabinet_csrf")
    # Secure cookies (HTTPS) bring both, whatever the mode; HSTS may be set apart.
    https = Settings.from_env({"ECABINET_SECURE_COOKIES": "1", "ECABINET_HSTS_SECONDS": "600"})
    assert https.hsts_seconds == 600 and auth.session_cookie(https) == "__Host-ecabinet_session"


def test_no_proxy_is_trusted_unless_named() -> None:
    assert Settings.from_env({}).trusted_proxies == ()
    s = Settings.from_env({"ECABINET_TRUSTED_PROXIES": " 127.0.0.1, 10.1.2.0/24 ,::1"})
    assert s.trusted_proxies == ("127.0.0.1/32", "10.1.2.0/24", "::1/128")


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://h/db", "postgresql+asyncpg://h/db"),
    ("postgres://h/db", "postgresql+asyncpg://h/db"),
    ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
])
def test_database_urls_pick_the_async_drivers(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


def test_logs_are_json_in_production_and_text_in_demo_unless_told() -> None:
    strong = "x" * 40
    assert Settings.from_env({"ECABINET_MODE": "production", "ECABINET_SECRET_KEY": strong}).log_format == "json"
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"ECABINET_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="ECABINET_LOG_FORMAT"):
        Settings.from_env({"ECABINET_LOG_FORMAT": "xml"})


def test_metrics_are_for_loopback_by_default_and_a_token_must_be_long() -> None:
    s = Settings.from_env({})
    assert s.metrics_addresses == ("127.0.0.1/32", "::1/128") and s.metrics_token == ""
    assert "metrics_token" not in repr(Settings.from_env({"ECABINET_METRICS_TOKEN": "t" * 30}))
    assert Settings.from_env({"ECABINET_METRICS_ADDRESSES": "none"}).metrics_addresses == ()
    assert Settings.from_env({"ECABINET_METRICS_ADDRESSES": "10.1.2.3, 10.9.0.0/16"}).metrics_addresses == (
        "10.1.2.3/32", "10.9.0.0/16")
    with pytest.raises(ConfigError, match="ECABINET_METRICS_ADDRESSES"):
        Settings.from_env({"ECABINET_METRICS_ADDRESSES": "prometheus.local"})
    with pytest.raises(ConfigError, match="ECABINET_METRICS_TOKEN"):
        Settings.from_env({"ECABINET_METRICS_TOKEN": "short"})


def test_offline_copies_expire_after_72_hours_unless_configured() -> None:
    assert Settings.from_env({}).offline_hours == 72
    assert Settings.from_env({"ECABINET_OFFLINE_HOURS": "24"}).offline_hours == 24
    for bad in ("0", "-5", "trois"):
        with pytest.raises(ConfigError, match="ECABINET_OFFLINE_HOURS"):
            Settings.from_env({"ECABINET_OFFLINE_HOURS": bad})


def test_turn_credentials_are_off_by_default_and_the_secret_stays_out_of_repr() -> None:
    s = Settings.from_env({})
    assert (s.media_ice_servers, s.turn_secret, s.turn_ttl_seconds) == ((), "", 3600)
    s = Settings.from_env({"ECABINET_MEDIA_ICE_SERVERS": " stun:stun.example.gov.vn , turn:turn.example.gov.vn:3478"
                                                         "?transport=udp,turns:turn.example.gov.vn:5349?transport=tcp",
                           "ECABINET_TURN_SECRET": "Bi-mat-chung-voi-coturn-2026", "ECABINET_TURN_TTL_SECONDS": "600"})
    assert s.media_ice_servers == ("stun:stun.example.gov.vn", "turn:turn.example.gov.vn:3478?transport=udp",
                                   "turns:turn.example.gov.vn:5349?transport=tcp")
    assert s.turn_ttl_seconds == 600
    assert "Bi-mat" not in repr(s)


@pytest.mark.parametrize(("url", "says"), [
    ("https://turn.example.gov.vn", "must start with stun:, turn: or turns:"),
    ("turn.example.gov.vn:3478", "must start with stun:, turn: or turns:"),
    ("stuns:stun.example.gov.vn", "must start with stun:, turn: or turns:"),
    ("turn:turn.example.gov.vn:3478?transport=sctp", "turn:host[:port][?transport=udp|tcp]"),
    ("turn:[2001:db8::1]:3478", "IPv4"),
    ("stun:stun.example.gov.vn?transport=udp", "takes no transport"),
    ("turn:turn.example.gov.vn:70000", "port must be 1 to 65535"),
])
def test_a_bad_ice_server_url_stops_the_start_with_the_setting_and_the_url_named(url: str, says: str) -> None:
    env = {"ECABINET_MEDIA_ICE_SERVERS": f"stun:stun.example.gov.vn,{url}", "ECABINET_TURN_SECRET": "x" * 32}
    with pytest.raises(ConfigError, match="ECABINET_MEDIA_ICE_SERVERS") as raised:
        Settings.from_env(env)
    assert url in str(raised.value) and says in str(raised.value)


def test_a_turn_server_needs_the_shared_secret_and_the_secret_must_be_long() -> None:
    with pytest.raises(ConfigError, match="set ECABINET_TURN_SECRET"):
        Settings.from_env({"ECABINET_MEDIA_ICE_SERVERS": "turn:turn.example.gov.vn"})
    assert Settings.from_env({"ECABINET_MEDIA_ICE_SERVERS": "stun:stun.example.gov.vn"}).turn_secret == ""
    with pytest.raises(ConfigError, match="ECABINET_TURN_SECRET must be a random value of at least 16"):
        Settings.from_env({"ECABINET_TURN_SECRET": "changeme"})


@pytest.mark.parametrize(("raw", "says"), [("an hour", "must be a whole number, not 'an hour'"),
                                           ("59", "must be 60 to 86400, not 59"),
                                           ("86401", "must be 60 to 86400, not 86401")])
def test_the_turn_credential_lifetime_is_a_whole_number_of_seconds_in_range(raw: str, says: str) -> None:
    with pytest.raises(ConfigError, match=f"ECABINET_TURN_TTL_SECONDS {says}"):
        Settings.from_env({"ECABINET_TURN_TTL_SECONDS": raw})
    assert Settings.from_env({"ECABINET_TURN_TTL_SECONDS": "86400"}).turn_ttl_seconds == 86400


@pytest.mark.parametrize(("env", "named"), [
    ({"ECABINET_EXCHANGE_MAX_PACKAGE_BYTES": "999"}, "ECABINET_EXCHANGE_MAX_PACKAGE_BYTES"),
    ({"ECABINET_EXCHANGE_MAX_PACKAGE_BYTES": "70000000"}, "ECABINET_EXCHANGE_MAX_PACKAGE_BYTES"),
    ({"ECABINET_EXCHANGE_MAX_PACKAGE_BYTES": "lots"}, "ECABINET_EXCHANGE_MAX_PACKAGE_BYTES"),
    ({"ECABINET_EXCHANGE_PARSE_SECONDS": "0"}, "ECABINET_EXCHANGE_PARSE_SECONDS"),
    ({"ECABINET_EXCHANGE_PARSE_MEMORY_MB": "50"}, "ECABINET_EXCHANGE_PARSE_MEMORY_MB"),
    ({"ECABINET_EXCHANGE_SLOTS": "0"}, "ECABINET_EXCHANGE_SLOTS"),
    ({"ECABINET_EXCHANGE_GATEWAY_SECRET": "too-short"}, "ECABINET_EXCHANGE_GATEWAY_SECRET"),
    ({"ECABINET_EXCHANGE_TRUST_ANCHORS": "/no/such/roots.pem"}, "ECABINET_EXCHANGE_TRUST_ANCHORS"),
    ({"ECABINET_EXCHANGE_SIGNING_KEY": __file__}, "ECABINET_EXCHANGE_SIGNING_CERT"),
    ({"ECABINET_EXCHANGE_AGENCY_CODE": "001.00.00.G22"}, "ECABINET_EXCHANGE_AGENCY_CODE"),
    ({"ECABINET_EXCHANGE_INBOX_DIR": __file__}, "ECABINET_EXCHANGE_INBOX_DIR"),
    ({"ECABINET_EXCHANGE_INBOX_SECONDS": "0"}, "ECABINET_EXCHANGE_INBOX_SECONDS"),
])
def test_exchange_settings_refuse_bad_values_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)


def test_the_exchange_gateway_is_disabled_unless_a_secret_is_set() -> None:
    settings = Settings.from_env({})
    assert settings.exchange_gateway_secret == "" and settings.exchange_max_package_bytes == 64 * 1024 * 1024
    assert "s3cr3t" not in repr(Settings.from_env({"ECABINET_EXCHANGE_GATEWAY_SECRET": "s3cr3t" * 5}))


def test_the_media_backend_is_the_embedded_relay_unless_janus_is_chosen_with_its_urls() -> None:
    assert Settings.from_env({}).media_backend == "aiortc"
    chosen = Settings.from_env({"ECABINET_MEDIA_BACKEND": "Janus",
                                "ECABINET_JANUS_URLS": "http://10.0.0.5:8088/janus, http://10.0.0.6:8088/janus"})
    assert chosen.media_backend == "janus"
    assert chosen.janus_urls == ("http://10.0.0.5:8088/janus", "http://10.0.0.6:8088/janus")


@pytest.mark.parametrize(("env", "name"), [
    ({"ECABINET_MEDIA_BACKEND": "mediasoup"}, "ECABINET_MEDIA_BACKEND"),
    ({"ECABINET_MEDIA_BACKEND": "janus"}, "ECABINET_JANUS_URLS"),  # Janus, but where?
    ({"ECABINET_MEDIA_BACKEND": "janus", "ECABINET_JANUS_URLS": "ws://10.0.0.5:8188"}, "ECABINET_JANUS_URLS"),
])
def test_a_media_backend_that_cannot_work_stops_the_start(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_the_collector_thresholds_default_to_a_serving_process_s_and_can_be_python_s_or_named() -> None:
    assert Settings.from_env({}).gc_thresholds == (20_000, 10, 10)
    assert Settings.from_env({"ECABINET_GC_THRESHOLDS": "python"}).gc_thresholds == (700, 10, 10)
    assert Settings.from_env({"ECABINET_GC_THRESHOLDS": " 50000, 20,10"}).gc_thresholds == (50_000, 20, 10)
    for bad in ("20000,10", "a,b,c", "0,10,10", "-5,10,10", "1,2,3,4"):
        with pytest.raises(ConfigError, match="ECABINET_GC_THRESHOLDS"):
            Settings.from_env({"ECABINET_GC_THRESHOLDS": bad})
