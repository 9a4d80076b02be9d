"""Where the time of one join, one ballot and one close goes, with N members in the meeting
(cProfile, in process, on the services: no sockets). For the realtime benchmark's closing notes.

    .venv/bin/python bench/live_profile.py                  # 2,000 members, SQLite
    .venv/bin/python bench/live_profile.py --db postgres    # on PostgreSQL (a fresh database, dropped after)

It seeds a running meeting of N members with everyone checked in and a named and a secret poll in
which everyone but one has voted, then profiles: the last member's join (`live.join` + `live.state`,
what `meeting.join` runs), their ballot (`polls.cast`), the close of the named poll and of the secret
poll (with the time at which each publishes its result)."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.realtime import POSTGRES_URL, pg_admin  # noqa: E402

told: list[float] = []  # when a close published its result


async def profiled(label: str, action: Callable[[], Awaitable[Any]], top: int) -> Any:
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    told.clear()
    profile.enable()
    result = await action()
    profile.disable()
    elapsed = (time.perf_counter() - t0) * 1000
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
    when = f", result published after {(told[-1] - t0) * 1000:.1f} ms" if told else ""
    print(f"\n=== {label}: {elapsed:.1f} ms (under the profiler){when} ===")
    print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip())[:6000])
    return result


async def main(args: argparse.Namespace) -> None:
    from backend import migrate
    from backend.config import normalise_database_url
    from backend.db import Database
    from backend.services import ballot_seal, live, polls
    from backend.services.context import Actor, Live
    from backend.services.events import Coalescer, NullBus
    from backend.services.presence import MemoryPresence
    from bench.realtime import seed

    pg_name = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "postgres":
            pg_name = f"ecabinet_prof_{uuid.uuid4().hex[:8]}"
            await pg_admin(f'CREATE DATABASE "{pg_name}"')
            url = normalise_database_url(f"{POSTGRES_URL.rsplit('/', 1)[0]}/{pg_name}")
        else:
            url = normalise_database_url(f"sqlite:///{tmp}/prof.sqlite3")
        try:
            await asyncio.to_thread(migrate.upgrade, url)
            seeded = await seed(url, args.members)
            db = Database(url)
            seal = ballot_seal.BallotSeal(secrets.token_bytes(32))
            class Told(NullBus):  # when the result is published: what the room waits for
                async def publish(self, event: str, data: dict[str, Any], *, room: str) -> None:
                    if event == "poll.closed":
                        told.append(time.perf_counter())

            ctx = Live(db=db, bus=Told(), presence=MemoryPresence(), progress=Coalescer(0.25), seal=seal)
            from sqlmodel import select

            from backend.models import Participant, User

            async with db.read() as s:
                rows = (await s.exec(select(User.id, User.username).join(
                    Participant, Participant.user_id == User.id).where(
                    Participant.meeting_id == seeded.meeting_id).order_by(User.id))).all()
            actors = [Actor(user_id=uid, username=name, is_admin=False, is_secretariat=False, body_id=None)
                      for uid, name in rows]
            chair, members = actors[0], actors[1:]
            # Everyone but the last joins (checks in), in storms as the tablets do.
            await asyncio.gather(*(live.join(ctx, a, seeded.meeting_id, f"sid{a.user_id}") for a in members[:-1]))
            named = (await polls.create(ctx, chair, seeded.meeting_id, {"question": "Named?"}))["id"]
            secret = (await polls.create(ctx, chair, seeded.meeting_id, {"question": "Secret?", "secret": True}))["id"]
            await polls.open_poll(ctx, chair, named)
            await asyncio.gather(*(polls.cast(ctx, a, named, "yes") for a in members[:-1]))
            await ctx.progress.drain()
            await profiled(f"close of a named poll of {len(members) - 1} ballots (polls.close)",
                           lambda: polls.close(ctx, chair, named), args.top)
            await polls.open_poll(ctx, chair, secret)
            await asyncio.gather(*(polls.cast(ctx, a, secret, "no") for a in members[:-1]))
            last = members[-1]

            async def join() -> Any:
                await live.join(ctx, last, seeded.meeting_id, "sid-last")
                return await live.state(ctx, last, seeded.meeting_id)

            await profiled(f"one join at {args.members} (live.join + live.state)", join, args.top)
            await profiled(f"one ballot at {args.members} (polls.cast, secret)",
                           lambda: polls.cast(ctx, last, secret, "yes"), args.top)
            await profiled(f"close of a secret poll of {args.members} ballots (polls.close)",
                           lambda: polls.close(ctx, chair, secret), args.top)
            await ctx.progress.drain()
            await db.dispose()
        finally:
            if pg_name:
                await pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=2000)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--top", type=int, default=25, help="lines of each profile")
    asyncio.run(main(p.parse_args()))
