"""Issue 16, item 6: `ecabinet backup FILE` while the server runs and `ecabinet restore FILE` into an empty
instance, on SQLite and PostgreSQL: the same meetings, documents, ballots, signed records (still
verifying) and an audit chain that still verifies; no backup while a secret poll is open; no restore
into an instance that holds data; a damaged or foreign archive is refused with a clear message."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import tarfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from backend.db import Database
from backend.services import audit
from tests.integration.conftest import Client, Server, _drop_postgres, _fresh_postgres, serve, serving
from tests.integration.helpers import ok
from tests.integration.test_cli import ecabinet
from tests.integration.test_documents_api import upload
from tests.integration.test_records_api import PASSPHRASE, RESOLUTION, _credential
from tests.integration.test_secret_ballots_at_rest import _join, _secret_poll
from tests.support.sample_pdfs import sample_pdf

_SLOW = 900  # seconds a command may take on a loaded machine (never a measure of speed)
# Tables a document download writes to (the reads going on during the backup); compared as a prefix.
_BUSY = {"audit_log", "document_copies", "document_readers", "auth_sessions", "login_throttle",
         "login_address_throttle", "notifications"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """A server of this module's own: a backup is refused while any secret poll of the instance is open,
    so these tests do not share the session's server with tests that leave polls open."""
    async with serve(request.param, tmp_path_factory.mktemp(f"backup-{request.param}")) as running:
        yield running


def _env(server: Server) -> dict[str, str]:
    return {"DATABASE_URL": server.db.url}


@asynccontextmanager
async def _empty_instance(backend: str, data_dir: Path) -> AsyncIterator[dict[str, str]]:
    """A data directory and a database nobody has used: what `ecabinet restore` expects."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        yield {"DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'restored.sqlite3'}"}
        return
    name, url = await _fresh_postgres()
    try:
        yield {"DATABASE_URL": url}
    finally:
        await _drop_postgres(name)


async def _rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    def read(conn: sa.Connection) -> dict[str, list[tuple[Any, ...]]]:
        meta = sa.MetaData()
        meta.reflect(bind=conn)
        out = {}
        for t in meta.sorted_tables:
            if t.name == "alembic_version" or t.name.startswith("document_pages_fts"):
                continue
            cols = [c for c in t.columns if c.name != "fts_vector"]
            out[t.name] = [tuple(r) for r in conn.execute(sa.select(*cols).order_by(*t.primary_key.columns))]
        return out

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


def _same_rows(source: dict[str, list[tuple[Any, ...]]], restored: dict[str, list[tuple[Any, ...]]]) -> None:
    assert set(source) == set(restored)
    for name, rows in source.items():
        if name in ("auth_sessions", "login_throttle", "login_address_throttle"):
            assert restored[name] == [], f"{name}: logins are not restored"
        elif name in _BUSY:  # written on while the backup ran: the snapshot is a prefix of the source
            assert restored[name] == rows[:len(restored[name])], name
        else:
            assert restored[name] == rows, name


async def _backup(server: Server, target: Path) -> Any:
    return await asyncio.to_thread(ecabinet, server.settings.data_dir, "backup", str(target), extra_env=_env(server),
                                   timeout=_SLOW)


async def _restore(data_dir: Path, env: dict[str, str], archive: Path) -> Any:
    return await asyncio.to_thread(ecabinet, data_dir, "restore", str(archive), extra_env=env, timeout=_SLOW)


async def _a_full_meeting(server: Server, world: dict[str, Any], live_factory: Any) -> dict[str, Any]:
    """Documents (two versions of one), a named and a secret poll closed, a resolution reviewed, signed
    and published."""
    people, mid = world["people"], world["meeting_id"]
    sec = people["secretary"].client
    doc = ok(await upload(sec, mid, sample_pdf(3, seed=31, text=lambda n: f"Tờ trình quy hoạch đất đai trang {n}"),
                          title="Tờ trình quy hoạch"), 201)
    doc = ok(await sec.post(f"/api/documents/{doc['id']}/versions",
                            files={"file": ("v2.pdf", sample_pdf(2, seed=32), "application/pdf")}), 201)
    chair = await _join(live_factory, people["chair"], mid)
    voters = [await _join(live_factory, people[k], mid) for k in ("member", "member2")]
    named = await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua Nghị quyết về đầu tư công?"})
    named_id = named["poll"]["id"]
    assert (await chair.call("poll.open", {"poll_id": named_id}))["ok"]
    for voter, choice in zip([chair, *voters], ["yes", "yes", "no"], strict=True):
        assert (await voter.call("vote.cast", {"poll_id": named_id, "choice": choice}))["ok"]
    assert (await chair.call("poll.close", {"poll_id": named_id}))["ok"]
    secret_id = await _secret_poll(chair, mid)
    for voter, choice in zip([chair, *voters], ["yes", "no", "abstain"], strict=True):
        assert (await voter.call("vote.cast", {"poll_id": secret_id, "choice": choice}))["ok"]
    closed = await chair.call("poll.close", {"poll_id": secret_id})
    assert closed["ok"] and closed["poll"]["result"]["total_ballots"] == 3

    sec_cred = await _credential(server, people["secretary"].username)
    chair_cred = await _credential(server, people["chair"].username)
    record = ok(await sec.post(f"/api/meetings/{mid}/records", json={**RESOLUTION, "poll_id": named_id}), 201)
    ok(await sec.post(f"/api/records/{record['id']}/review", json={"credential_id": sec_cred, "secret": PASSPHRASE}))
    ok(await people["chair"].client.post(f"/api/records/{record['id']}/sign",
                                         json={"credential_id": chair_cred, "secret": PASSPHRASE}))
    ok(await sec.post(f"/api/records/{record['id']}/publish"))
    return {"doc": doc, "record": record, "polls": [named_id, secret_id]}


async def test_a_backup_taken_while_serving_restores_the_same_instance(
        server: Server, session_world: dict[str, Any], live_factory: Any, tmp_path: Path) -> None:
    made = await _a_full_meeting(server, session_world, live_factory)
    people, mid = session_world["people"], session_world["meeting_id"]
    member = people["member"].client
    record_pdf = (await member.get(f"/api/records/{made['record']['id']}/pdf")).content
    polls = ok(await member.get(f"/api/meetings/{mid}/polls"))

    archive = tmp_path / "ecabinet-backup.tar.gz"
    reading = True

    async def read_on() -> int:  # members keep reading (each copy writes its audit entry) during the backup
        n = 0
        while reading:
            assert (await member.get(f"/api/documents/{made['doc']['id']}/view")).status_code == 200
            n += 1
        return n

    reader = asyncio.create_task(read_on())
    done = await _backup(server, archive)
    reading = False
    assert await reader > 0
    assert done.returncode == 0, done.stderr
    assert "backup written" in done.stdout
    assert [p.name for p in tmp_path.iterdir()] == [archive.name], "nothing but the archive is left"
    source_rows = await _rows(server.db)

    async with _empty_instance(server.backend, tmp_path / "restored") as env:
        restored = await _restore(tmp_path / "restored", env, archive)
        assert restored.returncode == 0, restored.stderr
        settings = replace(server.settings, data_dir=tmp_path / "restored", database_url=env["DATABASE_URL"])
        db = Database(settings.effective_database_url)
        try:
            _same_rows(source_rows, await _rows(db))
            intact, entries, broken = await audit.verify_chain(db)
            assert intact and broken is None and entries > 0
            async with serving(settings, db) as base_url:
                again = Client(Server(base_url, settings, db, server.backend))
                try:
                    assert (await again.login(people["member"].username, people["member"].password)).status_code == 200
                    assert ok(await again.get(f"/api/meetings/{mid}/polls")) == polls
                    docs = ok(await again.get(f"/api/meetings/{mid}/documents"))
                    assert [(d["id"], d["current_version"]) for d in docs] == [(made["doc"]["id"], 2)]
                    assert (await again.get(f"/api/documents/{made['doc']['id']}/view")).status_code == 200
                    # The search index is built again from the restored pages.
                    found = ok(await again.get("/api/search", params={"q": "quy hoach dat dai"}))
                    assert found, "the restored pages are searchable"
                    signed = await again.get(f"/api/records/{made['record']['id']}/pdf")
                    assert signed.content == record_pdf
                    report = ok(await again.get(f"/api/records/{made['record']['id']}/verification"))
                    assert report["valid"] is True and len(report["signatures"]) == 1
                finally:
                    await again.close()
        finally:
            await db.dispose()
        # The project's verifier, on the restored instance's trust roots (its restored development CA).
        pdf = tmp_path / "restored-record.pdf"
        pdf.write_bytes(record_pdf)
        verified = await asyncio.to_thread(ecabinet, tmp_path / "restored", "verify", str(pdf), extra_env=env,
                                           timeout=_SLOW)
        assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_no_backup_while_a_secret_poll_is_open(
        server: Server, session_world: dict[str, Any], live_factory: Any, tmp_path: Path) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    member = await _join(live_factory, people["member"], mid)
    poll_id = await _secret_poll(chair, mid)
    assert (await member.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}))["ok"]
    archive = tmp_path / "during.tar.gz"
    refused = await _backup(server, archive)
    assert refused.returncode == 1
    assert "secret poll is open" in refused.stderr and f"poll {poll_id}" in refused.stderr, refused.stderr
    assert list(tmp_path.iterdir()) == [], "no archive and no partial file"
    assert (await chair.call("poll.close", {"poll_id": poll_id}))["ok"]
    after = await _backup(server, archive)
    assert after.returncode == 0, after.stderr


async def test_restore_refuses_an_instance_that_holds_data(server: Server, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar.gz"
    assert (await _backup(server, archive)).returncode == 0
    before = await _rows(server.db)
    into_itself = await _restore(server.settings.data_dir, _env(server), archive)
    assert into_itself.returncode == 1
    assert "restore only into an empty instance" in into_itself.stderr, into_itself.stderr
    assert await _rows(server.db) == before
    # Only the database holds data (a fresh data directory): refused all the same, nothing written.
    fresh = tmp_path / "fresh"
    refused = await _restore(fresh, _env(server), archive)
    assert refused.returncode == 1 and "table" in refused.stderr and "empty instance" in refused.stderr
    assert await _rows(server.db) == before
    assert not (fresh / "files").exists()


def _rewrite(archive: Path, out: Path, change: Any) -> None:
    """A copy of `archive` with each member passed through change(name, data) -> data or None (dropped)."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            f = src.extractfile(member)
            data = change(member.name, f.read() if f else b"")
            if data is not None:
                info = tarfile.TarInfo(member.name)
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))


async def test_a_damaged_or_foreign_archive_is_refused_clearly(server: Server, tmp_path: Path) -> None:
    archive = tmp_path / "good.tar.gz"
    assert (await _backup(server, archive)).returncode == 0
    whole = archive.read_bytes()
    bad: dict[str, Path] = {}
    for name, data in {"truncated": whole[:len(whole) // 2], "garbage": b"not a backup at all\n" * 10,
                       "plain-gzip": gzip.compress(b"hello")}.items():
        bad[name] = tmp_path / f"{name}.tar.gz"
        bad[name].write_bytes(data)
    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        info = tarfile.TarInfo("README")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    bad["foreign"] = foreign

    def tamper(name: str, data: bytes) -> bytes:
        return data.replace(b"Ph", b"Xh", 1) if name == "database/meetings.jsonl" else data

    def newer(name: str, data: bytes) -> bytes:
        if name != "MANIFEST.json":
            return data
        return json.dumps({**json.loads(data), "schema_revision": "9999_from_the_future"}).encode()

    def drop_files(name: str, data: bytes) -> bytes | None:
        return None if name.startswith("files/") else data

    for label, change in {"tampered": tamper, "newer": newer, "missing-files": drop_files}.items():
        bad[label] = tmp_path / f"{label}.tar.gz"
        _rewrite(archive, bad[label], change)

    expected = {"truncated": "truncated", "garbage": "not a gzipped tar", "plain-gzip": "not a complete",
                "foreign": "not an e-Cabinet backup", "tampered": "damaged", "newer": "does not know",
                "missing-files": "incomplete"}
    for label, path in bad.items():
        async with _empty_instance(server.backend, tmp_path / f"target-{label}") as env:
            out = await _restore(tmp_path / f"target-{label}", env, path)
            assert out.returncode == 1, (label, out.stdout, out.stderr)
            assert "Traceback" not in out.stderr and expected[label] in out.stderr, (label, out.stderr)
            assert not (tmp_path / f"target-{label}" / "files").exists(), label
            if server.backend == "sqlite":
                assert not Path(env["DATABASE_URL"].split(":///", 1)[1]).exists(), "the database was not touched"
