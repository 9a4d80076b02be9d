"""The house rules that tools can check: lint, strict typing, and the direction of imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing_in_the_packages() -> None:
    result = _run(str(BIN / "ruff"), "check", "backend", "signing", "media", "exchange")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_imports_follow_the_direction_of_the_design() -> None:
    forbidden = {
        "backend/domain": ("backend.models", "backend.services", "backend.api", "backend.realtime", "backend.db",
                           "signing", "media"),
        "backend/services": ("backend.api", "backend.realtime"),
        "backend/models": ("backend.services", "backend.api", "backend.realtime"),
        "backend/api": ("backend.realtime",),
        "backend/realtime": ("backend.api",),
        "signing": ("backend",),
        "media": ("backend",),
        "exchange": ("backend",),
    }
    broken = []
    for folder, bans in forbidden.items():
        for path in (ROOT / folder).rglob("*.py"):
            for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                words = line.split()
                if len(words) >= 2 and words[0] in ("import", "from") and words[1].startswith(bans):
                    broken.append(f"{path.relative_to(ROOT)}:{line_no}: {line.strip()}")
    assert broken == []
