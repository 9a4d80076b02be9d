"""The exchange benchmark (bench/exchange.py), shortened: two packages and two sends between two real
`ecabinet serve` instances through the local gateway; it must finish and print each figure beside its baseline
(`make bench` runs the full one, docs/BENCHMARKS.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_exchange_benchmark_runs_and_prints_its_figures_beside_their_baselines() -> None:
    done = subprocess.run([sys.executable, str(REPO / "bench" / "exchange.py"), "--packages", "2", "--sends", "2"],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    out = done.stdout
    throughput = re.search(r"received\+verified: ([\d.]+) packages/s \(baseline .*: ([\d.]+)/s; ratio ([\d.]+)x", out)
    inbox = re.search(r"inbox row: p50 (\d+) ms, p99 (\d+) ms", out)
    latency = re.search(r"01 arrived in our tracking: p50 (\d+) ms, p99 (\d+) ms \(baseline plain POST .* "
                        r"p99 (\d+) ms; ratio (\d+)x", out)
    assert throughput and inbox and latency, out
    assert 0 < int(inbox[1]) <= int(latency[1])  # the 01 comes back after the document arrived
    assert float(throughput[1]) > 0 and float(throughput[2]) > 0 and float(throughput[3]) > 0
    assert 0 < int(latency[1]) <= int(latency[2]) and int(latency[3]) >= 0
