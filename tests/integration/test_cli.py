"""The `ecabinet` command as an operator uses it, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port


def ecabinet(data_dir: Path, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"ECABINET_DATA_DIR": str(data_dir), **(extra_env or {})})
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_demo_loads_once_and_prints_the_passwords_only_the_first_time(tmp_path: Path) -> None:
    first = ecabinet(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    assert "thutuong" in first.stdout and "ChuToa@2026" in first.stdout
    assert "vpcp.thuky" in first.stdout and "Điểm cầu Hà Nội" in first.stdout
    second = ecabinet(tmp_path, "demo")
    assert second.returncode == 0 and "already loaded" in second.stdout and "ChuToa@2026" not in second.stdout
    listing = ecabinet(tmp_path, "user", "list")
    assert listing.returncode == 0
    assert len([line for line in listing.stdout.splitlines() if line.strip()]) == 11
    assert "Nguyễn Văn An" in listing.stdout


def test_user_add_and_passwd_from_stdin(tmp_path: Path) -> None:
    assert ecabinet(tmp_path, "migrate").returncode == 0
    added = ecabinet(tmp_path, "user", "add", "bo.noivu", "--full-name", "Bộ trưởng Bộ Nội vụ", "--password-stdin",
                     stdin="Mat-khau-noi-vu-1\n")
    assert added.returncode == 0, added.stderr
    again = ecabinet(tmp_path, "user", "add", "bo.noivu", "--full-name", "X", "--password-stdin",
                     stdin="Mat-khau-noi-vu-1\n")
    assert again.returncode != 0 and "taken" in again.stderr
    weak = ecabinet(tmp_path, "user", "add", "bo.yte", "--full-name", "Y", "--password-stdin", stdin="short\n")
    assert weak.returncode != 0 and "password" in weak.stderr
    changed = ecabinet(tmp_path, "user", "passwd", "bo.noivu", "--password-stdin", stdin="Mat-khau-moi-2026\n")
    assert changed.returncode == 0, changed.stderr
    missing = ecabinet(tmp_path, "user", "passwd", "nobody", "--password-stdin", stdin="Mat-khau-moi-2026\n")
    assert missing.returncode != 0 and "no user" in missing.stderr


def test_production_mode_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = ecabinet(tmp_path, "serve", "--port", str(free_port()), extra_env={"ECABINET_MODE": "production"},
                      timeout=30)
    assert result.returncode != 0
    assert "ECABINET_SECRET_KEY" in result.stderr


def test_production_mode_refuses_demo_accounts(tmp_path: Path) -> None:
    result = ecabinet(tmp_path, "demo", extra_env={"ECABINET_MODE": "production", "ECABINET_SECRET_KEY": "k" * 48})
    assert result.returncode != 0 and "production" in result.stderr


@pytest.mark.parametrize("argv", [["frobnicate"], ["user"], ["serve", "--port", "http"]])
def test_bad_command_lines_are_refused_with_usage(tmp_path: Path, argv: list[str]) -> None:
    result = ecabinet(tmp_path, *argv)
    assert result.returncode == 2 and "usage:" in result.stderr


def test_pki_and_verify_from_the_command_line(tmp_path: Path) -> None:
    """Demo signers get certificates; an operator issues one; `verify` answers 0 valid / 1 invalid / 2 error."""
    import asyncio

    first = ecabinet(tmp_path, "demo")
    assert first.returncode == 0 and "KySo@2026" in first.stdout, first.stdout + first.stderr
    assert "ca_exists" in ecabinet(tmp_path, "pki", "init").stderr
    listed = ecabinet(tmp_path, "pki", "list", "thutuong")
    assert listed.returncode == 0 and "Nguyễn Văn An" in listed.stdout and " usable" in listed.stdout
    weak = ecabinet(tmp_path, "pki", "issue", "bo.tuphap", "--secret-stdin", stdin="short\n")
    assert weak.returncode != 0 and "weak_passphrase" in weak.stderr
    issued = ecabinet(tmp_path, "pki", "issue", "bo.tuphap", "--secret-stdin", stdin="Khoa-ky-tu-phap\n")
    assert issued.returncode == 0 and "Hoàng Thu Hà" in issued.stdout, issued.stderr
    assert ecabinet(tmp_path, "pki", "issue", "nobody", "--secret-stdin", stdin="Khoa-ky-tu-phap\n").returncode != 0
    bad_p12 = tmp_path / "bad.p12"
    bad_p12.write_bytes(b"not a p12")
    assert "invalid_pkcs12" in ecabinet(tmp_path, "pki", "import", "bo.tuphap", str(bad_p12), "--secret-stdin",
                                        stdin="x\n").stderr

    import signing as S
    from signing.pki import load_ca

    p12 = S.issue_signing_certificate(load_ca(tmp_path / "pki"), common_name="Vũ Đức Khánh", passphrase="Khoa-ky-123")
    from tests.integration.signing.conftest import make_pdf

    signed = asyncio.run(S.sign_pdf(make_pdf(), S.file_signer(p12, "Khoa-ky-123"), S.SignOptions(field_name="chair")))
    good, tampered, garbage = tmp_path / "good.pdf", tmp_path / "tampered.pdf", tmp_path / "garbage.pdf"
    good.write_bytes(signed)
    broken = bytearray(signed)
    spot = broken.index(b"/MediaBox")
    broken[spot + 1] = ord("N")
    tampered.write_bytes(bytes(broken))
    garbage.write_bytes(b"hello")
    ok = ecabinet(tmp_path, "verify", str(good))
    assert ok.returncode == 0 and "VALID" in ok.stdout and "Vũ Đức Khánh" in ok.stdout, ok.stdout + ok.stderr
    bad = ecabinet(tmp_path, "verify", str(tampered))
    assert bad.returncode == 1 and "NOT VALID" in bad.stdout and "digest mismatch" in bad.stdout
    assert "Traceback" not in bad.stderr, "a failed verification is an answer, not a crash: no traceback"
    stranger_ca = S.init_ca(tmp_path / "stranger-ca")
    stranger = S.issue_signing_certificate(stranger_ca, common_name="Người lạ", passphrase="Khoa-ky-123")
    untrusted = tmp_path / "untrusted.pdf"
    untrusted.write_bytes(asyncio.run(S.sign_pdf(make_pdf(), S.file_signer(stranger, "Khoa-ky-123"),
                                                 S.SignOptions(field_name="chair"))))
    refused = ecabinet(tmp_path, "verify", str(untrusted))
    assert refused.returncode == 1 and "trusted root" in refused.stdout, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr, refused.stderr
    unsigned = tmp_path / "unsigned.pdf"
    unsigned.write_bytes(make_pdf())
    assert ecabinet(tmp_path, "verify", str(unsigned)).returncode == 1
    assert ecabinet(tmp_path, "verify", str(garbage)).returncode == 2
    assert ecabinet(tmp_path, "verify", str(tmp_path / "missing.pdf")).returncode == 2
    as_json = ecabinet(tmp_path, "verify", "--json", str(good))
    assert as_json.returncode == 0 and '"cryptographic_ok": true' in as_json.stdout


def test_verify_of_a_hostile_file_exits_2_with_a_clear_message_within_the_deadline(tmp_path: Path) -> None:
    """The xref-stream bomb of issue 12 (pyHanko allocated without bound): refused at once; the same file
    with its numbers hidden behind comments: killed at ECABINET_VERIFY_SECONDS."""
    import time

    from tests.support.hostile_pdfs import xref_stream_size_bomb

    bomb, hidden = tmp_path / "bomb.pdf", tmp_path / "hidden.pdf"
    bomb.write_bytes(xref_stream_size_bomb())
    hidden.write_bytes(xref_stream_size_bomb(hidden=True))
    started = time.monotonic()
    refused = ecabinet(tmp_path, "verify", str(bomb), timeout=60)
    assert refused.returncode == 2 and "more internal objects" in refused.stderr, refused.stderr
    assert time.monotonic() - started < 30
    started = time.monotonic()
    killed = ecabinet(tmp_path, "verify", str(hidden), extra_env={"ECABINET_VERIFY_SECONDS": "5"}, timeout=60)
    assert killed.returncode == 2 and "too complex" in killed.stderr, killed.stderr
    assert time.monotonic() - started < 30


def _serving(data_dir: Path, port: int) -> subprocess.Popen[str]:
    """`ecabinet serve` as an operator runs it, answering /api/health before this returns."""
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"ECABINET_DATA_DIR": str(data_dir), "ECABINET_LOG_LEVEL": "warning"})
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    import time

    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start")


def test_a_deadline_that_passes_while_the_server_is_stopped_closes_the_round_on_restart(tmp_path: Path) -> None:
    import time
    from datetime import UTC, datetime, timedelta

    import httpx

    assert ecabinet(tmp_path, "demo").returncode == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def login(username: str, password: str) -> httpx.Client:
        token = httpx.post(f"{base}/api/auth/tokens", json={"username": username, "password": password}).json()["token"]
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    proc = _serving(tmp_path, port)
    try:
        sec, member = login("vpcp.thuky", "BienBan@2026"), login("bo.tuphap", "ThanhVien@2026")
        body_id = sec.get("/api/auth/me").json()["user"]["body_id"]
        mid = sec.post("/api/meetings", json={"body_id": body_id, "kind": "opinion_round", "title": "Xin ý kiến",
                                              "starts_at": "2026-12-01T08:00:00+07:00"}).json()["id"]
        member_id = member.get("/api/auth/me").json()["user"]["id"]
        assert sec.post(f"/api/meetings/{mid}/participants", json={"user_id": member_id,
                                                                   "role": "member"}).status_code == 201
        deadline = datetime.now(UTC) + timedelta(seconds=6)
        q = sec.put(f"/api/meetings/{mid}/opinion-round", json={"deadline": deadline.isoformat(),
                                                                "questions": ["Đồng ý?"]}).json()["questions"][0]["id"]
        assert sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}).status_code == 200
        cred = member.get("/api/me/credentials").json()[0]["id"]
        r = member.post(f"/api/meetings/{mid}/opinion-round/ballot", json={
            "answers": [{"question_id": q, "choice": "agree"}], "credential_id": cred, "secret": "KySo@2026"})
        assert r.status_code == 201, r.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.5)  # the deadline passes, no server
    proc = _serving(tmp_path, port)
    try:
        sec = login("vpcp.thuky", "BienBan@2026")
        state: dict[str, object] = {}
        for _ in range(100):
            state = sec.get(f"/api/meetings/{mid}/opinion-round").json()
            if state["status"] == "closed":
                break
            time.sleep(0.1)
        assert state["status"] == "closed", state
        report = sec.get(f"/api/meetings/{mid}/opinion-round/report")
        assert report.status_code == 200 and report.content.startswith(b"%PDF")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_trace_names_whose_copy_a_leaked_pdf_is(tmp_path: Path) -> None:
    """The demo's documents; a minister downloads one; `ecabinet trace` names him (exit 0), a foreign PDF
    names nobody (exit 1), a missing file is an error (exit 2)."""
    import asyncio

    from backend.config import Settings
    from backend.db import Database
    from backend.services import auth, users
    from backend.services.copies import Copies
    from backend.services.files import FileStore
    from tests.support.sample_pdfs import sample_pdf

    assert ecabinet(tmp_path, "demo").returncode == 0
    settings = Settings.from_env({"ECABINET_DATA_DIR": str(tmp_path)})

    async def download() -> bytes:
        db = Database(settings.effective_database_url)
        try:
            minister = await users.by_username(db, "bo.taichinh")
            assert minister is not None
            data, _ = await Copies(db, FileStore.for_settings(settings), settings).download(
                auth.actor_for(minister), 1, None)
            return data
        finally:
            await db.dispose()

    leaked, foreign = tmp_path / "leaked.pdf", tmp_path / "foreign.pdf"
    leaked.write_bytes(asyncio.run(download()))
    foreign.write_bytes(sample_pdf(1))
    found = ecabinet(tmp_path, "trace", str(leaked))
    assert found.returncode == 0, found.stdout + found.stderr
    assert "Phạm Minh Đức (bo.taichinh): download of document 1 version 1" in found.stdout
    as_json = ecabinet(tmp_path, "trace", "--json", str(leaked))
    assert as_json.returncode == 0 and '"username": "bo.taichinh"' in as_json.stdout
    nobody = ecabinet(tmp_path, "trace", str(foreign))
    assert nobody.returncode == 1 and "no copy of this system found" in nobody.stdout
    assert ecabinet(tmp_path, "trace", str(tmp_path / "missing.pdf")).returncode == 2


def test_an_operator_gives_a_body_its_seal_from_the_command_line(tmp_path: Path) -> None:
    import io

    from PIL import Image

    assert ecabinet(tmp_path, "demo").returncode == 0
    seal = tmp_path / "con-dau.png"
    out = io.BytesIO()
    Image.new("RGBA", (200, 200), (210, 0, 0, 255)).save(out, "PNG")
    seal.write_bytes(out.getvalue())
    done = ecabinet(tmp_path, "seal", "1", str(seal))
    assert done.returncode == 0 and "seal of body 1 stored" in done.stdout, done.stderr
    garbage = tmp_path / "khong-phai-anh.png"
    garbage.write_bytes(b"not an image")
    refused = ecabinet(tmp_path, "seal", "1", str(garbage))
    assert refused.returncode == 1 and "not_a_png" in refused.stderr, refused.stderr
    missing = ecabinet(tmp_path, "seal", "999", str(seal))
    assert missing.returncode == 1 and "not_found" in missing.stderr, missing.stderr


def test_a_served_worker_tunes_its_garbage_collector_and_shows_its_pauses(tmp_path: Path) -> None:
    """`ecabinet serve` freezes what it built before serving and collects the youngest objects after 20,000
    allocations (Python's 700 made a worker with 2,000 tablets stop for 0.4 s every 1-2 s); /metrics shows
    the thresholds, the frozen objects and every collection's pause."""
    import httpx

    port = free_port()
    proc = _serving(tmp_path, port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    figures = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
               if line.startswith("ecabinet_gc_")}
    assert figures['ecabinet_gc_threshold{generation="0"}'] == 20_000, figures
    assert figures["ecabinet_gc_frozen_objects"] > 10_000, figures  # the imports and the application
    # The full collection made before freezing is the first pause counted; every generation is shown.
    assert figures['ecabinet_gc_pause_seconds_count{generation="2"}'] >= 1, figures
    assert figures['ecabinet_gc_pause_seconds_sum{generation="2"}'] > 0, figures
    for generation in "012":
        assert figures[f'ecabinet_gc_pause_seconds_bucket{{generation="{generation}",le="+Inf"}}'] == \
            figures[f'ecabinet_gc_pause_seconds_count{{generation="{generation}"}}']
