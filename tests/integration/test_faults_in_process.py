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
from backend.config import Settings
from backend.db import is_unavailable
from backend.exceptions import InsufficientStorage
from backend.services.files import FileStore
from tests.conftest import free_port, unavailable


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
