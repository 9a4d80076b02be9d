"""The two fault answers on their own, quickly (the deployment runs them again behind nginx on three
workers: test_deploy_faults.py): a database that cannot be reached is a 503 `database_unavailable`, not a
500 with a traceback; a full disk is a 507 `disk_full` and leaves no half-written file."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings, normalise_database_url
from backend.db import Database, is_busy, is_unavailable, unavailable_error
from backend.exceptions import InsufficientStorage
from backend.services.files import FileStore
from tests.conftest import POSTGRES_URL, free_port, unavailable


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "store"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "ecabinet-test-store", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_full_disk_refuses_the_file_with_507_and_keeps_nothing_of_it(full_disk: Path) -> None:
    store = FileStore(full_disk / "files")
    small = await store.put(b"%PDF-1.7 small")
    with pytest.raises(InsufficientStorage) as refused:
        await store.put(b"x" * 400_000)
    assert refused.value.status == 507 and refused.value.code == "disk_full"
    assert [p.name for p in full_disk.rglob("*") if p.is_file()] == [small[2:]], "no partial file is left"
    assert await store.get(small) == b"%PDF-1.7 small"


async def test_a_database_out_of_reach_answers_503_not_500(tmp_path: Path) -> None:
    # Nothing listens on this port: every connection is refused, as when PostgreSQL is stopped.
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    settings = replace(Settings.from_env({"ECABINET_DATA_DIR": str(tmp_path)}), database_url=url)
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        r = await http.get("/api/meetings/1", headers={"Authorization": "Bearer a-token-of-someone"})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "database_unavailable"
        assert r.headers["retry-after"] == "5"
        r = await http.post("/api/auth/tokens", json={"username": "thuky", "password": "x" * 12})
        assert (r.status_code, r.json()["error"]["code"]) == (503, "database_unavailable")


def test_only_errors_of_reach_count_as_the_database_unavailable() -> None:
    assert is_unavailable(ConnectionRefusedError(111, "refused"))
    assert not is_unavailable(ValueError("a wrong statement"))
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = ConnectionResetError()
    assert is_unavailable(wrapped)


async def test_every_connection_busy_answers_503_database_busy_not_500(tmp_path: Path) -> None:
    # A reconnect storm on PostgreSQL: every pooled connection is in use longer than the pool waits (here
    # one connection, held by the test, and a 0.2 s wait). The 500-tablet soak saw tracebacks and
    # "internal" answers here; the tablet must be told to try again instead.
    url = normalise_database_url(POSTGRES_URL)
    db = Database(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    settings = replace(Settings.from_env({"ECABINET_DATA_DIR": str(tmp_path)}), database_url=url)
    app = create_app(settings, db=db)
    try:
        async with db.engine.connect() as held:
            try:
                await held.exec_driver_sql("SELECT 1")
            except OSError as exc:
                unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
                r = await http.get("/api/meetings/1", headers={"Authorization": "Bearer a-token-of-someone"})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "database_busy"
        assert r.headers["retry-after"] == "2"
    finally:
        await db.dispose()


def test_a_pool_that_waited_too_long_is_busy_not_down() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    assert is_busy(PoolTimeout("QueuePool limit of size 10 overflow 20 reached"))
    refusal = unavailable_error(PoolTimeout("QueuePool limit reached"))
    assert refusal is not None and (refusal.status, refusal.code) == (503, "database_busy")
    down = unavailable_error(ConnectionRefusedError(111, "refused"))
    assert down is not None and down.code == "database_unavailable"
    assert unavailable_error(ValueError("a wrong statement")) is None
