"""Engine and async sessions (SQLModel over SQLAlchemy async; aiosqlite or asyncpg).

Two kinds of unit of work: `db.write()` for anything that changes data and `db.read()` for the rest.
On SQLite a write transaction starts with BEGIN IMMEDIATE, so two writers queue on the file lock
instead of failing when one upgrades a read to a write.

Parameters are hidden from SQLAlchemy's logs and errors (`hide_parameters`): they hold password hashes,
sealed ballots and token hashes, and an error's text can end up in a log."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg.exceptions as pg_errors
from sqlalchemy import event
from sqlalchemy import exc as sa_errors
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.exceptions import DatabaseBusy, DatabaseUnavailable

log = logging.getLogger("ecabinet.db")
_CHECKPOINT_TRIES = 20


class Database:
    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 20,
                 pool_timeout: float = 30) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _ensure_sqlite_dir(url)
            self.engine: AsyncEngine = create_async_engine(url, echo=echo, connect_args={"timeout": 30},
                                                           hide_parameters=True)
            _configure_sqlite(self.engine)
        else:
            self.engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow,
                                              pool_timeout=pool_timeout, pool_pre_ping=True, hide_parameters=True)
        writer = self.engine.execution_options(ecabinet_write=True)
        self._reader = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._writer = async_sessionmaker(writer, class_=AsyncSession, expire_on_commit=False)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back on any exception."""
        async with self._writer() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session:
            yield session

    async def forget_deleted(self, tables: Sequence[str]) -> bool:
        """Make rows deleted from `tables` unreadable in the files, not just unlisted (secret ballots
        after their poll closed). SQLite zeroes deleted content itself (secure_delete, set on every
        connection); here its WAL, which still holds the pages as they were, is checkpointed and
        truncated. PostgreSQL keeps dead tuples, with the xmin of the transaction that wrote them,
        until VACUUM, which cannot run in a transaction: it runs on a connection of its own, after
        the commit. False if SQLite readers kept the WAL from being emptied (the next close retries)."""
        async with self.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            if not self.is_sqlite:
                await raw.execute(f"VACUUM {', '.join(tables)}")
                return True
            for _ in range(_CHECKPOINT_TRIES):
                cursor = await raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                busy = (await cursor.fetchone())[0]
                await cursor.close()
                if not busy:
                    return True
                await asyncio.sleep(0.05)  # a reader is between statements; it will not be long
        log.warning("the WAL could not be emptied after closing a secret poll: readers kept it busy")
        return False

    async def dispose(self) -> None:
        await self.engine.dispose()


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (see the "begin" hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Deleted rows are overwritten with zeros, not left in free space (sealed secret ballots).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("ecabinet_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# Errors that say the database cannot be reached now, not that a statement was wrong.
_DOWN = (pg_errors.PostgresConnectionError, pg_errors.CannotConnectNowError, pg_errors.AdminShutdownError,
         pg_errors.CrashShutdownError, pg_errors.TooManyConnectionsError, ConnectionError, TimeoutError)
_DOWN_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}


def is_busy(exc: BaseException) -> bool:
    """True when every pooled connection stayed in use for longer than the pool waits: the worker is
    overloaded now (a reconnect storm), not broken; the request may be tried again (503)."""
    return _in_chain(exc, lambda e: isinstance(e, sa_errors.TimeoutError))


def unavailable_error(exc: BaseException) -> DatabaseUnavailable | None:
    """The 503 to answer for `exc`, or None when `exc` is a real error."""
    if is_busy(exc):
        return DatabaseBusy()
    return DatabaseUnavailable() if is_unavailable(exc) else None


def _in_chain(exc: BaseException, test: Any) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if test(current):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says the database is out of reach now: stopped, restarting,
    refusing connections, the connection cut. Such a request can be tried again later (503); the worker
    carries on and its pool reconnects by itself when the database is back (pool_pre_ping)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _DOWN):
            return True
        if isinstance(current, OSError) and current.errno in _DOWN_ERRNOS:
            return True
        if isinstance(current, sa_errors.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, pg_errors.InterfaceError) and "connection is closed" in str(current):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False
