from __future__ import annotations

from typing import Any


async def test_chair_moves_agenda_and_member_follows(session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid, items = session_world["people"], session_world["meeting_id"], session_world["items"]
    chair = await live_factory(people["chair"])
    member = await live_factory(people["member"])
    joined = await member.call("meeting.join", {"meeting_id": mid})
    assert joined["ok"], joined
    assert joined["state"]["meeting"]["status"] == "in_progress"
    assert joined["state"]["presenter"]["item_id"] == items[0]["id"]
    assert (await chair.call("meeting.join", {"meeting_id": mid}))["ok"]
    ack = await chair.call("agenda.goto", {"meeting_id": mid, "item_id": items[1]["id"]})
    assert ack["ok"], ack
    pushed = await member.wait_for("agenda.changed", lambda d: d["current_item_id"] == items[1]["id"])
    assert [i["status"] for i in pushed["agenda"]] == ["done", "current"]
    refused = await member.call("agenda.goto", {"meeting_id": mid, "item_id": items[0]["id"]})
    assert refused == {"ok": False, "error": {"code": "forbidden", "message": refused["error"]["message"]}}
