"""Document exchange benchmark (issue 17): edXML packages carrying a 2 MB signed PDF, between two real
`ecabinet serve` instances on loopback through the local gateway (`ecabinet exchange-gateway`).

- **throughput**: packages built and signed (here, as the outbox does), sent to the recipient's
  POST /api/exchange/inbound, read there in the sandbox, verified and stored (201), one after another;
  packages per second. Baseline in the same run: the raw XML-DSig sign + verify of the same bytes
  (exchange.signature, no schema, no sandbox, no storage) plus a plain HTTP POST of the same bytes to a bare
  Starlette endpoint on loopback; ratio = our time per package / the baseline's.
- **send → recipient's 01**: the sender's clerk sends a published record (POST /api/records/{id}/exchange);
  measured until the recipient's inbox row exists, and until the recipient's signed 01 "arrived" status
  has come back through the gateway and is stored in the sender's tracking. Both outboxes wake when a row
  is queued (ECABINET_EXCHANGE_OUTBOX_SECONDS is set to 60 here: the figure never waits for a look).
  Baseline: the plain HTTP POST of the same bytes.

Both instances run on SQLite (the embedded default), one worker each; the bench's client runs on the same cores.

    .venv/bin/python bench/exchange.py            # 30 packages, 20 sends
    .venv/bin/python bench/exchange.py --quick    # 3 and 3 (smoke)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from lxml import etree  # noqa: E402

import exchange as ex  # noqa: E402
from bench.harness import Proc, base_env, free_port, log, pct, wait_http  # noqa: E402
from exchange import fields, signature  # noqa: E402
from tests.unit.exchange.conftest import Signer, make_signer, sample_document  # noqa: E402

SENDER, RECIPIENT = "000.00.00.G22", "000.00.00.H41"
GATEWAY_SECRET = "cong-trao-doi-van-ban-bench-2026"
OUTBOX_SECRET = "outbox-bearer-of-the-bench-2026"
DIRECTORY = f"code,name,level,parent_code\n{SENDER},Văn phòng Chính phủ,1,\n{RECIPIENT},UBND tỉnh Nghệ An,1,\n"
PDF_BYTES = 2_000_000


def pdf_of(size: int, ca_dir: Path) -> bytes:
    """A signed PDF (PAdES B-B, under the bench's CA) of about `size` bytes whose bulk does not compress (a
    scanned annex, as an embedded file): the recipient verifies its signature as it would a resolution's."""
    import io

    from pypdf import PdfWriter

    import signing as S
    from tests.support.sample_pdfs import sample_pdf

    writer = PdfWriter(clone_from=io.BytesIO(sample_pdf(2, title="Nghị quyết (bench)")))
    writer.add_attachment("phu-luc-scan.bin", os.urandom(size))
    out = io.BytesIO()
    writer.write(out)
    pfx = S.issue_signing_certificate(S.load_ca(ca_dir), common_name="Thủ tướng (bench)", passphrase="bench-2026")
    options = S.SignOptions(field_name="chair", box=(100.0, 100.0, 300.0, 170.0),
                            appearance=S.Appearance("Thủ tướng (bench)", "Thủ tướng Chính phủ"))
    return asyncio.run(S.sign_pdf(out.getvalue(), S.file_signer(pfx, "bench-2026"), options))


def package(signer: Signer, pdf: bytes, number: int) -> ex.DocumentPackage:
    return sample_document(sender=ex.Organization(SENDER, "Văn phòng Chính phủ"),
                           recipients=(ex.Organization(RECIPIENT, "UBND tỉnh Nghệ An"),),
                           code=ex.DocumentCode(str(number), "NQ-CP"), response_for=(),
                           promulgation=ex.PromulgationInfo("Hà Nội", date(2026, 12, 4)),
                           attachments=(ex.Attachment("nghi-quyet.pdf", "application/pdf", pdf),))


def build(signer: Signer, pkg: ex.DocumentPackage) -> bytes:
    return ex.build_document(pkg, key=signer.key, certificate=signer.certificate, chain=signer.chain)


def raw_sign_verify(signer: Signer, pdf: bytes) -> None:
    """The baseline's crypto: an enveloped XML-DSig over a document holding the same bytes, then its check."""
    import base64

    ns = f"{{{fields.NAMESPACE}}}"
    root = etree.Element(ns + fields.ROOT, nsmap={None: fields.NAMESPACE})
    header = etree.SubElement(etree.SubElement(root, ns + fields.ENVELOPE), ns + "edXMLHeader")
    etree.SubElement(root, ns + fields.ATTACHMENTS).text = base64.b64encode(pdf).decode("ascii")
    header.append(signature.placeholder())  # where exchange.signature puts and looks for it
    signed = signature.sign(root, signer.key, signer.certificate, signer.chain)
    signature.verify(etree.fromstring(etree.tostring(signed)), [signer.root])


def _cli(env: dict[str, str], *args: str) -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "backend.cli", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"ecabinet {' '.join(args)}: {done.stdout}{done.stderr}")


async def _seed_sender(database_url: str, pdf_sha: str, records: int, token: str) -> list[int]:
    """A meeting in session of the sender, its secretary (bearer `token`) and `records` published records."""
    from backend.db import Database
    from backend.models import AuthSession, Body, Meeting, Participant, Resolution, User
    from backend.models.base import utcnow
    from backend.services.auth import token_hash

    db = Database(database_url)
    now = utcnow()
    try:
        async with db.write() as s:
            body = Body(name="Văn phòng Chính phủ", kind="government")
            s.add(body)
            await s.flush()
            user = User(username="thuky", full_name="Thư ký", password_hash="x", body_id=body.id, is_secretariat=True)
            s.add(user)
            await s.flush()
            assert user.id is not None and body.id is not None
            meeting = Meeting(body_id=body.id, title="Phiên họp", starts_at=now, status="in_progress", started_at=now,
                              created_by=user.id)
            s.add(meeting)
            await s.flush()
            assert meeting.id is not None
            s.add(Participant(meeting_id=meeting.id, user_id=user.id, role="secretary"))
            rows = [Resolution(meeting_id=meeting.id, kind="resolution", number=f"{500 + i}/NQ-CP",
                               title=f"Nghị quyết số {500 + i}", status="published", pdf_sha256=pdf_sha,
                               pdf_size=PDF_BYTES, created_by=user.id, published_at=now) for i in range(records)]
            s.add_all(rows)
            s.add(AuthSession(token_hash=token_hash(token), user_id=user.id, kind="bearer",
                              expires_at=now + timedelta(hours=4)))
            await s.flush()
            return [r.id for r in rows if r.id is not None]
    finally:
        await db.dispose()


def _arrived_reported(db: Path, document_id: str) -> bool:
    """The sender's tracking holds the recipient's 01 about `document_id`."""
    con = sqlite3.connect(db)
    try:
        found = con.execute("SELECT 1 FROM received_statuses r JOIN outgoing_packages o ON r.outgoing_id = o.id "
                            "WHERE o.document_id = ? AND r.code = '01'", (document_id,)).fetchone()
        return found is not None
    finally:
        con.close()


def _inbox_has(db: Path, document_id: str) -> bool:
    con = sqlite3.connect(db)
    try:
        found = con.execute("SELECT 1 FROM incoming_documents WHERE document_id = ?", (document_id,)).fetchone()
        return found is not None
    finally:
        con.close()


async def _bare_server() -> tuple[str, asyncio.Task[None], object]:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def take(request: Request) -> JSONResponse:
        return JSONResponse({"size": len(await request.body())}, status_code=201)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/", take, methods=["POST"])]), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    return f"http://127.0.0.1:{port}/", task, server


async def run(packages: int, sends: int) -> dict[str, float]:
    from backend.config import Settings
    from backend.services.files import FileStore

    work = Path(tempfile.mkdtemp(prefix="ecabinet-bench-exchange-"))
    ours = make_signer(work / "ca", "Văn phòng Chính phủ (bench)")
    anchors = work / "anchors.pem"
    anchors.write_bytes(ours.root.public_bytes(serialization.Encoding.PEM))
    key, cert = work / "key.pem", work / "cert.pem"
    key.write_bytes(ours.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (ours.certificate, *ours.chain)))
    pdf = await asyncio.to_thread(pdf_of, PDF_BYTES, work / "ca")
    procs: list[Proc] = []
    bare_url, bare_task, bare = await _bare_server()
    try:
        ports = {name: free_port() for name in ("recipient", "gateway", "sender")}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        envs = {}
        for name, code in (("recipient", RECIPIENT), ("sender", SENDER)):
            data = work / name
            env = base_env(data)
            env.update({"DATABASE_URL": f"sqlite:///{data / 'ecabinet.sqlite3'}",
                        "ECABINET_EXCHANGE_AGENCY_CODE": code, "ECABINET_EXCHANGE_GATEWAY_SECRET": GATEWAY_SECRET,
                        "ECABINET_EXCHANGE_TRUST_ANCHORS": str(anchors), "ECABINET_EXCHANGE_SIGNING_KEY": str(key),
                        "ECABINET_TRUST_ROOTS": str(anchors),  # the PDF's signature is verified on arrival
                        "ECABINET_EXCHANGE_SIGNING_CERT": str(cert),
                        "ECABINET_EXCHANGE_GATEWAY_URL": f"{urls['gateway']}/packages",
                        "ECABINET_EXCHANGE_OUTBOX_SECRET": f"{OUTBOX_SECRET}-{name}",
                        "ECABINET_EXCHANGE_OUTBOX_SECONDS": "60"})
            data.mkdir(parents=True)
            (work / f"{name}.csv").write_text(DIRECTORY, encoding="utf-8")
            _cli(env, "migrate")
            _cli(env, "agencies", "import", str(work / f"{name}.csv"))
            envs[name] = env
        token = secrets.token_urlsafe(32)
        pdf_sha = await FileStore.for_settings(Settings.from_env(envs["sender"])).put(pdf)
        records = await _seed_sender(f"sqlite+aiosqlite:///{work / 'sender' / 'ecabinet.sqlite3'}", pdf_sha, sends,
                                     token)
        config = work / "gateway.json"
        config.write_text(json.dumps({
            "trust_anchors": str(anchors),
            "senders": {SENDER: f"{OUTBOX_SECRET}-sender", RECIPIENT: f"{OUTBOX_SECRET}-recipient"},
            "agencies": {code: {"url": f"{urls[name]}/api/exchange/inbound", "secret": GATEWAY_SECRET}
                         for name, code in (("recipient", RECIPIENT), ("sender", SENDER))}}))
        for name in ("recipient", "gateway", "sender"):
            argv = ([sys.executable, "-m", "backend.cli", "exchange-gateway", "--config", str(config), "--host",
                     "127.0.0.1", "--port", str(ports[name])] if name == "gateway" else
                    [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port", str(ports[name]),
                     "--no-migrate"])
            procs.append(Proc(name, argv, envs.get(name, envs["recipient"]), work / f"{name}.log"))
            await wait_http(procs[-1], urls[name], "/api/health" if name != "gateway" else "/packages")

        async with httpx.AsyncClient(timeout=120) as http:
            # Throughput: built + signed here, received + verified + stored by the recipient.
            inbound = {"Authorization": f"Bearer {GATEWAY_SECRET}", "Content-Type": "application/xml"}
            build_s: list[float] = []
            began = time.perf_counter()
            for i in range(packages):
                t0 = time.perf_counter()
                data = build(ours, package(ours, pdf, 1000 + i))
                build_s.append(time.perf_counter() - t0)
                r = await http.post(f"{urls['recipient']}/api/exchange/inbound", content=data, headers=inbound)
                if r.status_code != 201:
                    raise RuntimeError(f"inbound answered {r.status_code}: {r.text[:300]}")
            ours_s = (time.perf_counter() - began) / packages
            # Baseline: raw XML-DSig sign + verify of the same bytes, and a plain POST of the package's bytes.
            began = time.perf_counter()
            post_s: list[float] = []
            for _ in range(packages):
                raw_sign_verify(ours, pdf)
                t0 = time.perf_counter()
                r = await http.post(bare_url, content=data)
                post_s.append(time.perf_counter() - t0)
                assert r.status_code == 201
            base_s = (time.perf_counter() - began) / packages
            log(f"throughput: {1 / ours_s:.2f} packages/s (build+sign {pct(build_s, 50) * 1000:.0f} ms each) vs "
                f"raw sign+verify+POST {1 / base_s:.2f}/s")

            # Send -> the recipient's inbox row -> the recipient's 01 back in the sender's tracking.
            latency: list[float] = []
            to_inbox: list[float] = []
            sender_api = {"Authorization": f"Bearer {token}"}
            for record in records:
                t0 = time.perf_counter()
                r = await http.post(f"{urls['sender']}/api/records/{record}/exchange", json={"recipients": [RECIPIENT]},
                                    headers=sender_api)
                if r.status_code != 201:
                    raise RuntimeError(f"send answered {r.status_code}: {r.text[:300]}")
                document_id = r.json()[0]["document_id"]
                inboxed = None
                while not _arrived_reported(work / "sender" / "ecabinet.sqlite3", document_id):
                    if inboxed is None and _inbox_has(work / "recipient" / "ecabinet.sqlite3", document_id):
                        inboxed = time.perf_counter() - t0
                    if time.perf_counter() - t0 > 120:
                        raise RuntimeError(f"no 01 about {document_id} after 120 s:\n"
                                           f"{procs[2].tail()}\n{procs[1].tail()}\n{procs[0].tail()}")
                    await asyncio.sleep(0.005)
                latency.append(time.perf_counter() - t0)
                to_inbox.append(inboxed if inboxed is not None else latency[-1])
    finally:
        for proc in reversed(procs):
            proc.stop()
        bare.should_exit = True  # type: ignore[attr-defined]
        await bare_task
    return {"packages": packages, "sends": sends, "per_s": 1 / ours_s, "base_per_s": 1 / base_s,
            "throughput_ratio": ours_s / base_s, "build_sign_ms": pct(build_s, 50) * 1000,
            "send_p50_ms": pct(latency, 50) * 1000, "send_p99_ms": pct(latency, 99) * 1000,
            "inbox_p50_ms": pct(to_inbox, 50) * 1000, "inbox_p99_ms": pct(to_inbox, 99) * 1000,
            "post_p99_ms": pct(post_s, 99) * 1000, "latency_ratio": pct(latency, 99) / pct(post_s, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a few packages (smoke)")
    parser.add_argument("--packages", type=int, default=None)
    parser.add_argument("--sends", type=int, default=None)
    args = parser.parse_args()
    packages = args.packages or (3 if args.quick else 30)
    sends = args.sends or (3 if args.quick else 20)
    f = asyncio.run(run(packages, sends))
    print(f"exchange: 2 MB PDF, {packages} packages, {sends} sends (SQLite, 1 worker each, local gateway)")
    print(f"  built+signed+sent+received+verified: {f['per_s']:.2f} packages/s "
          f"(baseline raw XML-DSig sign+verify + plain POST: {f['base_per_s']:.2f}/s; "
          f"ratio {f['throughput_ratio']:.1f}x the time); build+sign p50 {f['build_sign_ms']:.0f} ms")
    print(f"  send -> recipient's inbox row: p50 {f['inbox_p50_ms']:.0f} ms, p99 {f['inbox_p99_ms']:.0f} ms")
    print(f"  send -> recipient's 01 arrived in our tracking: p50 {f['send_p50_ms']:.0f} ms, "
          f"p99 {f['send_p99_ms']:.0f} ms (baseline plain POST of the same bytes p99 {f['post_p99_ms']:.0f} ms; "
          f"ratio {f['latency_ratio']:.0f}x)")


if __name__ == "__main__":
    main()
