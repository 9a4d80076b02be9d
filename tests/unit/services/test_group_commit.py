"""Group commit: what arrives while a batch is written goes together in the next batch, each caller
gets its own answer (or its own refusal), and nobody waits forever."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from backend.services.group_commit import GroupCommit


async def test_requests_arriving_during_a_batch_go_together_in_the_next_one() -> None:
    batches: list[list[int]] = []
    gate = asyncio.Event()

    async def run(items: Sequence[int]) -> list[int | Exception]:
        batches.append(list(items))
        if len(batches) == 1:
            await gate.wait()  # the first batch is "being written" while the others arrive
        return [i * 10 for i in items]

    group = GroupCommit()
    first = asyncio.create_task(group.submit("k", run, 1))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(group.submit("k", run, i)) for i in range(2, 52)]
    await asyncio.sleep(0)
    gate.set()
    assert await first == 10
    assert await asyncio.gather(*rest) == [i * 10 for i in range(2, 52)]
    assert batches == [[1], list(range(2, 52))]


async def test_each_caller_gets_its_own_refusal_and_the_others_their_results() -> None:
    async def run(items: Sequence[int]) -> list[int | Exception]:
        return [ValueError(f"no {i}") if i % 2 else i for i in items]

    group = GroupCommit()
    results = await asyncio.gather(*(group.submit("k", run, i) for i in range(6)), return_exceptions=True)
    assert results[0::2] == [0, 2, 4]
    assert [str(e) for e in results[1::2]] == ["no 1", "no 3", "no 5"]


async def test_a_failed_batch_is_every_callers_error_and_the_next_batch_runs() -> None:
    calls = 0

    async def run(items: Sequence[int]) -> list[int | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database gone")
        return list(items)

    group = GroupCommit()
    failed = await asyncio.gather(*(group.submit("k", run, i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(e, RuntimeError) for e in failed)
    assert await group.submit("k", run, 7) == 7


async def test_a_caller_that_goes_away_does_not_cancel_the_others_batch() -> None:
    gate = asyncio.Event()

    async def run(items: Sequence[int]) -> list[int | Exception]:
        await gate.wait()
        return list(items)

    group = GroupCommit()
    leaving = asyncio.create_task(group.submit("k", run, 1))
    staying = asyncio.create_task(group.submit("k", run, 2))
    await asyncio.sleep(0)
    leaving.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await staying == 2


async def test_batches_are_bounded() -> None:
    sizes: list[int] = []
    gate = asyncio.Event()

    async def run(items: Sequence[int]) -> list[int | Exception]:
        sizes.append(len(items))
        await gate.wait()
        return list(items)

    group = GroupCommit(max_batch=4)
    tasks = [asyncio.create_task(group.submit("k", run, i)) for i in range(10)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*tasks) == list(range(10))
    assert sizes == [4, 4, 2]
