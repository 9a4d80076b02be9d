"""`ecabinet backup FILE` and `ecabinet restore FILE`: one archive holding a consistent snapshot of the
database and of the data directory's files (the content-addressed file store and the development PKI).

The database is dumped row by row, portably (JSON lines, the same on SQLite and PostgreSQL), from one
snapshot: on SQLite a copy made with SQLite's online backup API (never a copy of the file, which a
writer may be changing), on PostgreSQL one REPEATABLE READ, read-only transaction. The dump is taken
only when no secret poll is open, checked inside that snapshot: an open secret poll's sealed ballots
are the only rows that could say in which order its ballots were cast (services/ballot_seal.py), and
after the close they are written out in random order. The file store is append-only (files are named
by their SHA-256 and never changed or deleted), so copying it after the snapshot gives every file the
snapshot refers to.

The archive is a gzipped tar: MANIFEST.json first (format, schema revision, tables with their columns,
row counts and SHA-256, files), then `database/<table>.jsonl`, `files/ab/cdef...` and `pki/...`.
Restore reads the whole archive and checks every member against the manifest before it writes
anything; it refuses an instance that holds any data, migrates a never-migrated database to the
archive's revision, loads every table in one transaction, puts the files in place, then migrates to
the current revision."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from backend import migrate
from backend.config import Settings

FORMAT = "ecabinet-backup"
FORMAT_VERSION = 1
MANIFEST = "MANIFEST.json"
# Rows that are not worth keeping and better not restored: logins (everyone signs in again after a
# restore) and the failed-login counters.
EPHEMERAL_TABLES = frozenset({"auth_sessions", "login_throttle", "login_address_throttle"})
_BATCH = 500


class BackupError(ValueError):
    """Why a backup or a restore was refused; `code` for scripts, `message` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Summary:
    revision: str
    """The archive's schema revision (Alembic)."""
    rows: dict[str, int]
    """Rows per table."""
    files: int
    """Files of the file store and the PKI directory."""


# --- backup ------------------------------------------------------------------------------------------

def backup(settings: Settings, target: Path) -> Summary:
    """Write the archive to `target` (whole or not at all: it is written beside it, then renamed)."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ecabinet-backup-", dir=target.parent) as work:
        tables, revision = _snapshot(settings, Path(work))
        entries = [*_store_entries(settings.data_dir / "files", "files"),
                   *_store_entries(settings.effective_pki_dir, "pki")]
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "schema_revision": revision,
            "created_at": datetime.now(UTC).isoformat(), "source_dialect": _dialect(settings),
            "tables": tables,
            "files": [{"path": name, "sha256": digest, "size": size} for name, _, digest, size in entries],
        }
        partial = target.with_name(f".{target.name}.partial")
        try:
            with open(partial, "wb") as raw:
                with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                    _add_bytes(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
                    for table in tables:
                        tar.add(Path(work) / f"{table['name']}.jsonl", arcname=f"database/{table['name']}.jsonl")
                    for name, path, _, _ in entries:
                        tar.add(path, arcname=name)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return Summary(revision, {t["name"]: t["rows"] for t in tables}, len(entries))


def _snapshot(settings: Settings, work: Path) -> tuple[list[dict[str, Any]], str]:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        source = Path(url.split(":///", 1)[1])
        if not source.exists():
            raise BackupError("no_database", f"there is no database at {source}")
        copy = work / "snapshot.sqlite3"
        src, dst = sqlite3.connect(source, timeout=30), sqlite3.connect(copy)
        try:
            src.backup(dst)  # one step: a consistent copy while the workers go on writing
        finally:
            src.close()
            dst.close()
        dumped: tuple[list[dict[str, Any]], str] = _on(f"sqlite+aiosqlite:///{copy}", lambda c: _dump(c, work), {})
        copy.unlink()
        return dumped
    snapshot: tuple[list[dict[str, Any]], str] = _on(
        url, lambda c: _dump(c, work), {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
    return snapshot


def _dump(conn: Connection, work: Path) -> tuple[list[dict[str, Any]], str]:
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None:
        raise BackupError("not_migrated", "the database has no schema yet (run `ecabinet migrate`)")
    _refuse_open_secret_polls(conn)
    tables = []
    for table in _tables(conn):
        columns = _columns(table)
        digest, rows = hashlib.sha256(), 0
        with open(work / f"{table.name}.jsonl", "wb") as out:
            if table.name not in EPHEMERAL_TABLES:
                query = sa.select(*columns).order_by(*(table.primary_key.columns or columns))
                for row in conn.execution_options(yield_per=_BATCH).execute(query):
                    line = json.dumps([_encode(v) for v in row], ensure_ascii=False).encode() + b"\n"
                    out.write(line)
                    digest.update(line)
                    rows += 1
        tables.append({"name": table.name, "columns": [c.name for c in columns], "rows": rows,
                       "sha256": digest.hexdigest()})
    return tables, revision


def _refuse_open_secret_polls(conn: Connection) -> None:
    polls = sa.table("polls", sa.column("id"), sa.column("secret"), sa.column("status"))
    open_ids = conn.execute(sa.select(polls.c.id).where(polls.c.secret == sa.true(), polls.c.status == "open")
                            .order_by(polls.c.id)).scalars().all()
    sealed = conn.execute(sa.text("SELECT count(*) FROM sealed_ballots")).scalar_one()
    if open_ids or sealed:
        which = ", ".join(str(i) for i in open_ids) or "?"
        raise BackupError("secret_poll_open",
                          f"a secret poll is open (poll {which}): a backup now could hold its ballots in the "
                          "order they were cast. Run the backup again once the poll is closed.")


def _store_entries(root: Path, prefix: str) -> list[tuple[str, Path, str, int]]:
    """(name in the archive, path, sha256, size) of every file under root, in a stable order. Files
    being written (`.incoming-*`) are not there yet for the database either."""
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith(".incoming-"):
            rel = path.relative_to(root).as_posix()
            found.append((f"{prefix}/{rel}", path, _sha256_file(path), path.stat().st_size))
    return found


# --- restore -----------------------------------------------------------------------------------------

def restore(settings: Settings, source: Path) -> Summary:
    """Restore the archive into this (empty) instance."""
    url = settings.effective_database_url
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ecabinet-restore-", dir=data_dir) as work:
        manifest = _unpack(source, Path(work))
        revision = str(manifest["schema_revision"])
        scripts = ScriptDirectory.from_config(migrate.alembic_config(url))
        if not _known(scripts, revision):
            raise BackupError("unknown_revision",
                              f"the archive's schema is revision {revision}, which this version of e-Cabinet "
                              "does not know: restore it with the version that made it")
        _refuse_data_files(settings)
        if url.startswith("sqlite"):
            Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        current = _on(url, lambda c: MigrationContext.configure(c).get_current_revision(), {})
        if current is None:
            migrate.upgrade(url, revision)
        elif current != revision:
            raise BackupError("revision_differs",
                              f"this database is at schema revision {current}, the archive at {revision}: "
                              "restore into a database that was never migrated (restore migrates it to the "
                              "archive's revision, loads it, then migrates it to the current one)")
        _on(url, lambda c: _load(c, manifest, Path(work)), {})
        for kind, dest in (("files", settings.data_dir / "files"), ("pki", settings.effective_pki_dir)):
            if (Path(work) / kind).is_dir():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(Path(work) / kind, dest)
    migrate.upgrade(url)
    return Summary(revision, {t["name"]: t["rows"] for t in manifest["tables"]}, len(manifest["files"]))


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except Exception:  # noqa: BLE001 (alembic raises several kinds for an unknown or malformed id)
        return False


def _unpack(source: Path, work: Path) -> dict[str, Any]:
    """Extract and check every member against the manifest; the manifest."""
    try:
        with tarfile.open(source, mode="r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST:
                raise BackupError("bad_archive", f"{source} is not an e-Cabinet backup (no {MANIFEST} first)")
            manifest = _manifest(source, _read_member(tar, first))
            expected = {f"database/{t['name']}.jsonl": t["sha256"] for t in manifest["tables"]}
            expected.update({f["path"]: f["sha256"] for f in manifest["files"]})
            seen: set[str] = set()
            while (member := tar.next()) is not None:
                if member.name not in expected or not member.isfile() or member.name in seen:
                    raise BackupError("bad_archive", f"{source}: unexpected member {member.name!r}")
                data = _read_member(tar, member)
                if hashlib.sha256(data).hexdigest() != expected[member.name]:
                    raise BackupError("bad_archive", f"{source}: {member.name} is damaged (checksum differs)")
                dest = work / member.name.removeprefix("database/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
                seen.add(member.name)
    except FileNotFoundError as exc:
        raise BackupError("bad_archive", f"cannot read {source}: no such file") from exc
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BackupError("bad_archive", f"{source} is not a complete e-Cabinet backup (truncated or not a "
                                         f"gzipped tar archive: {exc})") from exc
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError("bad_archive", f"{source} is incomplete (truncated?): {len(missing)} members missing, "
                                         f"first {missing[0]}")
    return manifest


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    if f is None:
        raise BackupError("bad_archive", f"unexpected member {member.name!r}")
    return f.read()


def _manifest(source: Path, raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise BackupError("bad_archive", f"{source}: its manifest is not JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("bad_archive", f"{source} is not an e-Cabinet backup")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError("bad_archive", f"{source} is in backup format {manifest.get('format_version')}; "
                                         f"this version reads format {FORMAT_VERSION}")
    for f in manifest.get("files", []):
        path = str(f.get("path", ""))
        if not path.startswith(("files/", "pki/")) or ".." in Path(path).parts or path.startswith("/"):
            raise BackupError("bad_archive", f"{source}: refusing the file name {path!r}")
    return manifest


def _refuse_data_files(settings: Settings) -> None:
    for where in (settings.data_dir / "files", settings.effective_pki_dir):
        if where.is_dir() and any(p.is_file() for p in where.rglob("*")):
            raise BackupError("not_empty", f"{where} already holds files: restore only into an empty instance")


def _load(conn: Connection, manifest: dict[str, Any], work: Path) -> None:
    tables = {t.name: t for t in _tables(conn)}
    for name, table in tables.items():
        if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None:
            raise BackupError("not_empty", f"the database already holds data (table {name}): restore only into "
                                           "an empty instance")
    sqlite = conn.dialect.name == "sqlite"
    for entry in manifest["tables"]:
        found = tables.get(entry["name"])
        if found is None or not set(entry["columns"]) <= set(found.columns.keys()):
            raise BackupError("schema_differs", f"table {entry['name']} of the archive does not match this database")
        table = found
        columns = [table.columns[c] for c in entry["columns"]]
        batch: list[dict[str, Any]] = []
        for values in _lines(work / f"{entry['name']}.jsonl"):
            batch.append({c.name: _decode(v, c.type, sqlite) for c, v in zip(columns, values, strict=True)})
            if len(batch) >= _BATCH:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)
        if not sqlite:
            _advance_sequences(conn, table)


def _advance_sequences(conn: Connection, table: sa.Table) -> None:
    """Explicit ids do not move PostgreSQL's sequences: set each past the largest id restored."""
    for column in table.primary_key.columns:
        if isinstance(column.type, sa.Integer):
            seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": table.name, "c": column.name}).scalar()
            if seq:
                conn.execute(sa.text(f'SELECT setval(:s, coalesce((SELECT max("{column.name}") FROM '
                                     f'"{table.name}"), 0) + 1, false)'), {"s": seq})


def _lines(path: Path) -> Iterator[list[Any]]:
    with open(path, "rb") as f:
        for line in f:
            yield json.loads(line)


# --- shared ------------------------------------------------------------------------------------------

def _tables(conn: Connection) -> list[sa.Table]:
    """The application's tables, parents before children (search indexes are rebuilt, not copied)."""
    meta = sa.MetaData()
    meta.reflect(bind=conn)
    return [t for t in meta.sorted_tables
            if t.name != "alembic_version" and not t.name.startswith(("document_pages_fts", "sqlite_"))]


def _columns(table: sa.Table) -> list[sa.Column[Any]]:
    """Stored columns (PostgreSQL's generated search vector is computed again)."""
    return [c for c in table.columns if c.computed is None and c.name != "fts_vector"]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decode(value: Any, type_: sa.types.TypeEngine[Any], sqlite: bool) -> Any:
    if value is None:
        return None
    if isinstance(type_, sa.DateTime):
        moment = datetime.fromisoformat(value).astimezone(UTC)
        return moment.replace(tzinfo=None) if sqlite else moment  # as the app stores it (models/base.py)
    if isinstance(type_, sa.Date):
        return date.fromisoformat(value)
    if isinstance(type_, sa.LargeBinary):
        return base64.b64decode(value)
    if isinstance(type_, sa.Numeric) and isinstance(value, str):
        return Decimal(value)
    return value


def _on(url: str, work: Callable[[Connection], Any], options: dict[str, Any]) -> Any:
    """Run `work` on one connection in one transaction (committed if it returns)."""
    async def go() -> Any:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                conn = await conn.execution_options(**options) if options else conn
                async with conn.begin():
                    return await conn.run_sync(work)
        finally:
            await engine.dispose()
    return asyncio.run(go())


def _dialect(settings: Settings) -> str:
    return "sqlite" if settings.effective_database_url.startswith("sqlite") else "postgresql"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
