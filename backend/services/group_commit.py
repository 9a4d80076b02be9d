"""Group commit: requests that arrive while one batch is being written wait and go together in the
next batch, one transaction for all of them.

With 2,000 tablets voting within a second, one transaction per ballot queues them behind the
database (each BEGIN IMMEDIATE on SQLite, each advisory lock of the audit chain on PostgreSQL) at
~65 a second. Here the first request of a quiet moment runs at once, alone (no added delay); the
ones arriving meanwhile form the next batch, so the batch grows with the load and the number of
transactions stays small. Each caller still gets its own answer, and only once its batch has
committed: an acknowledgement never comes before the write is durable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from backend.db import unavailable_error

log = logging.getLogger("ecabinet.group_commit")

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 500
"""Requests per transaction at most (bounds a transaction's time and its IN (...) lists)."""

Run = Callable[[Sequence[T]], Awaitable[Sequence["R | Exception"]]]


class _Queue(Generic[T, R]):
    def __init__(self, run: Run[T, R]) -> None:
        self.run = run
        self.waiting: list[tuple[T, asyncio.Future[R]]] = []
        self.task: asyncio.Task[None] | None = None


class GroupCommit:
    """One queue per key (a poll, a meeting): `run` gets the items of a batch and answers, in the same
    order, each item's result or the exception to raise for it."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch
        self._queues: dict[Hashable, _Queue[Any, Any]] = {}

    async def submit(self, key: Hashable, run: Run[T, R], item: T) -> R:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue(run)
        future: asyncio.Future[R] = loop.create_future()
        queue.waiting.append((item, future))
        if queue.task is None:
            # Its own task: a caller that goes away (a dropped socket) does not cancel the others' batch.
            queue.task = loop.create_task(self._drain(key, queue))
        return await future

    async def _drain(self, key: Hashable, queue: _Queue[Any, Any]) -> None:
        try:
            while queue.waiting:
                batch, queue.waiting = queue.waiting[:self.max_batch], queue.waiting[self.max_batch:]
                try:
                    results: Sequence[Any] = await queue.run([item for item, _ in batch])
                    if len(results) != len(batch):
                        raise RuntimeError(f"a batch of {len(batch)} got {len(results)} results")
                except Exception as exc:  # nothing of the batch was written: every caller hears why
                    if unavailable_error(exc) is not None:  # the database is down or busy: 503 to each, no traceback
                        log.warning("batch of %s: database unavailable (%r)", key, exc)
                    else:
                        log.exception("batch of %s failed", key)
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the caller was cancelled
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            queue.task = None
            if not queue.waiting:
                self._queues.pop(key, None)
            else:  # cancelled while items waited: they must not hang
                for _, future in queue.waiting:
                    if not future.done():
                        future.set_exception(RuntimeError("the batch writer stopped"))
                self._queues.pop(key, None)
