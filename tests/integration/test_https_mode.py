"""What production settings (behind HTTPS) change for the browser, on SQLite and PostgreSQL: every
answer carries Strict-Transport-Security, and the cookies are `__Host-` cookies (Secure, Path=/, no
Domain), which the REST API and the Socket.IO server both read. The demo over plain HTTP keeps
neither (a browser would refuse `__Host-` cookies without Secure)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import socketio

from backend.config import Settings
from backend.db import Database
from tests.integration.conftest import Server, serving
from tests.integration.helpers import assert_error, ok

PRODUCTION = {"ECABINET_MODE": "production", "ECABINET_SECRET_KEY": "k7-" * 20}


@pytest.fixture
async def https_server(server: Server) -> AsyncIterator[str]:
    """The app with production's settings (from the environment, as an operator sets them) over the
    shared test database."""
    settings = replace(Settings.from_env(PRODUCTION), data_dir=server.settings.data_dir,
                       database_url=server.settings.database_url, login_address_limit=1_000_000)
    db = Database(settings.effective_database_url)
    async with serving(settings, db) as base_url:
        yield base_url


def _set_cookies(r: httpx.Response) -> dict[str, set[str]]:
    out = {}
    for header in r.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        out[name] = {part.strip().lower() for part in header.split(";")[1:]}
    return out


async def test_production_sends_hsts_on_every_answer(https_server: str) -> None:
    async with httpx.AsyncClient(base_url=https_server) as http:
        for path in ("/api/health", "/api/no-such-route", "/", "/api/auth/me"):
            r = await http.get(path)
            assert r.headers.get("strict-transport-security") == "max-age=31536000", (path, r.status_code)


async def test_the_demo_over_plain_http_sends_no_hsts_and_plain_cookie_names(server: Server,
                                                                             new_user: Any) -> None:
    person = await new_user("http")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post("/api/auth/login", json={"username": person.username, "password": person.password})
    ok(r)
    assert "strict-transport-security" not in r.headers
    cookies = _set_cookies(r)
    # The device cookie names this browser as a device of the account (lost tablets: devices.md).
    assert set(cookies) == {"ecabinet_session", "ecabinet_csrf", "ecabinet_device"}
    assert all("secure" not in attrs for attrs in cookies.values())


async def test_production_cookies_are_host_prefixed_secure_and_read_by_rest_and_socketio(
        https_server: str, new_user: Any) -> None:
    person = await new_user("https")
    async with httpx.AsyncClient(base_url=https_server) as http:
        r = await http.post("/api/auth/login", json={"username": person.username, "password": person.password})
        body = ok(r)
        cookies = _set_cookies(r)
        assert set(cookies) == {"__Host-ecabinet_session", "__Host-ecabinet_csrf", "__Host-ecabinet_device"}
        for attrs in cookies.values():
            assert "secure" in attrs and "path=/" in attrs and not any(a.startswith("domain=") for a in attrs)
        token = next(h.split(";")[0].split("=", 1)[1] for h in r.headers.get_list("set-cookie")
                     if h.startswith("__Host-ecabinet_session="))
        jar = {"Cookie": f"__Host-ecabinet_session={token}"}
        me = ok(await http.get("/api/auth/me", headers=jar))
        assert me["user"]["id"] == person.id and me["csrf_token"] == body["csrf_token"]
        # The old name is not read any more: a cookie planted under it over plain HTTP does nothing.
        assert_error(await http.get("/api/auth/me", headers={"Cookie": f"ecabinet_session={token}"}), 401)

        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(https_server, headers=dict(jar), transports=["websocket"], wait_timeout=5)
        assert sio.connected
        await sio.disconnect()
        plain = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await plain.connect(https_server, headers={"Cookie": f"ecabinet_session={token}"},
                                transports=["websocket"], wait_timeout=5)
        await plain.disconnect()

        out = await http.post("/api/auth/logout", headers={**jar, "X-CSRF-Token": body["csrf_token"]})
        assert out.status_code == 204, out.text
        # Deleting a __Host- cookie needs a Secure Set-Cookie too, or the browser keeps it.
        gone = _set_cookies(out)
        assert set(gone) == {"__Host-ecabinet_session", "__Host-ecabinet_csrf"}
        assert all("secure" in attrs and "max-age=0" in attrs for attrs in gone.values())
