"""/api/meetings/{id}/agenda: positions stay 1..n whatever staff do (add at the end or at a position,
delete, reorder); a reorder is all or nothing; attendees cannot change the agenda; a closed meeting's
agenda is history."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from backend.models import AgendaItem
from tests.integration.conftest import Cast, Client, Server
from tests.integration.helpers import assert_error, audit_head, audit_since, ids, nothing_written, ok, positions


def _url(meeting: dict[str, Any], tail: str = "") -> str:
    return f"/api/meetings/{meeting['id']}/agenda{tail}"


async def _agenda(cast: Cast, meeting: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(await cast["secretary"].client.get(_url(meeting)))
    assert positions(items) == list(range(1, len(items) + 1)), items
    return items


async def _titles(cast: Cast, meeting: dict[str, Any]) -> list[str]:
    return [i["title"] for i in await _agenda(cast, meeting)]


async def _with_items(cast: Cast, meeting: dict[str, Any], *titles: str) -> list[dict[str, Any]]:
    for title in titles:
        ok(await cast["secretary"].client.post(_url(meeting), json={"title": title}), 201)
    return await _agenda(cast, meeting)


async def test_items_added_without_a_position_go_to_the_end(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    head = await audit_head(root)
    first = ok(await cast["secretary"].client.post(_url(meeting), json={
        "title": "  Báo cáo tình hình kinh tế - xã hội  ", "presenter": "Sở Kế hoạch và Đầu tư", "planned_minutes": 30,
        "description": "Quý IV"}), 201)
    assert (first["title"], first["presenter"], first["planned_minutes"], first["description"], first["status"],
            first["position"]) == ("Báo cáo tình hình kinh tế - xã hội", "Sở Kế hoạch và Đầu tư", 30, "Quý IV",
                                   "pending", 1)
    second = ok(await cast["chair"].client.post(_url(meeting), json={"title": "Dự toán ngân sách"}), 201)
    assert second["position"] == 2 and second["planned_minutes"] == 0 and second["presenter"] == ""
    items = await _agenda(cast, meeting)
    assert ids(items) == [first["id"], second["id"]] and items[0] == first
    detail = ok(await cast["secretary"].client.get(f"/api/meetings/{meeting['id']}"))
    assert detail["agenda"] == items
    assert [(e["action"], e["object_id"], e["details"]) for e in await audit_since(root, head)] == [
        ("agenda.added", first["id"], {"title": first["title"], "position": 1}),
        ("agenda.added", second["id"], {"title": "Dự toán ngân sách", "position": 2})]


async def test_an_item_added_at_a_position_shifts_the_rest_down(cast: Cast, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    await _with_items(cast, meeting, "B", "D")
    sec = cast["secretary"].client
    assert ok(await sec.post(_url(meeting), json={"title": "A", "position": 1}), 201)["position"] == 1
    assert ok(await sec.post(_url(meeting), json={"title": "C", "position": 3}), 201)["position"] == 3
    # Past the end is the end.
    assert ok(await sec.post(_url(meeting), json={"title": "E", "position": 99}), 201)["position"] == 5
    assert await _titles(cast, meeting) == ["A", "B", "C", "D", "E"]
    for bad in (0, -1, 10_001, "1", 1.5):
        assert_error(await sec.post(_url(meeting), json={"title": "X", "position": bad}), 422, "validation_error")
    assert await _titles(cast, meeting) == ["A", "B", "C", "D", "E"]


async def test_staff_edit_an_item_but_not_its_position_or_status(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    item = (await _with_items(cast, meeting, "Cũ", "Khác"))[0]
    edited = ok(await cast["chair"].client.patch(_url(meeting, f"/{item['id']}"), json={
        "title": "Mới", "presenter": "Giám đốc Sở Tài chính", "planned_minutes": 45, "description": "Chi tiết"}))
    assert (edited["title"], edited["presenter"], edited["planned_minutes"], edited["description"],
            edited["position"]) == ("Mới", "Giám đốc Sở Tài chính", 45, "Chi tiết", 1)
    assert (await _agenda(cast, meeting))[0] == edited
    async with nothing_written(root, (cast["secretary"].client, _url(meeting))):
        for body in ({"position": 2}, {"status": "done"}, {"title": None}, {"title": ""}, {"planned_minutes": 1441},
                     {"planned_minutes": -1}, {"title": "t" * 501}, {"presenter": "p" * 201},
                     {"description": "d" * 10_001}, {"meeting_id": 1}):
            assert_error(await cast["secretary"].client.patch(_url(meeting, f"/{item['id']}"), json=body), 422,
                         "validation_error")


async def test_deleting_an_item_renumbers_the_rest(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    items = await _with_items(cast, meeting, "1", "2", "3", "4")
    head = await audit_head(root)
    r = await cast["secretary"].client.delete(_url(meeting, f"/{items[1]['id']}"))
    assert r.status_code == 204 and r.content == b""
    after = await _agenda(cast, meeting)
    assert [(i["title"], i["position"]) for i in after] == [("1", 1), ("3", 2), ("4", 3)]
    entries = await audit_since(root, head)
    assert [(e["action"], e["object_id"]) for e in entries] == [("agenda.deleted", items[1]["id"])]
    assert_error(await cast["secretary"].client.delete(_url(meeting, f"/{items[1]['id']}")), 404, "not_found")
    # Then adding at the end continues at 4.
    assert ok(await cast["secretary"].client.post(_url(meeting), json={"title": "5"}), 201)["position"] == 4


async def test_an_item_already_discussed_cannot_be_deleted(server: Server, cast: Cast, root: Client,
                                                          new_meeting: Any) -> None:
    meeting = await new_meeting("in_progress")
    items = await _with_items(cast, meeting, "Đã thảo luận", "Chưa")
    async with server.db.write() as s:  # what the chair's live console will do
        item = await s.get(AgendaItem, items[0]["id"])
        assert item is not None
        item.status = "done"
        s.add(item)
    async with nothing_written(root, (cast["secretary"].client, _url(meeting))):
        assert_error(await cast["chair"].client.delete(_url(meeting, f"/{items[0]['id']}")), 409, "item_settled")
    assert (await cast["chair"].client.delete(_url(meeting, f"/{items[1]['id']}"))).status_code == 204


async def test_a_reorder_naming_every_item_once_sets_the_new_order(cast: Cast, root: Client,
                                                                  new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    items = await _with_items(cast, meeting, "A", "B", "C", "D")
    order = [items[2]["id"], items[0]["id"], items[3]["id"], items[1]["id"]]
    head = await audit_head(root)
    answer = ok(await cast["chair"].client.put(_url(meeting, "/order"), json={"item_ids": order}))
    assert ids(answer) == order and positions(answer) == [1, 2, 3, 4]
    assert await _titles(cast, meeting) == ["C", "A", "D", "B"]
    assert [(e["action"], e["details"]) for e in await audit_since(root, head)] == [("agenda.reordered",
                                                                                       {"order": order})]


async def test_reordering_an_empty_agenda_with_an_empty_list_is_fine(cast: Cast, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    assert ok(await cast["secretary"].client.put(_url(meeting, "/order"), json={"item_ids": []})) == []


async def test_a_bad_reorder_is_400_and_leaves_the_order_alone(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting, other = await new_meeting("draft"), await new_meeting("draft")
    a, b, c = ids(await _with_items(cast, meeting, "A", "B", "C"))
    foreign = ids(await _with_items(cast, other, "Của phiên khác"))[0]
    sec = cast["secretary"].client
    async with nothing_written(root, (sec, _url(meeting)), (sec, _url(other))):
        for order in ([c, b, a, foreign],  # names a foreign item
                      [c, b, foreign],  # swaps one for a foreign item
                      [c, a],  # leaves one out
                      [c, b, a, a],  # repeats one
                      [c, c, b],  # repeats one and leaves one out
                      [c, b, 2_000_000_000],  # names no item at all
                      []):  # names none
            assert_error(await sec.put(_url(meeting, "/order"), json={"item_ids": order}), 400, "invalid")
        for body in ({"item_ids": [0, a, b]}, {"item_ids": f"{a},{b},{c}"}, {"item_ids": [str(a), b, c]}, {},
                     {"item_ids": [c, b, a], "extra": 1}):
            assert_error(await sec.put(_url(meeting, "/order"), json=body), 422, "validation_error")
    assert await _titles(cast, meeting) == ["A", "B", "C"]


async def test_an_item_of_another_meeting_is_404_under_this_one(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting, other = await new_meeting("draft"), await new_meeting("draft")
    await _with_items(cast, meeting, "Của phiên này")
    foreign = (await _with_items(cast, other, "Của phiên khác"))[0]["id"]
    sec = cast["secretary"].client
    async with nothing_written(root, (sec, _url(meeting)), (sec, _url(other))):
        for item_id in (foreign, 2_000_000_000, 99_999_999_999):
            assert_error(await sec.patch(_url(meeting, f"/{item_id}"), json={"title": "Chiếm"}), 404, "not_found")
            assert_error(await sec.delete(_url(meeting, f"/{item_id}")), 404, "not_found")


async def test_attendees_and_outsiders_cannot_change_the_agenda(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    items = await _with_items(cast, meeting, "A", "B")
    item = items[0]["id"]
    async with nothing_written(root, (cast["secretary"].client, _url(meeting))):
        for who in ("member", "guest", "bridge", "outsider", "other_secretary"):
            c = cast[who].client
            # Attendees see the meeting (403); who takes no part is not told it exists (404).
            status, code = (403, "forbidden") if who in ("member", "guest", "bridge") else (404, "not_found")
            assert_error(await c.post(_url(meeting), json={"title": "Chen vào"}), status, code)
            assert_error(await c.patch(_url(meeting, f"/{item}"), json={"title": "Sửa"}), status, code)
            assert_error(await c.delete(_url(meeting, f"/{item}")), status, code)
            assert_error(await c.put(_url(meeting, "/order"), json={"item_ids": ids(items)[::-1]}), status, code)
    # Attendees do read it.
    for who in ("member", "guest", "bridge"):
        assert [i["title"] for i in ok(await cast[who].client.get(_url(meeting)))] == ["A", "B"]
    assert_error(await cast["outsider"].client.get(_url(meeting)), 404, "not_found")


async def test_staff_change_the_agenda_during_the_session(cast: Cast, new_meeting: Any) -> None:
    meeting = await new_meeting("in_progress")
    items = await _with_items(cast, meeting, "A", "B")
    added = ok(await cast["chair"].client.post(_url(meeting), json={"title": "Phát sinh", "position": 2}), 201)
    assert await _titles(cast, meeting) == ["A", "Phát sinh", "B"]
    order = [items[1]["id"], items[0]["id"], added["id"]]
    ok(await cast["chair"].client.put(_url(meeting, "/order"), json={"item_ids": order}))
    assert await _titles(cast, meeting) == ["B", "A", "Phát sinh"]


@pytest.mark.parametrize("state", ["closed", "archived"])
async def test_the_agenda_of_a_finished_meeting_cannot_change(cast: Cast, root: Client, new_meeting: Any,
                                                             state: str) -> None:
    meeting = await new_meeting("published")
    items = await _with_items(cast, meeting, "A", "B")
    ok(await cast["chair"].client.post(f"/api/meetings/{meeting['id']}/transitions", json={"action": "start"}))
    ok(await cast["chair"].client.post(f"/api/meetings/{meeting['id']}/transitions", json={"action": "close"}))
    if state == "archived":
        ok(await cast["secretary"].client.post(f"/api/meetings/{meeting['id']}/transitions",
                                               json={"action": "archive"}))
    item = items[0]["id"]
    async with nothing_written(root, (cast["secretary"].client, _url(meeting))):
        for who in ("chair", "secretary"):
            c = cast[who].client
            assert_error(await c.post(_url(meeting), json={"title": "Muộn"}), 409, "invalid_state")
            assert_error(await c.patch(_url(meeting, f"/{item}"), json={"title": "Sửa"}), 409, "invalid_state")
            assert_error(await c.delete(_url(meeting, f"/{item}")), 409, "invalid_state")
            assert_error(await c.put(_url(meeting, "/order"), json={"item_ids": ids(items)[::-1]}), 409,
                         "invalid_state")
        assert_error(await cast["member"].client.post(_url(meeting), json={"title": "Muộn"}), 403, "forbidden")


async def test_agenda_text_limits(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    sec = cast["secretary"].client
    long_title = ("Nghị quyết về phát triển kinh tế - xã hội " * 20)[:500]
    assert ok(await sec.post(_url(meeting), json={"title": long_title, "presenter": "Đ" * 200,
                                                  "description": "ữ" * 10_000, "planned_minutes": 1440}), 201
              )["title"] == long_title.strip()
    async with nothing_written(root, (sec, _url(meeting))):
        for body in ({"title": "t" * 501}, {"title": "   "}, {"title": "A", "presenter": "p" * 201},
                     {"title": "A", "description": "d" * 10_001}, {"title": "A", "planned_minutes": 1441},
                     {"title": "A", "status": "done"}, {"title": 5}, {}):
            assert_error(await sec.post(_url(meeting), json=body), 422, "validation_error")


async def test_ten_concurrent_adds_keep_positions_one_to_n(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    await _with_items(cast, meeting, "Có sẵn")
    staff = [cast["secretary"].client, cast["chair"].client]
    answers = await asyncio.gather(*(
        staff[i % 2].post(_url(meeting), json={"title": f"Mục {i}", **({"position": 1} if i % 3 == 0 else {})})
        for i in range(10)))
    assert [r.status_code for r in answers] == [201] * 10, [r.text for r in answers]
    items = await _agenda(cast, meeting)  # checks positions are exactly 1..n
    assert len(items) == 11 and len(set(ids(items))) == 11
    assert sorted(i["title"] for i in items) == sorted(["Có sẵn", *(f"Mục {i}" for i in range(10))])
    assert {r.json()["id"] for r in answers} <= set(ids(items))
    verify = ok(await root.get("/api/audit/verify"))
    assert verify["ok"] is True, verify


async def test_concurrent_deletes_and_adds_keep_positions_one_to_n(cast: Cast, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    items = await _with_items(cast, meeting, *(f"Mục {i}" for i in range(8)))
    sec, chair = cast["secretary"].client, cast["chair"].client
    answers = await asyncio.gather(*(sec.delete(_url(meeting, f"/{i['id']}")) for i in items[::2]),
                                   *(chair.post(_url(meeting), json={"title": f"Mới {i}", "position": 2})
                                     for i in range(4)))
    assert sorted(r.status_code for r in answers) == [201] * 4 + [204] * 4, [r.text for r in answers]
    remaining = await _agenda(cast, meeting)
    assert len(remaining) == 8
