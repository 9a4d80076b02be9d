"""/api/audit: administrators read the hash-chained log and verify it end to end; tampering with any
stored entry is detected at that entry."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import select

from backend.models import AuditEntry
from tests.integration.conftest import Cast, Client, Server
from tests.integration.helpers import assert_error, audit_head, audit_since, ok


async def test_only_administrators_read_or_verify_the_audit_log(server: Server, cast: Cast) -> None:
    for who in ("secretary", "chair", "member"):
        for url in ("/api/audit", "/api/audit/verify"):
            assert_error(await cast[who].client.get(url), 403, "forbidden")
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        for url in ("/api/audit", "/api/audit/verify"):
            assert_error(await anonymous.get(url), 401, "not_authenticated")


async def test_entries_come_newest_first_and_filter_by_meeting(root: Client, cast: Cast, new_meeting: Any) -> None:
    head = await audit_head(root)
    meeting = await new_meeting("published", roles=("chair",))
    entries = ok(await root.get("/api/audit", params={"limit": 50}))
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
    mine = ok(await root.get("/api/audit", params={"meeting_id": meeting["id"]}))
    assert {e["meeting_id"] for e in mine} == {meeting["id"]}
    assert [e["action"] for e in reversed(mine)] == ["meeting.created", "participant.added", "meeting.publish"]
    assert all(e["seq"] > head for e in mine)
    assert [e["seq"] for e in ok(await root.get("/api/audit", params={"limit": 2}))] == seqs[:2]
    for params in ({"limit": 0}, {"limit": 1001}, {"limit": "ten"}, {"meeting_id": 0}, {"meeting_id": 99999999999},
                   {"actor": 1}):
        assert_error(await root.get("/api/audit", params=params), 422, "validation_error")


async def test_the_chain_verifies_with_its_entry_count(root: Client, cast: Cast) -> None:
    result = ok(await root.get("/api/audit/verify"))
    assert result == {"ok": True, "entries": await audit_head(root), "first_broken_seq": None}


async def test_refused_requests_do_not_reach_the_audit_log(root: Client, cast: Cast, new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    head = await audit_head(root)
    member = cast["member"].client
    assert_error(await member.post(f"/api/meetings/{meeting['id']}/transitions", json={"action": "start"}), 403)
    assert_error(await cast["chair"].client.post(f"/api/meetings/{meeting['id']}/transitions",
                                                 json={"action": "archive"}), 403)
    assert_error(await member.post(f"/api/meetings/{meeting['id']}/agenda", json={"title": "x"}), 403)
    assert_error(await member.http.post("/api/users", json={}), 403, "csrf_failed")
    assert await audit_since(root, head) == []


async def _tamper(server: Server, seq: int, column: str, value: Any) -> Any:
    """Set one column of one stored entry, straight in the database; returns the old value."""
    async with server.db.write() as s:
        entry = (await s.exec(select(AuditEntry).where(AuditEntry.seq == seq))).one()
        old = getattr(entry, column)
        setattr(entry, column, value)
        s.add(entry)
    return old


async def test_a_tampered_entry_breaks_the_chain_at_that_entry(server: Server, root: Client, cast: Cast) -> None:
    total = await audit_head(root)
    assert total >= 3
    target = total // 2
    for column, value in [("details", '{"username":"ke-gian-lan"}'), ("action", "user.deleted"),
                          ("actor_id", 999_999), ("hash", "f" * 64)]:
        old = await _tamper(server, target, column, value)
        try:
            result = ok(await root.get("/api/audit/verify"))
            assert result["ok"] is False, (column, result)
            assert result["first_broken_seq"] == target, (column, result)
            assert result["entries"] >= total
        finally:
            await _tamper(server, target, column, old)
    restored = ok(await root.get("/api/audit/verify"))
    assert restored["ok"] is True and restored["first_broken_seq"] is None, restored
