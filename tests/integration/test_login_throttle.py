"""Failed-login throttling, on SQLite and PostgreSQL: a stranger's wrong guesses slow an account down but
never lock its owner out; an address that keeps failing is refused (429, Retry-After) before any
password is checked; X-Forwarded-For counts only from a configured proxy; unknown usernames leave no
throttle row. Each test runs its own server (over the shared database) with tight limits, behind a
"proxy" on loopback so that it can speak from many client addresses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlmodel import func, select

from backend.config import Settings
from backend.db import Database
from backend.models import LoginAddressThrottle, LoginThrottle
from backend.services import login_throttle, passwords
from tests.integration.conftest import Server, serving, unique
from tests.integration.helpers import assert_error, ok

LIMIT = 5
_addresses = iter(range(1, 1_000_000))


def new_address() -> str:
    """A documentation address (TEST-NET-2) nobody else in the test session uses."""
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


@asynccontextmanager
async def throttled_server(server: Server, **overrides: Any) -> AsyncIterator[tuple[str, Settings]]:
    tight: dict[str, Any] = {"trusted_proxies": ("127.0.0.1/32",), "login_address_limit": LIMIT,
                             "login_slowdown_after": 2, "login_slowdown_max_ms": 40, "login_lock_seconds": 60}
    settings = replace(server.settings, **{**tight, **overrides})
    db = Database(server.settings.effective_database_url)
    async with serving(settings, db) as base_url:
        yield base_url, settings


async def _login(http: httpx.AsyncClient, username: str, password: str, address: str | None,
                 path: str = "/api/auth/login") -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    return await http.post(path, json={"username": username, "password": password}, headers=headers)


@pytest.fixture
def argon2_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password check the server makes (it runs in this process), by password."""
    seen: list[str] = []
    real = passwords.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        seen.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counting)
    return seen


async def test_a_strangers_twenty_wrong_guesses_never_lock_the_owner_out(server: Server, new_user: Any) -> None:
    chair = await new_user("chu-toa")
    stranger, office = new_address(), new_address()
    async with throttled_server(server) as (base_url, _), httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        answers = [(await _login(http, chair.username, f"doan-mo-{i}-2026", stranger)).status_code
                   for i in range(20)]
        assert answers == [401] * LIMIT + [429] * (20 - LIMIT)
        # The chair, from the office, gets in with the right password (after the account's short wait)...
        ok(await _login(http, chair.username, chair.password, office))
        r = await _login(http, chair.username, chair.password, office, "/api/auth/tokens")
        assert r.status_code == 201, r.text
        # ...while the stranger's address stays refused even with the right password.
        refused = await _login(http, chair.username, chair.password, stranger)
        assert_error(refused, 429, "login_throttled")
        assert 1 <= int(refused.headers["retry-after"]) <= 61


async def test_an_address_that_failed_too_often_is_refused_before_any_password_is_checked(
        server: Server, new_user: Any, argon2_checks: list[str]) -> None:
    person = await new_user("bi-doan")
    guesser = new_address()
    async with throttled_server(server) as (base_url, _), httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        for i in range(LIMIT):
            assert_error(await _login(http, person.username, f"sai-{i}-mat-khau", guesser), 401, "invalid_credentials")
        checked = len(argon2_checks)
        for path in ("/api/auth/login", "/api/auth/tokens"):
            for password in ("sai-nua-mat-khau", person.password):
                r = await _login(http, person.username, password, guesser, path)
                assert_error(r, 429, "login_throttled")
                assert "retry-after" in r.headers and not r.headers.get_list("set-cookie")
        other = await _login(http, unique("khong-co."), "sai-mat-khau-1", guesser)
        assert_error(other, 429, "login_throttled")
        assert len(argon2_checks) == checked  # refused attempts cost no argon2 time


async def test_x_forwarded_for_from_a_client_that_is_not_a_trusted_proxy_is_ignored(
        server: Server, new_user: Any) -> None:
    person = await new_user("gia-mao")
    await _forget_loopback(server)  # the other tests' failures from loopback must not count here
    try:
        async with throttled_server(server, trusted_proxies=()) as (base_url, _), \
                httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            # A fresh address each time would escape the limit if the header were believed: it is not, so
            # every guess counts against the real peer (loopback) and the limit holds.
            answers = [(await _login(http, person.username, "sai-mat-khau-1", new_address())).status_code
                       for _ in range(LIMIT + 1)]
        assert answers == [401] * LIMIT + [429]
        async with server.db.read() as s:
            row = await s.get(LoginAddressThrottle, "127.0.0.1")
        assert row is not None and row.blocked_until is not None
    finally:
        await _forget_loopback(server)  # the shared server's tests log in from loopback


async def _forget_loopback(server: Server) -> None:
    async with server.db.write() as s:
        row = await s.get(LoginAddressThrottle, "127.0.0.1")
        if row is not None:
            await s.delete(row)


async def _count(server: Server, table: Any) -> int:
    async with server.db.read() as s:
        return int((await s.exec(select(func.count()).select_from(table))).one())


async def test_a_thousand_unknown_usernames_leave_no_throttle_row(server: Server) -> None:
    before = await _count(server, LoginThrottle)
    async with throttled_server(server, login_address_limit=10_000) as (base_url, _), \
            httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        address = new_address()
        for start in range(0, 1000, 50):
            answers = await asyncio.gather(*(_login(http, unique("ma."), "sai-mat-khau-1", address)
                                             for _ in range(start, start + 50)))
            assert {r.status_code for r in answers} == {401}
    assert await _count(server, LoginThrottle) == before
    # The guessing address has one row, however many names it tried.
    async with server.db.read() as s:
        row = await s.get(LoginAddressThrottle, address)
    assert row is not None and row.failures == 1000
    assert len(login_throttle.unknown_names) <= 4096


async def test_known_and_unknown_usernames_answer_alike(server: Server, new_user: Any) -> None:
    person = await new_user("that")
    ghost = unique("ma.")
    answers: dict[str, list[tuple[int, str]]] = {}
    async with throttled_server(server) as (base_url, _), httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        for name in (person.username, ghost):
            address = new_address()
            answers[name] = [(r.status_code, r.json()["error"]["code"]) for r in
                             [await _login(http, name, "sai-mat-khau-1", address) for _ in range(LIMIT + 1)]]
    assert answers[person.username] == answers[ghost] == [(401, "invalid_credentials")] * LIMIT + [
        (429, "login_throttled")]


async def test_parallel_guesses_from_one_address_all_count(server: Server) -> None:
    """Five bursts of ten wrong passwords at once, each at one username, all from one address: every
    guess counts (no lost update), the address ends refused, and no answer is a 500."""
    names = [unique("loat.") for _ in range(5)]
    address = new_address()
    async with throttled_server(server, login_address_limit=50) as (base_url, _), \
            httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        answers = await asyncio.gather(*(_login(http, name, f"sai-{i}-mat-khau", address)
                                         for name in names for i in range(10)))
        for r in answers:
            assert r.status_code in (401, 429), r.text
            assert_error(r, r.status_code)
        after = await _login(http, names[0], "sai-mat-khau-1", address)
    assert_error(after, 429, "login_throttled")


async def test_the_accounts_failures_slow_the_next_attempts_down_and_a_success_forgets_them(
        server: Server, new_user: Any) -> None:
    person = await new_user("cham")
    async with throttled_server(server, login_slowdown_max_ms=400) as (base_url, settings), \
            httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        for _ in range(3):
            assert_error(await _login(http, person.username, "sai-mat-khau-1", new_address()), 401)
        async with server.db.read() as s:
            row = await s.get(LoginThrottle, person.username)
        assert row is not None and row.failures == 3
        assert login_throttle.slowdown_ms(settings, 3) == 400  # 250 ms doubled, capped at 400
        started = asyncio.get_running_loop().time()
        ok(await _login(http, person.username, person.password, new_address()))
        assert asyncio.get_running_loop().time() - started >= 0.4
    async with server.db.read() as s:
        assert await s.get(LoginThrottle, person.username) is None
