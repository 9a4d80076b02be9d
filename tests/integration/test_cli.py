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
    assert "thutuong" in first.stdout and "ThuTuong@2026" in first.stdout
    assert "vpcp.thuky" in first.stdout and "Điểm cầu Hà Nội" in first.stdout
    second = ecabinet(tmp_path, "demo")
    assert second.returncode == 0 and "already loaded" in second.stdout and "ThuTuong@2026" not in second.stdout
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
