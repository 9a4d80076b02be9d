"""A whole session against a real `ecabinet serve` logging at debug (JSON lines; uvicorn, engineio,
socketio, SQLAlchemy and aiosqlite all at debug): logins, a meeting, a named and a secret poll with
votes, a resolution reviewed and signed with passphrases (a wrong one too), a password change, a logout.
Then the log is searched for every secret used: passwords, session tokens and cookies, passphrases,
and the secret poll's choices beside the voter."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from backend import migrate
from backend.config import Settings
from backend.db import Database
from backend.services import credentials, users
from tests.conftest import free_port
from tests.integration.live import LiveClient

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90  # generous: a loaded 2-core machine starts a worker slowly
ADMIN_PASSWORD = "Quan-tri-nhat-ky-2026!"
SECRETARY_PASSPHRASE = "Ky-so-thu-ky-7Hq2"
CHAIR_PASSPHRASE = "Ky-so-chu-toa-9Wz4"
WRONG_PASSPHRASE = "Sai-cum-tu-khoa-3Kd8"
RESOLUTION = {
    "kind": "resolution", "number": "16/NQ-UBND", "title": "Về việc vận hành hệ thống",
    "preamble": ["Căn cứ Luật Tổ chức chính quyền địa phương;"],
    "articles": [{"heading": "Điều 1.", "text": "Thông qua phương án vận hành."}],
    "recipients": ["Lưu: VT"],
}


def _password(who: str) -> str:
    return f"Mat-khau-{who}-{secrets.token_hex(4)}"


def _spawn(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


async def _start(tmp: Path, url: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log = tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DATABASE_URL": url, "ECABINET_DATA_DIR": str(tmp / "data"), "ECABINET_MODE": "demo",
                "ECABINET_SECRET_KEY": secrets.token_urlsafe(48), "ECABINET_LOG_LEVEL": "debug",
                "ECABINET_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"})
    process = _spawn(port, env, log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base) as http:
        while True:
            try:
                if (await http.get("/api/health")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            await asyncio.sleep(0.2)
    return process, base, log


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def test_a_whole_session_at_debug_level_logs_no_secret(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'ecabinet.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    settings = replace(Settings.from_env({"ECABINET_DATA_DIR": str(tmp_path / "data")}), database_url=url)
    db = Database(url)
    await users.create(db, None, {"username": "admin", "full_name": "Quản trị", "password": ADMIN_PASSWORD,
                                  "is_admin": True})
    process, base, log = await _start(tmp_path, url)
    secret_values: list[str] = [ADMIN_PASSWORD, SECRETARY_PASSPHRASE, CHAIR_PASSPHRASE, WRONG_PASSPHRASE]
    clients: list[httpx.AsyncClient] = []
    live: list[LiveClient] = []
    try:
        def browser() -> httpx.AsyncClient:
            c = httpx.AsyncClient(base_url=base, timeout=60)
            clients.append(c)
            return c

        async def cookie_login(username: str, password: str) -> httpx.AsyncClient:
            c = browser()
            body = _ok(await c.post("/api/auth/login", json={"username": username, "password": password}))
            c.headers["X-CSRF-Token"] = body["csrf_token"]
            secret_values.extend([body["csrf_token"], *(v for v in c.cookies.values())])
            return c

        admin = await cookie_login("admin", ADMIN_PASSWORD)
        body = _ok(await admin.post("/api/bodies", json={"name": "Ủy ban nhân dân tỉnh Nhật Ký",
                                                         "kind": "provincial_committee"}), 201)
        people: dict[str, dict[str, Any]] = {}
        for who in ("secretary", "chair", "member"):
            password = _password(who)
            secret_values.append(password)
            made = _ok(await admin.post("/api/users", json={
                "username": f"{who}.nhatky", "full_name": f"Người {who}", "password": password,
                "is_secretariat": who == "secretary", "body_id": body["id"]}), 201)
            people[who] = {"id": made["id"], "username": f"{who}.nhatky", "password": password}
        sec = await cookie_login("secretary.nhatky", people["secretary"]["password"])
        member_browser = await cookie_login("member.nhatky", people["member"]["password"])
        for who in ("chair", "member"):
            c = LiveClient(base)
            live.append(c)
            await c.login(people[who]["username"], people[who]["password"])
            assert c.token is not None
            secret_values.append(c.token)
            await c.connect()
            people[who]["live"] = c
        chair_http = browser()
        chair_http.headers["Authorization"] = f"Bearer {people['chair']['live'].token}"

        meeting = _ok(await sec.post("/api/meetings", json={
            "body_id": body["id"], "title": "Phiên họp kiểm tra nhật ký", "starts_at": "2026-12-03T08:00:00+07:00"}),
            201)
        mid = meeting["id"]
        for who, role in (("chair", "chair"), ("member", "member")):
            _ok(await sec.post(f"/api/meetings/{mid}/participants", json={"user_id": people[who]["id"], "role": role}),
                201)
        _ok(await sec.post(f"/api/meetings/{mid}/agenda", json={"title": "Báo cáo"}), 201)
        _ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
        _ok(await chair_http.post(f"/api/meetings/{mid}/transitions", json={"action": "start"}))
        chair, member = people["chair"]["live"], people["member"]["live"]
        for c in (chair, member):
            assert (await c.call("meeting.join", {"meeting_id": mid}))["ok"]

        named = (await chair.call("poll.create", {"meeting_id": mid, "question": "Biểu quyết công khai?"}))["poll"]
        assert (await chair.call("poll.open", {"poll_id": named["id"]}))["ok"]
        for c in (chair, member):
            assert (await c.call("vote.cast", {"poll_id": named["id"], "choice": "yes"}))["ok"]
        assert (await chair.call("poll.close", {"poll_id": named["id"]}))["ok"]

        hidden = (await chair.call("poll.create", {"meeting_id": mid, "question": "Biểu quyết kín?",
                                                   "secret": True}))["poll"]
        assert (await chair.call("poll.open", {"poll_id": hidden["id"]}))["ok"]
        secret_choices = {"member": "no", "chair": "abstain"}
        receipts = []
        for who, choice in secret_choices.items():
            ack = await people[who]["live"].call("vote.cast", {"poll_id": hidden["id"], "choice": choice})
            assert ack["ok"], ack
            receipts += [v for k, v in ack.items() if k == "receipt" and isinstance(v, str)]
        secret_values += receipts
        assert (await chair.call("poll.close", {"poll_id": hidden["id"]}))["ok"]

        # Signing with passphrases: the secretary reviews (once with a wrong one), the chair signs.
        credentials.init_ca(settings)
        sec_cred = (await credentials.issue(db, settings, "secretary.nhatky", SECRETARY_PASSPHRASE))["id"]
        chair_cred = (await credentials.issue(db, settings, "chair.nhatky", CHAIR_PASSPHRASE))["id"]
        record = _ok(await sec.post(f"/api/meetings/{mid}/records", json={**RESOLUTION, "poll_id": named["id"]}), 201)
        wrong = await sec.post(f"/api/records/{record['id']}/review",
                               json={"credential_id": sec_cred, "secret": WRONG_PASSPHRASE})
        assert wrong.status_code == 403, wrong.text
        _ok(await sec.post(f"/api/records/{record['id']}/review",
                           json={"credential_id": sec_cred, "secret": SECRETARY_PASSPHRASE}))
        _ok(await chair_http.post(f"/api/records/{record['id']}/sign",
                                  json={"credential_id": chair_cred, "secret": CHAIR_PASSPHRASE}))

        new_password = _password("member-new")
        secret_values.append(new_password)
        _ok(await member_browser.post("/api/auth/password", json={"current_password": people["member"]["password"],
                                                                  "new_password": new_password}), 204)
        refused = await browser().post("/api/auth/login", json={"username": "member.nhatky",
                                                                 "password": people["member"]["password"]})
        assert refused.status_code == 401
        assert (await sec.post("/api/auth/logout")).status_code in (200, 204)
    finally:
        for c in live:
            await c.close()
        for h in clients:
            await h.aclose()
        await db.dispose()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    text = log.read_text(errors="replace")
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    loggers = {line["logger"].split(".")[0] for line in lines}
    # Debug logging was really on, the chatty libraries included.
    assert {"uvicorn", "engineio", "socketio", "sqlalchemy", "aiosqlite", "ecabinet"} <= loggers, sorted(loggers)
    assert any(line["logger"] == "engineio.server" and "packet" in line["message"] for line in lines)
    for value in secret_values:
        assert len(value) >= 8
        assert value not in text, f"a secret ({value[:4]}…) is in the log"
    # No choice of the secret poll next to anything: neither as a field nor in a message.
    for match in re.finditer(r"""(?i)choice["']?\s*[:=]\s*["']?([A-Za-z_]+)""", text):
        assert match.group(1) not in secret_choices.values(), match.group(0)
    votes = [line for line in lines if line.get("event") == "vote.cast"]
    assert len(votes) == 4
    for line in votes:
        assert {"user_id", "latency_ms", "outcome", "sid"} <= set(line) and line["outcome"] == "ok", line
        assert not set(re.findall(r"\w+", json.dumps(line))) & set(secret_choices.values()), line
    # One line per request, with its id, user, route template, status, latency and outcome.
    requests = [line for line in lines if line["logger"] == "ecabinet.access"]
    signed = [line for line in requests if line.get("route") == "/api/records/{record_id}/sign"]
    assert len(signed) == 1 and signed[0]["status"] == 200 and signed[0]["user_id"] == people["chair"]["id"]
    assert all(len(line["request_id"]) == 16 and isinstance(line["latency_ms"], float) for line in requests)
    refused_review = [line for line in requests if line.get("route") == "/api/records/{record_id}/review"
                      and line["status"] == 403]
    assert refused_review and refused_review[0]["outcome"] == "wrong_passphrase"
    started = [line for line in requests if line.get("route") == "/api/meetings/{meeting_id}/transitions"]
    assert {line["meeting_id"] for line in started} == {mid}
