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
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The repository first, and not bench/ itself: bench/signing.py would hide the signing package.
sys.path[:] = [str(REPO), *(p for p in sys.path if p not in (str(REPO), str(REPO / "bench")))]

from bench.harness import Deployment, Seeded, cpu_seconds, log, postgres_up, seed  # noqa: E402

PASSPHRASE = "Khoa-ky-do-tai-2026"
TARGET_S = 60.0


async def seed_members(database_url: str, data_dir: Path, n: int) -> Seeded:
    """A body, a secretary and n members, each with a bearer token and a signing certificate
    (bench/harness.py, as every benchmark seeds)."""
    return await seed(database_url, n, chair=False, secretary=True, meeting=False, body_name="Chính phủ (đo tải)",
                      certificates=(data_dir / "pki", PASSPHRASE))


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
    async with Deployment.create(work, db_kind=db_kind) as dep:
        t0 = time.monotonic()
        seeded = await seed_members(dep.database_url, work / "data", n)
        assert seeded.secretary is not None
        members = [(m.token, m.credential_id or 0) for m in seeded.members]
        log(f"seeded {n} members with certificates in {time.monotonic() - t0:.0f} s")
        urls = await dep.start_workers(workers)
        url = urls[0]
        sec = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {seeded.secretary.token}"},
                                timeout=120)
        r = await sec.post("/api/meetings", json={"body_id": seeded.body_id, "kind": "opinion_round",
                                                  "title": "Lấy ý kiến thành viên (đo tải)",
                                                  "starts_at": "2026-12-01T08:00:00+07:00"})
        mid = r.json()["id"]
        for m in seeded.members:
            r = await sec.post(f"/api/meetings/{mid}/participants", json={"user_id": m.id, "role": "member"})
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

        pids = dep.worker_pids
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
