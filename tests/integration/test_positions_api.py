"""Positions before a session, on SQLite and PostgreSQL: members mark the agenda items, the staff see
them, wishes to speak join the speaker queues when the session starts, and the chair adopts the
unopposed items together in one recorded step."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from backend.models import AgendaItem, AuditEntry, SpeakerTurn
from tests.integration.conftest import Server


async def test_positions_queue_wishes_and_adopt_the_unopposed_items(server: Server, world: dict[str, Any]) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    sec, chair, member, member2 = (people[k].client for k in ("secretary", "chair", "member", "member2"))
    items = []
    for title in ("Báo cáo công tác tháng", "Dự thảo Nghị định A", "Đề án B", "Tờ trình C"):
        r = await sec.post(f"/api/meetings/{mid}/agenda", json={"title": title})
        items.append(r.json()["id"])
    early = await member.put(f"/api/meetings/{mid}/positions", json={"agenda_item_id": items[0],
                                                                      "position": "no_objection"})
    assert early.status_code == 404  # a draft is not the members' yet: not even seen
    assert (await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})).status_code == 200
    url = f"/api/meetings/{mid}/positions"
    for client, item, position, reason in [
        (member, items[0], "no_objection", None), (member2, items[0], "no_objection", None),
        (member, items[1], "objection", "Chưa lấy ý kiến Bộ Tư pháp."), (member2, items[2], "wish_to_speak", None),
        (member, items[2], "objection", "Thiếu đánh giá tác động."), (member, items[2], "no_objection", None),
        (chair, items[0], "no_objection", None), (chair, items[3], "no_objection", None),
        (member, items[3], "no_objection", None), (member2, items[3], "no_objection", None),
    ]:
        r = await client.put(url, json={"agenda_item_id": item, "position": position, "reason": reason})
        assert r.status_code == 200, r.text
    mine = (await member.get(url)).json()["items"]
    assert [i["mine"]["position"] if i["mine"] else None for i in mine] == [
        "no_objection", "objection", "no_objection", "no_objection"]  # the last word on item 3 counts
    assert mine[1]["mine"]["reason"] == "Chưa lấy ý kiến Bộ Tư pháp."  # loaded back with the position
    assert "positions" not in mine[0]
    staff_view = (await sec.get(url)).json()["items"]
    assert [i["adoptable"] for i in staff_view] == [True, False, False, True]
    assert {(p["full_name"], p["position"]) for p in staff_view[2]["positions"]} == {
        ("Người member", "no_objection"), ("Người member2", "wish_to_speak")}
    for client, body, status, code in [
        (member, {"agenda_item_id": items[1], "position": "objection"}, 400, "reason_required"),
        (member, {"agenda_item_id": 2_000_000, "position": "no_objection"}, 400, "unknown_item"),
        (member, {"agenda_item_id": items[1], "position": "maybe"}, 422, "validation_error"),
        (people["guest"].client, {"agenda_item_id": items[1], "position": "no_objection"}, 403, "forbidden"),
        (sec, {"agenda_item_id": items[1], "position": "no_objection"}, 403, "forbidden"),
    ]:
        r = await client.put(url, json=body)
        assert r.status_code == status and r.json()["error"]["code"] == code, (body, r.text)
    assert (await chair.post(f"{url}/adopt")).status_code == 409  # not before the session starts

    assert (await chair.post(f"/api/meetings/{mid}/transitions", json={"action": "start"})).status_code == 200
    async with server.db.read() as s:
        turns = (await s.exec(select(SpeakerTurn).where(SpeakerTurn.meeting_id == mid))).all()
    assert [(t.agenda_item_id, t.status) for t in turns] == [(items[2], "waiting")]
    assert (await member.post(f"{url}/adopt")).status_code == 403
    adopted = await chair.post(f"{url}/adopt")
    assert adopted.status_code == 200, adopted.text
    # The first item (current since the start) and the last are adopted together; the session moves on.
    assert adopted.json()["adopted"] == [items[0], items[3]]
    async with server.db.read() as s:
        statuses = [i.status for i in (await s.exec(select(AgendaItem).where(AgendaItem.meeting_id == mid)
                                                    .order_by(col(AgendaItem.position)))).all()]
        entry = (await s.exec(select(AuditEntry).where(AuditEntry.action == "agenda.adopted_together",
                                                       AuditEntry.meeting_id == mid))).one()
    assert statuses == ["adopted", "current", "pending", "adopted"]
    assert "Tờ trình C" in entry.details
    again = await chair.post(f"{url}/adopt")
    assert again.status_code == 409 and again.json()["error"]["code"] == "nothing_to_adopt"


async def test_silence_is_not_consent_and_the_staff_see_who_has_not_answered(server: Server,
                                                                           world: dict[str, Any]) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    sec, chair, member, member2 = (people[k].client for k in ("secretary", "chair", "member", "member2"))
    item = (await sec.post(f"/api/meetings/{mid}/agenda", json={"title": "Tờ trình D"})).json()["id"]
    assert (await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})).status_code == 200
    url = f"/api/meetings/{mid}/positions"
    for client in (member, member2):
        r = await client.put(url, json={"agenda_item_id": item, "position": "no_objection"})
        assert r.status_code == 200, r.text
    staff_view = (await sec.get(url)).json()
    # The chair (entitled: chair with a vote) has not answered: the item is not adopted without debate.
    assert staff_view["entitled"] == 3
    assert staff_view["items"][0]["adoptable"] is False
    assert [p["full_name"] for p in staff_view["items"][0]["not_answered"]] == ["Người chair"]
    assert "not_answered" not in (await member.get(url)).json()["items"][0]
    assert (await chair.post(f"/api/meetings/{mid}/transitions", json={"action": "start"})).status_code == 200
    refused = await chair.post(f"{url}/adopt")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "nothing_to_adopt"
    async with server.db.read() as s:
        assert (await s.get(AgendaItem, item)).status != "adopted"  # type: ignore[union-attr]
