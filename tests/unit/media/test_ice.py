"""TURN REST credentials (draft-uberti-behave-turn-rest, coturn's use-auth-secret), checked against values
computed here independently with the standard library."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from media.ice import IceServer, check_url, ice_servers, turn_credential

SECRET = "Bi-mat-chung-voi-coturn-2026"
NOW = 1_796_300_000.75  # 2026-12-03, with a fraction: the expiry is whole seconds


def _expected(secret: str, username: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def test_the_credential_is_base64_of_hmac_sha1_of_the_username_that_starts_with_its_expiry() -> None:
    username, credential = turn_credential(SECRET, "42", ttl=3600, now=NOW)
    assert username == "1796303600:42"
    assert credential == _expected(SECRET, "1796303600:42")
    # The same, fixed: `echo -n 1796303600:42 | openssl dgst -sha1 -hmac "$SECRET" -binary | base64`.
    assert credential == "68kYV4RACYaBdI8nadHw9gPkKNY="
    # Another secret, another person or another moment: another credential.
    assert turn_credential("another-secret-of-16", "42", ttl=3600, now=NOW)[1] != credential
    assert turn_credential(SECRET, "43", ttl=3600, now=NOW)[1] != credential
    assert turn_credential(SECRET, "42", ttl=3600, now=NOW + 1)[0] == "1796303601:42"


def test_the_expiry_follows_the_injected_clock_and_the_lifetime() -> None:
    for now, ttl in [(0.0, 60), (NOW, 600), (NOW + 86_399.9, 86_400)]:
        username, _ = turn_credential(SECRET, "relay", ttl=ttl, now=now)
        assert username == f"{int(now) + ttl}:relay"


def test_a_name_with_a_colon_is_refused() -> None:
    with pytest.raises(ValueError, match="may not hold ':'"):
        turn_credential(SECRET, "1:2", ttl=60, now=NOW)


def test_only_turn_servers_get_credentials_and_all_of_one_person_share_them() -> None:
    urls = ["stun:stun.example.gov.vn", "turn:turn.example.gov.vn:3478?transport=udp",
            "turns:turn.example.gov.vn:5349?transport=tcp"]
    servers = ice_servers(urls, secret=SECRET, name="7", ttl=600, now=NOW)
    credential = _expected(SECRET, "1796300600:7")
    assert servers == [IceServer(urls[0]), IceServer(urls[1], "1796300600:7", credential),
                       IceServer(urls[2], "1796300600:7", credential)]
    assert [s.as_dict() for s in servers] == [
        {"urls": urls[0]},
        {"urls": urls[1], "username": "1796300600:7", "credential": credential},
        {"urls": urls[2], "username": "1796300600:7", "credential": credential}]
    # Without a secret nothing is added (the settings refuse TURN URLs then; a library caller may not).
    assert ice_servers(urls, secret="", name="7", ttl=600, now=NOW) == [IceServer(u) for u in urls]


@pytest.mark.parametrize("url", ["stun:stun.example.gov.vn", "stun:10.0.0.5:3478", "turn:turn.example.gov.vn",
                                 "turn:10.0.0.5:3478?transport=tcp", "turns:turn.example.gov.vn:443?transport=tcp"])
def test_stun_and_turn_urls_pass(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize("url", ["http://turn.example.gov.vn", "turn:", "turn:host:port", "turn:a b",
                                 "stun:host?transport=tcp", "turn:host:0", "turn:[::1]:3478"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="STUN|TURN|turn:|stun:|port"):
        check_url(url)
