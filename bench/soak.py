"""Soak: N members on real Socket.IO connections through a scripted two-hour session compressed into a
few minutes, on the production layout (two `ecabinet serve` workers on PostgreSQL and Redis; one
worker on SQLite when PostgreSQL is not reachable).

The session has five agenda items, one time slot each. In every slot the chair moves to the item, three
members ask for the floor and are given it in turn, a tenth of the members annotate the meeting
document, and a poll is held (items 3 and 5: secret) in which every member votes. The secretariat
uploads a new version of the document in slot 2; in slot 4 every tablet drops at once and reconnects
at once (a Wi-Fi access point restarting), joins again and asks `meeting.sync`. Between those steps a
few tablets ask `meeting.sync` every second, as reading tablets do.

It reports, and checks (exit 1 if not):
  memory    each worker's resident memory (RSS) at the end within 10 % of its level after the first
            slot (the warm-up: everyone connected, every kind of event handled once)
  errors    no line at level ERROR or CRITICAL and no traceback in any worker's log
  ballots   every acknowledged ballot counted: each poll's total_ballots equals the acks, and every
            member's ballot was acknowledged; every other action acknowledged ok

    .venv/bin/python bench/soak.py                                  # 500 members, 10 minutes
    .venv/bin/python bench/soak.py --clients 40 --minutes 1 --json out.json   # what `make test` runs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The repository first, and not bench/ itself: bench/signing.py would hide the signing package.
sys.path[:] = [str(REPO), *(p for p in sys.path if p not in (str(REPO), str(REPO / "bench")))]

from bench.harness import Account, Deployment, log, postgres_up, raise_fd_limit, rss_bytes, seed  # noqa: E402

ITEMS = 5
SECRET_ITEMS = (2, 4)  # 0-based: the third and the fifth poll are secret
CONNECT_CONCURRENCY = 50
VOTE_CONCURRENCY = 100
MEMORY_TOLERANCE = 0.10
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)|\"level\": ?\"(error|critical)\"",
                        re.IGNORECASE)


@dataclass
class Tablet:
    account: Account
    url: str
    sio: Any = None
    closed: set[int] = field(default_factory=set)


@dataclass
class Outcome:
    clients: int
    minutes: float
    workers: int
    db: str
    polls: list[dict[str, Any]] = field(default_factory=list)
    failed_acks: list[str] = field(default_factory=list)
    rss_warm: dict[str, int] = field(default_factory=dict)
    rss_end: dict[str, int] = field(default_factory=dict)
    errors_logged: list[str] = field(default_factory=list)
    storm: dict[str, Any] = field(default_factory=dict)
    annotations: int = 0
    speakers: int = 0
    syncs: int = 0
    unplanned_reconnects: int = 0
    wall_s: float = 0.0

    def memory_ok(self) -> bool:
        return all(abs(self.rss_end[w] - self.rss_warm[w]) <= MEMORY_TOLERANCE * self.rss_warm[w]
                   for w in self.rss_warm)

    def ballots_ok(self) -> bool:
        return len(self.polls) == ITEMS and all(p["acked"] == p["counted"] == p["voters"] and p["failed"] == 0
                                                for p in self.polls)


class Session:
    def __init__(self, dep: Deployment, seeded: Any, urls: list[str], out: Outcome) -> None:
        self.dep, self.seeded, self.urls, self.out = dep, seeded, urls, out
        self.mid: int = seeded.meeting_id
        self.tablets = [Tablet(m, urls[i % len(urls)]) for i, m in enumerate(seeded.members)]
        self.chair = Tablet(seeded.chair, urls[0])
        self.doc_id = 0
        self.rng = random.Random(16)

    async def call(self, tablet: Tablet, event: str, data: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        if event != "meeting.join" and (tablet.sio is None or not tablet.sio.connected):
            # The connection dropped on its own (a ping missed on a loaded machine): the tablet app
            # connects again and joins before it goes on; so does the soak, and counts it.
            self.out.unplanned_reconnects += 1
            await self.connect(tablet)
        try:
            ack: dict[str, Any] = await tablet.sio.call(event, data, timeout=timeout)
        except Exception as exc:  # a timeout or a dropped connection: the same to a tablet
            ack = {"ok": False, "error": {"code": type(exc).__name__, "message": str(exc)[:200]}}
        if not ack.get("ok"):
            self.out.failed_acks.append(f"{tablet.account.username} {event}: {ack.get('error')}")
        return ack

    async def connect(self, tablet: Tablet, tries: int = 8) -> bool:
        """Connect and join, trying again as the tablet app does (a loaded server may refuse or time out)."""
        import socketio

        for attempt in range(tries):
            tablet.sio = socketio.AsyncClient(reconnection=False)
            tablet.sio.on("poll.closed", lambda d, t=tablet: t.closed.add(int(d["id"])))
            try:
                await tablet.sio.connect(tablet.url, auth={"token": tablet.account.token}, transports=["websocket"],
                                         wait_timeout=60)
                break
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await tablet.sio.disconnect()
                if attempt == tries - 1:
                    self.out.failed_acks.append(f"{tablet.account.username} connect: {type(exc).__name__} {exc}")
                    return False
                await asyncio.sleep(1 + attempt * 2 + self.rng.random())
        return bool((await self.call(tablet, "meeting.join", {"meeting_id": self.mid})).get("ok"))

    async def connect_all(self, gate: int) -> int:
        sem = asyncio.Semaphore(gate)

        async def one(t: Tablet) -> bool:
            async with sem:
                return await self.connect(t)

        return sum(await asyncio.gather(*(one(t) for t in self.tablets)))

    # --- the steps of a slot ---------------------------------------------------------------------------

    async def upload(self, pages: int, seed_: int) -> None:
        import httpx

        from tests.support.sample_pdfs import sample_pdf

        assert self.seeded.secretary is not None
        pdf = sample_pdf(pages, seed=seed_, text=lambda n: f"Tờ trình phiên họp đo tải, trang {n}")
        async with httpx.AsyncClient(base_url=self.urls[-1], timeout=300, headers={
                "Authorization": f"Bearer {self.seeded.secretary.token}"}) as http:
            if not self.doc_id:
                r = await http.post(f"/api/meetings/{self.mid}/documents", data={"title": "Tờ trình (đo tải)"},
                                    files={"file": ("to-trinh.pdf", pdf, "application/pdf")})
            else:
                r = await http.post(f"/api/documents/{self.doc_id}/versions",
                                    files={"file": ("to-trinh-v2.pdf", pdf, "application/pdf")})
        if r.status_code != 201:
            raise RuntimeError(f"document upload: {r.status_code} {r.text[:300]}")
        self.doc_id = int(r.json()["id"])

    async def speakers(self, k: int) -> None:
        chosen = self.rng.sample(self.tablets, min(3, len(self.tablets)))
        turns = [await self.call(t, "speaker.request", {"meeting_id": self.mid}) for t in chosen]
        for turn in turns:
            if turn.get("ok"):
                await self.call(self.chair, "speaker.give", {"meeting_id": self.mid, "turn_id": turn["turn_id"],
                                                             "seconds": 60})
                await asyncio.sleep(0.2)
                await self.call(self.chair, "speaker.end", {"meeting_id": self.mid})
                self.out.speakers += 1

    async def annotate(self, k: int) -> None:
        writers = [t for i, t in enumerate(self.tablets) if i % 10 == k % 10]

        async def one(i: int, t: Tablet) -> None:
            ack = await self.call(t, "annotation.add", {
                "document_id": self.doc_id, "client_id": f"soak-{k}-{i}-{self.rng.randrange(10**6):06d}",
                "page": 1, "kind": "note", "visibility": "shared" if i % 2 else "private",
                "geometry": {"at": [100 + i % 300, 600]},
                "text": f"Ghi chú {k}.{i}: đề nghị làm rõ số liệu"})
            self.out.annotations += bool(ack.get("ok"))

        await asyncio.gather(*(one(i, t) for i, t in enumerate(writers)))

    async def poll(self, k: int) -> None:
        secret = k in SECRET_ITEMS
        created = await self.call(self.chair, "poll.create", {
            "meeting_id": self.mid, "question": f"Thông qua Tờ trình số {k + 1}?", "secret": secret})
        if not created.get("ok"):
            raise RuntimeError(f"poll.create failed: {created}")
        poll_id = int(created["poll"]["id"])
        if not (await self.call(self.chair, "poll.open", {"poll_id": poll_id})).get("ok"):
            raise RuntimeError("poll.open failed")
        sem = asyncio.Semaphore(VOTE_CONCURRENCY)
        voters = self.tablets  # a tablet whose connection dropped connects again before it votes (call)

        async def vote(i: int, t: Tablet) -> bool:
            async with sem:
                await asyncio.sleep(self.rng.random() * 2)  # members press at slightly different times
                choice = ("yes", "yes", "no", "abstain")[i % 4]
                return bool((await self.call(t, "vote.cast", {"poll_id": poll_id, "choice": choice})).get("ok"))

        acked = sum(await asyncio.gather(*(vote(i, t) for i, t in enumerate(voters))))
        closed = await self.call(self.chair, "poll.close", {"poll_id": poll_id})
        counted = int(closed.get("poll", {}).get("result", {}).get("total_ballots", -1)) if closed.get("ok") else -1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(poll_id in t.closed for t in voters) < len(voters):
            await asyncio.sleep(0.2)
        self.out.polls.append({"poll_id": poll_id, "secret": secret, "voters": len(self.tablets), "acked": acked,
                               "counted": counted, "failed": len(voters) - acked,
                               "result_received": sum(poll_id in t.closed for t in voters)})
        log(f"  poll {k + 1} ({'secret' if secret else 'named'}): {acked}/{len(self.tablets)} acknowledged, "
            f"{counted} counted")

    async def storm(self) -> None:
        """Every tablet drops at once (the transport closes without a goodbye) and comes back at once."""
        t0 = time.monotonic()

        async def drop(t: Tablet) -> None:
            with contextlib.suppress(Exception):
                ws = getattr(t.sio.eio, "ws", None)
                await (ws.close() if ws is not None else t.sio.disconnect())
            with contextlib.suppress(Exception):
                await t.sio.disconnect()

        await asyncio.gather(*(drop(t) for t in self.tablets))
        dropped = time.monotonic() - t0
        back = await self.connect_all(len(self.tablets))  # all at once: no gate
        synced = await asyncio.gather(*(self.call(t, "meeting.sync", {"meeting_id": self.mid})
                                        for t in self.tablets))
        self.out.storm = {"tablets": len(self.tablets), "rejoined": back,
                          "synced": sum(bool(s.get("ok")) for s in synced), "drop_seconds": round(dropped, 1),
                          "seconds": round(time.monotonic() - t0, 1)}
        log(f"  reconnect storm: {back}/{len(self.tablets)} back and joined in {self.out.storm['seconds']} s")

    async def chatter_until(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            for t in self.rng.sample(self.tablets, min(5, len(self.tablets))):
                ok = (await self.call(t, "meeting.sync", {"meeting_id": self.mid})).get("ok")
                self.out.syncs += bool(ok)
            await asyncio.sleep(max(0.0, min(1.0, deadline - time.monotonic())))

    def rss(self) -> dict[str, int]:
        return {p.name: rss_bytes(p.pid) for p in self.dep.servers}

    async def run(self, duration_s: float) -> None:
        await self.upload(3, 1)
        if not await self.connect(self.chair):
            raise RuntimeError(f"the chair could not join: {self.out.failed_acks[-1:]}")
        t0 = time.monotonic()
        joined = await self.connect_all(CONNECT_CONCURRENCY)
        log(f"  {joined}/{len(self.tablets)} members connected and joined in {time.monotonic() - t0:.1f} s")
        start, slot = time.monotonic(), duration_s / ITEMS
        for k in range(ITEMS):
            log(f"slot {k + 1}/{ITEMS}")
            if k:
                await self.call(self.chair, "agenda.goto", {"meeting_id": self.mid,
                                                            "item_id": self.seeded.agenda_item_ids[k]})
            await self.speakers(k)
            if k == 1:
                await self.upload(4, 2)
            await self.annotate(k)
            if k == 3:
                await self.storm()
            await self.poll(k)
            await self.chatter_until(start + (k + 1) * slot)
            if k == 0:
                self.out.rss_warm = self.rss()
                log(f"  after warm-up: {_mb(self.out.rss_warm)}")
        await asyncio.sleep(2)  # let the last pushes drain before the last look
        self.out.rss_end = self.rss()
        self.out.wall_s = time.monotonic() - start

    async def close(self) -> None:
        for t in [self.chair, *self.tablets]:
            if t.sio is not None:
                with contextlib.suppress(Exception):
                    await t.sio.disconnect()


def _mb(rss: dict[str, int]) -> str:
    return ", ".join(f"{name} {value / 2**20:.0f} MB" for name, value in rss.items())


def errors_in(logs: dict[str, str]) -> list[str]:
    return [f"{name}: {line.strip()[:300]}" for name, text in logs.items() for line in text.splitlines()
            if ERROR_LINE.search(line)]


async def run(clients: int, minutes: float, workers: int, db: str, work: Path) -> Outcome:
    db_kind = db if db != "auto" else ("postgres" if await postgres_up() else "sqlite")
    if db_kind == "sqlite":
        workers = 1
    redis = "" if workers == 1 else ("private" if shutil.which("redis-server") else "shared")
    out = Outcome(clients, minutes, workers, db_kind)
    log(f"soak: {clients} members, {minutes:g} min, {workers} worker(s) on {db_kind}"
        + (f", {redis} Redis" if redis else ""))
    # A PostgreSQL and a Redis of its own: another job on the machine cannot use up their connections.
    async with Deployment.create(work, db_kind=db_kind, redis=redis, private_postgres=True) as dep:
        seeded = await seed(dep.database_url, clients, secretary=True, agenda_items=ITEMS)
        urls = await dep.start_workers(workers)
        session = Session(dep, seeded, urls, out)
        try:
            await session.run(minutes * 60)
        finally:
            await session.close()
            await asyncio.sleep(1)
            out.errors_logged = errors_in(dep.logs())
    return out


def report(out: Outcome) -> str:
    lines = [f"Soak — {out.clients} members, {out.minutes:g} minutes, {out.workers} worker(s) on {out.db}",
             "| worker | RSS after warm-up MB | RSS at end MB | change |", "|---|---|---|---|"]
    for w, warm in out.rss_warm.items():
        end = out.rss_end.get(w, 0)
        lines.append(f"| {w} | {warm / 2**20:.0f} | {end / 2**20:.0f} | {(end - warm) / max(1, warm) * 100:+.1f} % |")
    lines += ["", "| poll | secret | members | acknowledged | counted | result received |", "|---|---|---|---|---|---|"]
    for i, p in enumerate(out.polls, 1):
        lines.append(f"| {i} | {'yes' if p['secret'] else 'no'} | {p['voters']} | {p['acked']} | {p['counted']} "
                     f"| {p['result_received']} |")
    lines += ["", f"  reconnect storm: {out.storm}", f"  speakers {out.speakers}, annotations {out.annotations}, "
              f"syncs {out.syncs}, session {out.wall_s:.0f} s, connections that dropped on their own and came back "
              f"{out.unplanned_reconnects}",
              f"  memory within {MEMORY_TOLERANCE:.0%}: {'yes' if out.memory_ok() else 'NO'}; "
              f"errors logged: {len(out.errors_logged)}; every ballot counted: {'yes' if out.ballots_ok() else 'NO'}; "
              f"failed acks: {len(out.failed_acks)}"]
    lines += [f"    {e}" for e in (out.errors_logged + out.failed_acks)[:10]]
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> int:
    raise_fd_limit()
    work = Path(tempfile.mkdtemp(prefix="ecabinet-soak-"))
    out = await run(args.clients, args.minutes, args.workers, args.db, work)
    print(report(out))
    if args.json:
        Path(args.json).write_text(json.dumps({**out.__dict__, "memory_ok": out.memory_ok(),
                                               "ballots_ok": out.ballots_ok()}, indent=1, ensure_ascii=False))
    shutil.rmtree(work, ignore_errors=True)
    clean = not out.errors_logged and not out.failed_acks and out.ballots_ok()
    return 0 if clean and (out.memory_ok() or args.no_memory_check) else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=500)
    p.add_argument("--minutes", type=float, default=10.0, help="the two-hour session compressed into this")
    p.add_argument("--workers", type=int, default=2, help="server processes (one on SQLite)")
    p.add_argument("--db", choices=["auto", "postgres", "sqlite"], default="auto")
    p.add_argument("--json", help="also write the outcome as JSON to this file")
    p.add_argument("--no-memory-check", action="store_true", help="exit 0 whatever the memory did (short runs)")
    sys.exit(asyncio.run(main(p.parse_args())))
