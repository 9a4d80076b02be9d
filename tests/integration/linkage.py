"""What an administrator holding the database files, the WAL or a backup can learn about who chose what
in a secret poll: the attacks of issue 12 (finding 3), written as analyses the tests run on real copies.

Each analysis names, for the voters it can, the choice it believes they made; the tests compare that
with the truth (every voter picks a different option, so a right guess is a real link). Order-based
analyses (byte offset, ctid, dump order) only give a sequence of choices, matched position by position
against the order of voting, both ways round."""

from __future__ import annotations

import sqlite3
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg


@dataclass
class Findings:
    """Per analysis: how many voters it links to their true choice, out of how many ballots it saw."""

    linked: dict[str, tuple[int, int]] = field(default_factory=dict)
    residue: list[str] = field(default_factory=list)
    """Values of deleted rows (ballot ids, sealed ballots) still readable after close."""

    def add_pairs(self, name: str, pairs: Sequence[tuple[int, str]], truth: dict[int, str]) -> None:
        self.linked[name] = (sum(truth.get(pid) == choice for pid, choice in pairs), len(pairs))

    def add_order(self, name: str, order: Sequence[str], truth_order: Sequence[str]) -> None:
        forward = sum(a == b for a, b in zip(order, truth_order, strict=False))
        backward = sum(a == b for a, b in zip(reversed(order), truth_order, strict=False))
        self.linked[name] = (max(forward, backward), len(order))

    def beyond_chance(self) -> dict[str, tuple[int, int]]:
        """Analyses that did better than chance: any sure pair (commit, xmin) names a voter's choice;
        an order matching more than half the positions happens by chance with probability < 1e-4 for
        12 ballots (fixed points of a random permutation follow Poisson(1))."""
        out = {}
        for name, (right, seen) in self.linked.items():
            limit = 0 if name.endswith("pairs") else seen // 2
            if right > limit:
                out[name] = (right, seen)
        return out


# --- SQLite -----------------------------------------------------------------------------------------

def _rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return list(con.execute(sql, args))
    except sqlite3.OperationalError:
        return []  # the table does not exist in this state of the file
    finally:
        con.close()


def _state(image: bytes, poll_id: int) -> tuple[set[int], Counter[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.sqlite3"
        path.write_bytes(image)
        voters = {r[0] for r in _rows(path, "SELECT participant_id FROM poll_voters WHERE poll_id = ?", poll_id)}
        choices = Counter(r[0] for r in _rows(path, "SELECT choice FROM secret_ballots WHERE poll_id = ?", poll_id))
    return voters, choices


def wal_commits(db: bytes, wal: bytes) -> Iterator[bytes]:
    """The database file as it stood after each commit in the WAL (replaying its frames in order)."""
    if len(wal) < 32:
        return
    page_size = int.from_bytes(wal[8:12], "big")
    salt = wal[16:24]
    image = bytearray(db)
    pos = 32
    while pos + 24 + page_size <= len(wal):
        header = wal[pos:pos + 24]
        if header[8:16] != salt:
            break
        pgno, commit = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
        offset = (pgno - 1) * page_size
        if len(image) < offset + page_size:
            image.extend(bytes(offset + page_size - len(image)))
        image[offset:offset + page_size] = wal[pos + 24:pos + 24 + page_size]
        if commit:
            del image[commit * page_size:]
            yield bytes(image)
        pos += 24 + page_size


def sqlite_commit_replay(db: bytes, wal: bytes, poll_id: int) -> list[tuple[int, str]]:
    """Pairs (voter, choice) from the commits that added exactly one voter and one ballot."""
    voters, choices = _state(db, poll_id)
    pairs = []
    for image in wal_commits(db, wal):
        now_voters, now_choices = _state(image, poll_id)
        new_voters, new_choices = now_voters - voters, now_choices - choices
        if len(new_voters) == 1 and sum(new_choices.values()) == 1:
            pairs.append((next(iter(new_voters)), next(iter(new_choices))))
        voters, choices = now_voters, now_choices
    return pairs


def sqlite_offset_order(path: Path, poll_id: int) -> list[str]:
    """The ballots' choices in the order their rows sit in the file (cells fill a page in insertion order)."""
    data = path.read_bytes()
    rows = _rows(path, "SELECT id, choice FROM secret_ballots WHERE poll_id = ?", poll_id)
    return [choice for _, choice in sorted(rows, key=lambda r: data.find(str(r[0]).encode()))]


def sqlite_secrets(path: Path, poll_id: int) -> list[str]:
    """Every ballot-bearing value of the poll in a copy (ids, sealed ballots): none may outlive the close."""
    values = [str(r[0]) for r in _rows(path, "SELECT id FROM secret_ballots WHERE poll_id = ?", poll_id)]
    for row in _rows(path, "SELECT id, sealed FROM sealed_ballots WHERE poll_id = ?", poll_id):
        values.extend(str(v) for v in row)
    return values


def analyse_sqlite(db_path: Path, copies: Path, poll_id: int, truth: list[tuple[int, str]]) -> Findings:
    """A raw copy of the file and its WAL (replayed commit by commit), and a copy made with the
    backup API (what `.backup` and `ecabinet backup` do), read by byte offset."""
    copies.mkdir(parents=True, exist_ok=True)
    wal_path = Path(f"{db_path}-wal")
    db_bytes = db_path.read_bytes()
    wal_bytes = wal_path.read_bytes() if wal_path.exists() else b""
    (copies / "raw.sqlite3").write_bytes(db_bytes)
    (copies / "raw.sqlite3-wal").write_bytes(wal_bytes)
    backup = copies / "backup.sqlite3"
    src, dst = sqlite3.connect(db_path), sqlite3.connect(backup)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    findings = Findings()
    by_voter = dict(truth)
    order = [c for _, c in truth]
    findings.add_pairs("wal commit pairs", sqlite_commit_replay(db_bytes, wal_bytes, poll_id), by_voter)
    findings.add_order("backup offset order", sqlite_offset_order(backup, poll_id), order)
    findings.add_order("raw file offset order", sqlite_offset_order(copies / "raw.sqlite3", poll_id), order)
    return findings


def sqlite_residue(db_path: Path, earlier: Sequence[str]) -> list[str]:
    wal_path = Path(f"{db_path}-wal")
    data = db_path.read_bytes() + (wal_path.read_bytes() if wal_path.exists() else b"")
    return [v for v in earlier if v.encode() in data]


# --- PostgreSQL ---------------------------------------------------------------------------------------

def _ctid(text: str) -> tuple[int, int]:
    page, item = text.strip("()").split(",")
    return int(page), int(item)


def pg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def analyse_postgres(database_url: str, poll_id: int, truth: list[tuple[int, str]]) -> Findings:
    """Transaction ids (`xmin`) shared by a voter row and a ballot row, the heap order (`ctid`), and the
    order of the rows in a `pg_dump`."""
    findings = Findings()
    by_voter = dict(truth)
    order = [c for _, c in truth]
    conn = await asyncpg.connect(pg_dsn(database_url))
    try:
        voters = await conn.fetch("SELECT xmin::text AS x, participant_id FROM poll_voters WHERE poll_id = $1", poll_id)
        ballots = await conn.fetch("SELECT xmin::text AS x, ctid::text AS c, choice FROM secret_ballots "
                                   "WHERE poll_id = $1", poll_id)
    finally:
        await conn.close()
    by_xmin: dict[str, list[int]] = {}
    for v in voters:
        by_xmin.setdefault(v["x"], []).append(v["participant_id"])
    pairs = [(by_xmin[b["x"]][0], b["choice"]) for b in ballots if len(by_xmin.get(b["x"], [])) == 1]
    findings.add_pairs("xmin pairs", pairs, by_voter)
    findings.add_order("ctid order", [b["choice"] for b in sorted(ballots, key=lambda b: _ctid(b["c"]))], order)
    findings.add_order("pg_dump order", pg_dump_choices(database_url, poll_id), order)
    return findings


def pg_dump_choices(database_url: str, poll_id: int) -> list[str]:
    dump = subprocess.run(["pg_dump", "--data-only", "--table=secret_ballots", pg_dsn(database_url)],
                          capture_output=True, text=True, timeout=60, check=True).stdout
    choices: list[str] = []
    columns: list[str] | None = None
    for line in dump.splitlines():
        if line.startswith("COPY public.secret_ballots "):
            columns = [c.strip() for c in line.split("(", 1)[1].split(")", 1)[0].split(",")]
        elif columns is not None:
            if line == "\\.":
                break
            values = dict(zip(columns, line.split("\t"), strict=True))
            if values["poll_id"] == str(poll_id):
                choices.append(values["choice"])
    return choices


async def postgres_residue(database_url: str, tables: Sequence[str]) -> list[str]:
    """Tuples still on the tables' heap pages that no live row owns (deleted or updated, not vacuumed):
    each carries the xmin of the transaction, so the voter, that wrote it."""
    conn = await asyncpg.connect(pg_dsn(database_url))
    found: list[str] = []
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        for table in tables:
            if await conn.fetchval("SELECT to_regclass($1)", table) is None:
                continue
            live = {_ctid(r["c"]) for r in await conn.fetch(f"SELECT ctid::text AS c FROM {table}")}
            pages = int(await conn.fetchval("SELECT pg_relation_size($1::regclass)", table)) // 8192
            for page in range(pages):
                for item in await conn.fetch(
                        "SELECT lp, t_xmin::text AS x FROM heap_page_items(get_raw_page($1, $2)) "
                        "WHERE t_data IS NOT NULL", table, page):
                    if (page, item["lp"]) not in live:
                        found.append(f"{table} ({page},{item['lp']}) xmin {item['x']}")
    finally:
        await conn.close()
    return found
