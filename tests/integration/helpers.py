"""Assertions shared by the REST API tests: the error shape, and "nothing was written" (the views a
refused request could have touched are unchanged, and the audit log gained no entry)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import Client

View = tuple[Client, str]


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The answer is `status` with the JSON body {"error": {"code", "message"}} (and `code` if given)."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers.get("content-type")
    body = r.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and {"code", "message"} <= set(error) <= {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    if code is not None:
        assert error["code"] == code, f"expected code {code!r}, got {error['code']!r}: {r.text}"
    return error


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    return r.json() if r.content else None


async def audit_head(admin: Client) -> int:
    """The newest audit entry's seq (0 when the log is empty)."""
    entries = ok(await admin.get("/api/audit", params={"limit": 1}))
    return entries[0]["seq"] if entries else 0


async def audit_since(admin: Client, seq: int) -> list[dict[str, Any]]:
    """Audit entries newer than `seq`, oldest first."""
    limit = 20
    while True:
        entries = ok(await admin.get("/api/audit", params={"limit": limit}))
        if len(entries) < limit or entries[-1]["seq"] <= seq or limit == 1000:
            break
        limit = min(limit * 10, 1000)
    newer = sorted((e for e in entries if e["seq"] > seq), key=lambda e: e["seq"])
    assert len(newer) < 1000, "too many new audit entries to check"
    return newer


async def _look(views: tuple[View, ...]) -> list[tuple[int, Any]]:
    seen = []
    for client, url in views:
        r = await client.get(url)
        seen.append((r.status_code, r.json()))
    return seen


@asynccontextmanager
async def nothing_written(admin: Client, *views: View) -> AsyncIterator[None]:
    """Inside the block, only refused requests: afterwards every view answers exactly as before and
    the audit log has no new entry."""
    head = await audit_head(admin)
    before = await _look(views)
    yield
    after = await _look(views)
    for (_, url), was, now in zip(views, before, after, strict=True):
        assert now == was, f"GET {url} changed after a refused request:\nbefore {was}\nafter  {now}"
    new = await audit_since(admin, head)
    assert new == [], f"a refused request wrote audit entries: {new}"


def positions(agenda: list[dict[str, Any]]) -> list[int]:
    return [item["position"] for item in agenda]


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""A /metrics scrape: (sample name, its labels) -> value."""


def parse(exposition: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when it is absent (a counter not yet moved)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
