from __future__ import annotations

import asyncio

from backend.services.events import Coalescer


async def test_a_burst_of_triggers_runs_the_action_a_few_times_and_always_after_the_last() -> None:
    runs: list[int] = []
    state = {"value": 0}
    coalescer = Coalescer(0.05)

    async def action() -> None:
        runs.append(state["value"])

    for i in range(1, 201):
        state["value"] = i
        coalescer.trigger("poll", action)
        if i % 20 == 0:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.12)
    await coalescer.drain()
    assert 1 <= len(runs) <= 6
    assert runs[-1] == 200  # the last run saw the final state


async def test_keys_are_independent() -> None:
    seen: list[str] = []
    coalescer = Coalescer(10)

    def make(name: str):  # type: ignore[no-untyped-def]
        async def action() -> None:
            seen.append(name)
        return action

    coalescer.trigger("a", make("a"))
    coalescer.trigger("b", make("b"))
    coalescer.trigger("a", make("a2"))
    await coalescer.drain()
    assert sorted(seen) == ["a", "b"]
