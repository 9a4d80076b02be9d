"""Issue 16, item 7: the soak benchmark, shortened (40 members, the session compressed into one minute),
on the production layout when PostgreSQL answers (two workers on a private Redis): no error in any
worker's log and every ballot counted. Memory is reported, not asserted: a minute is no soak, and a
loaded machine moves it (`make bench` runs the full soak, docs/BENCHMARKS.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_short_soak_logs_no_error_and_counts_every_ballot(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    done = subprocess.run([sys.executable, str(REPO / "bench" / "soak.py"), "--clients", "40", "--minutes", "1",
                           "--json", str(out), "--no-memory-check"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=1200)
    assert out.exists(), done.stdout[-3000:] + done.stderr[-5000:]
    result = json.loads(out.read_text())
    assert result["errors_logged"] == [], result["errors_logged"][:10]
    assert result["failed_acks"] == [], result["failed_acks"][:10]
    assert len(result["polls"]) == 5 and [p["secret"] for p in result["polls"]] == [False, False, True, False, True]
    for poll in result["polls"]:
        assert poll["acked"] == poll["counted"] == poll["voters"] == 40, poll
        assert poll["result_received"] == 40, poll
    assert result["storm"]["rejoined"] == result["storm"]["synced"] == 40, result["storm"]
    assert result["annotations"] > 0 and result["speakers"] == 15
    assert set(result["rss_warm"]) == set(result["rss_end"]) and all(result["rss_end"].values())
    assert done.returncode == 0, done.stdout[-3000:]
