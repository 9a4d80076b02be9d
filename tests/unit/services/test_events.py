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


def test_a_room_push_slows_down_only_above_500_tablets_and_never_past_two_seconds() -> None:
    from backend.services.events import room_interval

    assert room_interval(0.25, 30) == 0.25 and room_interval(0.25, 500) == 0.25
    assert room_interval(0.25, 2000) == 1.0  # four times a second for a cabinet, once for an assembly
    assert room_interval(1.0, 1000) == 2.0 and room_interval(1.0, 10_000) == 2.0
    assert room_interval(5.0, 10_000) == 5.0  # a slow push is never made faster


async def test_a_paced_key_runs_at_its_own_interval() -> None:
    runs: list[float] = []
    coalescer = Coalescer(0.01)
    loop = asyncio.get_running_loop()

    async def action() -> None:
        runs.append(loop.time())

    coalescer.pace("room", 0.3)
    for _ in range(3):
        coalescer.trigger("room", action)
        await coalescer.drain()
    assert len(runs) == 3 and runs[2] - runs[0] >= 0.55, runs


async def test_a_cancelled_key_does_not_run_but_can_be_triggered_again() -> None:
    runs: list[str] = []
    coalescer = Coalescer(0.05)

    async def action() -> None:
        runs.append("ran")

    coalescer.trigger("poll", action)
    coalescer.trigger("poll", action)  # coalesced into the first, which has not started (it waits)
    coalescer.cancel("poll")
    await coalescer.drain()
    await asyncio.sleep(0.1)
    assert runs == []
    coalescer.trigger("poll", action)
    await coalescer.drain()
    assert runs == ["ran"]
