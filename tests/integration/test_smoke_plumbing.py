from __future__ import annotations

from typing import Any


async def test_member_sees_meeting_once_published(world: dict[str, Any]) -> None:
    meeting = world["meeting"]
    member = world["people"]["member"].client
    assert (await member.get(f"/api/meetings/{meeting['id']}")).status_code == 404  # a draft: not even its existence
    sec = world["people"]["secretary"].client
    r = await sec.post(f"/api/meetings/{meeting['id']}/transitions", json={"action": "publish"})
    assert r.status_code == 200, r.text
    r = await member.get(f"/api/meetings/{meeting['id']}")
    assert r.status_code == 200
    assert r.json()["my_role"] == "member"
    assert meeting["id"] in [m["id"] for m in (await member.get("/api/meetings")).json()]
