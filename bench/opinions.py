"""Opinion-round benchmark: N members submit signed written ballots to a real server within a minute.

Two `ecabinet serve` workers on PostgreSQL (`--workers 1` also runs on SQLite). N members, each with a bearer
token and a signing certificate from the development CA (inserted directly: setting up is not
measured), are asked in one round with two questions. All N submit over HTTP at once (a bounded number
in flight, like tablets on a network); each submission renders the member's ballot as a PDF, signs it
with the member's key (PKCS#12 under a passphrase) and stores it. Then the secretary closes the round
and fetches the aggregated report.

Baseline in the same run: rendering and signing one ballot in-process with the signing library (no
HTTP, no database), so "ratio" = the server's CPU per ballot / the library's time per ballot.

    .venv/bin/python bench/opinions.py                 # 500 members, 2 workers
    .venv/bin/python bench/opinions.py --workers 1     # 500 members, 1 worker
    .venv/bin/python bench/opinions.py --quick         # 60 members (smoke)
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.realtime import Proc, _base_env, cpu_seconds, free_port, log, pg_admin, postgres_up, wait_http  # noqa: E402

PASSPHRASE = "Khoa-ky-do-tai-2026"
TARGET_S = 60.0


async def seed(database_url: str, data_dir: Path, n: int) -> tuple[str, list[tuple[str, int]], int]:
    """A body, a secretary and n members, each with a bearer token and a signing certificate."""
    from backend.config import Settings
    from backend.db import Database
    from backend.models import AuthSession, Body, SigningCredential, User
    from backend.models.base import utcnow
    from backend.services.auth import token_hash
    from backend.services.credentials import _row
    from backend.services.passwords import hash_password
    from signing import init_ca, issue_signing_certificate, read_pkcs12

    settings = Settings(data_dir=data_dir)
    ca = init_ca(settings.effective_pki_dir)
    shared = hash_password("Mat-khau-chung-2026")
    expires = utcnow() + timedelta(hours=12)
    db = Database(database_url)
    try:
        async with db.write() as s:
            body = Body(name="Chính phủ (đo tải)", kind="government")
            s.add(body)
            await s.flush()
            users = [User(username="bench.sec", full_name="Thư ký", password_hash=shared, body_id=body.id,
                          is_secretariat=True)]
            users += [User(username=f"bench.m{i + 1}", full_name=f"Thành viên {i + 1}", title="Bộ trưởng",
                           password_hash=shared, body_id=body.id) for i in range(n)]
            s.add_all(users)
            await s.flush()
            tokens = [secrets.token_urlsafe(32) for _ in users]
            s.add_all([AuthSession(token_hash=token_hash(t), user_id=u.id, kind="bearer", expires_at=expires)
                       for t, u in zip(tokens, users, strict=True)])
            creds: list[SigningCredential] = []
            for u in users[1:]:
                p12 = issue_signing_certificate(ca, common_name=u.full_name, title=u.title, passphrase=PASSPHRASE)
                _, cert, _ = read_pkcs12(p12, PASSPHRASE)
                assert u.id is not None
                creds.append(_row(u.id, cert, "file", pkcs12=p12))
            s.add_all(creds)
            await s.flush()
            members = [(t, c.id or 0) for t, c in zip(tokens[1:], creds, strict=True)]
            body_id = body.id or 0
        return tokens[0], members, body_id
    finally:
        await db.dispose()


def baseline_ms(rounds: int) -> float:
    """Render and sign one ballot with the library alone (the floor of what a submission costs)."""
    import signing as S
    from signing.pki import init_ca as make_ca

    with tempfile.TemporaryDirectory() as tmp:
        ca = make_ca(Path(tmp) / "ca")
        p12 = S.issue_signing_certificate(ca, common_name="Thành viên", title="Bộ trưởng", passphrase=PASSPHRASE)
        now = datetime.now(UTC)
        doc = S.OpinionBallotDoc(S.Issuer("CHÍNH PHỦ"), "Lấy ý kiến (đo tải)", "Thành viên", "Bộ trưởng", now,
                                 (S.OpinionAnswerLine("Câu 1?", "Đồng ý"), S.OpinionAnswerLine("Câu 2?", "Đồng ý")),
                                 S.Signatory("member", "", "BỘ TRƯỞNG", "Thành viên"))
        times = []
        for _ in range(rounds + 1):
            t = time.perf_counter()
            rendered = S.render_opinion_ballot(doc)
            slot = rendered.slots[0]
            signer = S.file_signer(p12, PASSPHRASE)
            asyncio.run(S.sign_pdf(rendered.pdf, signer, S.SignOptions(
                field_name="member", page_index=slot.page_index, box=slot.box,
                appearance=S.Appearance("Thành viên", "Bộ trưởng"))))
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times[1:])


async def run(n: int, db_kind: str, in_flight: int, workers: int) -> dict[str, Any]:
    import httpx

    work = Path(tempfile.mkdtemp(prefix="ecabinet-bench-opinions-"))
    env = _base_env(work / "data")
    pg_name = None
    if db_kind == "postgres":
        pg_name = f"ecabinet_bench_{secrets.token_hex(5)}"
        await pg_admin(f'CREATE DATABASE "{pg_name}"')
        env["DATABASE_URL"] = f"postgresql://127.0.0.1:5432/{pg_name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{work / 'data' / 'bench.sqlite3'}"
    (work / "data").mkdir(parents=True, exist_ok=True)
    servers: list[Proc] = []
    try:
        done = subprocess.run([sys.executable, "-m", "backend.cli", "migrate"], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        from backend.config import normalise_database_url

        t0 = time.monotonic()
        sec_token, members, body_id = await seed(normalise_database_url(env["DATABASE_URL"]), work / "data", n)
        log(f"seeded {n} members with certificates in {time.monotonic() - t0:.0f} s")
        urls = []
        for w in range(workers):
            port = free_port()
            urls.append(f"http://127.0.0.1:{port}")
            servers.append(Proc(f"worker {w + 1}", [sys.executable, "-m", "backend.cli", "serve", "--host",
                                                    "127.0.0.1", "--port", str(port), "--no-migrate"], env,
                                work / f"worker{w + 1}.log"))
        await asyncio.gather(*(wait_http(p, u, "/api/health") for p, u in zip(servers, urls, strict=True)))
        url = urls[0]
        sec = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {sec_token}"}, timeout=120)
        r = await sec.post("/api/meetings", json={"body_id": body_id, "kind": "opinion_round",
                                                  "title": "Lấy ý kiến thành viên (đo tải)",
                                                  "starts_at": "2026-12-01T08:00:00+07:00"})
        mid = r.json()["id"]
        # The members' user ids, in the order seeded (bench.m1 ... bench.mN).
        from sqlmodel import select

        from backend.db import Database
        from backend.models import User

        db = Database(normalise_database_url(env["DATABASE_URL"]))
        async with db.read() as s:
            ids = {u.username: u.id for u in (await s.exec(select(User))).all()}
        await db.dispose()
        for i in range(n):
            r = await sec.post(f"/api/meetings/{mid}/participants", json={"user_id": ids[f"bench.m{i + 1}"],
                                                                          "role": "member"})
            assert r.status_code == 201, r.text
        deadline = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        r = await sec.put(f"/api/meetings/{mid}/opinion-round", json={
            "deadline": deadline, "questions": ["Thông qua Dự thảo Nghị định?", "Đồng ý lộ trình?"]})
        questions = [q["id"] for q in r.json()["questions"]]
        assert (await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})).status_code == 200

        gate = asyncio.Semaphore(in_flight)
        latencies: list[float] = []
        failures: list[str] = []

        async def submit(token: str, credential_id: int, index: int) -> None:
            choice = "agree" if index % 5 else "disagree"
            body = {"answers": [{"question_id": q, "choice": choice} for q in questions],
                    "credential_id": credential_id, "secret": PASSPHRASE}
            async with gate, httpx.AsyncClient(base_url=urls[index % workers],
                                               headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
                t = time.perf_counter()
                r = await client.post(f"/api/meetings/{mid}/opinion-round/ballot", json=body)
                if r.status_code == 201:
                    latencies.append((time.perf_counter() - t) * 1000)
                else:
                    failures.append(r.text[:200])

        pids = [p.popen.pid for p in servers]
        cpu0 = cpu_seconds(pids)
        start = time.perf_counter()
        await asyncio.gather(*(submit(t, c, i) for i, (t, c) in enumerate(members)))
        wall = time.perf_counter() - start
        cpu = cpu_seconds(pids) - cpu0
        t = time.perf_counter()
        closed = await sec.post(f"/api/meetings/{mid}/opinion-round/close")
        close_ms = (time.perf_counter() - t) * 1000
        assert closed.status_code == 200, closed.text
        outcome = closed.json()["result"][0]["outcome"]
        t = time.perf_counter()
        report = await sec.get(f"/api/meetings/{mid}/opinion-round/report")
        report_ms = (time.perf_counter() - t) * 1000
        assert report.status_code == 200 and report.content.startswith(b"%PDF")
        await sec.aclose()
        latencies.sort()
        return {"n": n, "db": db_kind, "ok": len(latencies), "failed": len(failures), "errors": failures[:3],
                "wall_s": wall, "rate": len(latencies) / wall, "p50": statistics.median(latencies),
                "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)], "cpu_per_ballot_ms": cpu * 1000 / max(1, n),
                "close_ms": close_ms, "report_ms": report_ms, "report_kb": len(report.content) / 1000,
                "counted": outcome["answered"]}
    finally:
        for p in servers:
            p.stop()
        if pg_name:
            await pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


async def main(args: argparse.Namespace) -> int:
    n = 60 if args.quick else args.members
    db_kind = args.db if args.db != "auto" else ("postgres" if await postgres_up() else "sqlite")
    if db_kind == "sqlite" and args.workers > 1:
        print("several workers need PostgreSQL (SQLite has one writer); use --workers 1", file=sys.stderr)
        return 2
    base = await asyncio.to_thread(baseline_ms, 3 if args.quick else 20)
    out = await run(n, db_kind, args.in_flight, args.workers)
    print()
    print(f"Opinion-round benchmark — {n} members, {args.workers} worker(s) on {db_kind}, "
          f"{args.in_flight} submissions in flight")
    print("| members | ballots counted | failed | all submitted in s | ballots/s | p50 ms | p99 ms "
          "| server CPU ms/ballot | library ms/ballot (baseline) | ratio | close ms | report ms (KB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {out['n']} | {out['counted']} | {out['failed']} | {out['wall_s']:.1f} | {out['rate']:.1f} "
          f"| {out['p50']:.0f} | {out['p99']:.0f} | {out['cpu_per_ballot_ms']:.0f} | {base:.0f} "
          f"| {out['cpu_per_ballot_ms'] / base:.2f}x | {out['close_ms']:.0f} | {out['report_ms']:.0f} "
          f"({out['report_kb']:.0f}) |")
    print()
    verdict = "met" if out["wall_s"] <= TARGET_S and out["failed"] == 0 else "NOT met"
    print(f"  target: {n} signed ballots within {TARGET_S:.0f} s: {out['wall_s']:.1f} s ({verdict})")
    if out["errors"]:
        print(f"  errors: {out['errors']}")
    return 0 if out["failed"] == 0 else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=500)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--db", choices=["auto", "postgres", "sqlite"], default="auto")
    p.add_argument("--in-flight", type=int, default=16)
    p.add_argument("--workers", type=int, default=2, help="server processes (PostgreSQL for more than one)")
    sys.exit(asyncio.run(main(p.parse_args())))
