"""Documents in the live session with real Socket.IO clients: annotations arrive live at the other
readers of the document (and only there), private ones only at their author's devices, an offline
outbox sending one twice stores it once, a change of readers takes the removed ones out of the
document's room, and the presenter shows a document's page to everyone following."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.conftest import Client, Server
from tests.integration.live import LiveClient
from tests.support.sample_pdfs import sample_pdf


async def _upload(sec: Client, meeting_id: int, pages: int, **form: str) -> dict[str, Any]:
    r = await sec.post(f"/api/meetings/{meeting_id}/documents", data=form,
                       files={"file": ("tai-lieu.pdf", sample_pdf(pages), "application/pdf")})
    assert r.status_code == 201, r.text
    document: dict[str, Any] = r.json()
    return document


async def _opened(live_factory: Any, person: Any, document_id: int) -> tuple[LiveClient, dict[str, Any]]:
    client = await live_factory(person)
    ack = await client.call("document.open", {"document_id": document_id})
    return client, ack


def _note(client_id: str, document_id: int, visibility: str, text: str) -> dict[str, Any]:
    return {"document_id": document_id, "client_id": client_id, "page": 1, "kind": "note",
            "visibility": visibility, "geometry": {"at": [120, 640]}, "text": text}


async def test_shared_annotations_arrive_live_only_at_readers(server: Server, session_world: dict[str, Any],
                                                              live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec = people["secretary"].client
    doc = await _upload(sec, mid, 2)
    named = await _upload(sec, mid, 1, audience="named", readers=str(people["member"].id))
    member, ack = await _opened(live_factory, people["member"], doc["id"])
    assert ack["ok"] and ack["annotations"] == []
    member_tablet2, _ = await _opened(live_factory, people["member"], doc["id"])
    member2, ack2 = await _opened(live_factory, people["member2"], doc["id"])
    assert ack2["ok"]
    guest, refused = await _opened(live_factory, people["guest"], doc["id"])
    assert refused == {"ok": False, "error": {"code": "unknown_document", "message": refused["error"]["message"]}}

    shared = await member.call("annotation.add", _note("shared-0001", doc["id"], "shared", "Đề nghị làm rõ số liệu"))
    assert shared["ok"] and shared["duplicate"] is False, shared
    pushed = await member2.wait_for("annotation.added", lambda a: a["client_id"] == "shared-0001")
    assert pushed["text"] == "Đề nghị làm rõ số liệu" and pushed["author_name"] == "Người member"
    assert "mine" not in pushed
    private = await member.call("annotation.add", _note("private-001", doc["id"], "private", "Ghi nhớ riêng"))
    assert private["ok"]
    await member_tablet2.wait_for("annotation.added", lambda a: a["client_id"] == "private-001")
    # The outbox sends the shared note again after a lost ack: stored once, no second push.
    again = await member.call("annotation.add", _note("shared-0001", doc["id"], "shared", "Đề nghị làm rõ số liệu"))
    assert again["ok"] and again["duplicate"] is True and again["annotation"]["id"] == shared["annotation"]["id"]
    await asyncio.sleep(0.3)
    assert [a["client_id"] for a in member2.events["annotation.added"]] == ["shared-0001"]
    assert guest.events["annotation.added"] == []
    # member2 reopening gets the shared note but not member's private one.
    reopened = await member2.call("document.open", {"document_id": doc["id"]})
    assert [a["client_id"] for a in reopened["annotations"]] == ["shared-0001"]
    # Edits and deletes are the author's, and travel live too.
    mark_id = shared["annotation"]["id"]
    stolen = await member2.call("annotation.update", {"annotation_id": mark_id, "text": "Sửa hộ"})
    assert stolen["ok"] is False and stolen["error"]["code"] == "not_author"
    edited = await member.call("annotation.update", {"annotation_id": mark_id, "text": "Đã bổ sung số liệu"})
    assert edited["ok"]
    await member2.wait_for("annotation.changed", lambda a: a["text"] == "Đã bổ sung số liệu")
    assert (await member.call("annotation.delete", {"annotation_id": mark_id}))["ok"]
    await member2.wait_for("annotation.deleted", lambda a: a["id"] == mark_id)
    # Bad input: a clear refusal in the ack.
    for payload, code in [
        ({**_note("bad-000001", doc["id"], "shared", "x"), "page": 3}, "invalid"),
        ({**_note("bad-000002", doc["id"], "shared", "x"), "geometry": {"at": [-500, 10]}}, "invalid"),
        ({**_note("bad-000003", named["id"], "shared", "x")}, "unknown_document"),
        ({**_note("bad-000004", doc["id"], "everyone", "x")}, "validation_error"),
        ({**_note("bad-000005", doc["id"], "presenter", "x")}, "forbidden"),
    ]:
        answer = await member2.call("annotation.add", payload)
        assert answer["ok"] is False and answer["error"]["code"] == code, (payload, answer)


async def test_removed_readers_leave_the_documents_room(server: Server, session_world: dict[str, Any],
                                                        live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec = people["secretary"].client
    doc = await _upload(sec, mid, 1, audience="named", readers=f"{people['member'].id},{people['member2'].id}")
    member, _ = await _opened(live_factory, people["member"], doc["id"])
    member2, ack = await _opened(live_factory, people["member2"], doc["id"])
    assert ack["ok"]
    await member.call("meeting.join", {"meeting_id": mid})
    r = await sec.patch(f"/api/documents/{doc['id']}", json={"readers": [people["member"].id]})
    assert r.status_code == 200
    await member.wait_for("documents.changed", lambda p: p["document_id"] == doc["id"])
    assert (await member.call("document.open", {"document_id": doc["id"]}))["ok"]  # still a reader: rejoins
    assert (await member.call("annotation.add", _note("after-0001", doc["id"], "shared", "Sau khi đổi")))["ok"]
    await asyncio.sleep(0.3)
    assert member2.events["annotation.added"] == []
    again = await member2.call("document.open", {"document_id": doc["id"]})
    assert again["ok"] is False and again["error"]["code"] == "unknown_document"


async def test_presenter_shows_a_documents_page_and_draws_live(server: Server, session_world: dict[str, Any],
                                                               live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    doc = await _upload(people["secretary"].client, mid, 3)
    chair = await live_factory(people["chair"])
    member = await live_factory(people["member"])
    assert (await member.call("meeting.join", {"meeting_id": mid}))["ok"]
    assert (await member.call("document.open", {"document_id": doc["id"]}))["ok"]
    shown = await chair.call("presenter.page", {"meeting_id": mid, "page": 2, "document_id": doc["id"]})
    assert shown["ok"], shown
    pushed = await member.wait_for("presenter.changed", lambda p: p["document_id"] == doc["id"])
    assert pushed["page"] == 2
    state = (await member.call("meeting.sync", {"meeting_id": mid}))["state"]
    assert state["presenter"]["document_id"] == doc["id"] and state["presenter"]["page"] == 2
    for payload, code in [({"meeting_id": mid, "page": 4, "document_id": doc["id"]}, "unknown_page"),
                          ({"meeting_id": mid, "page": 1, "document_id": 2_000_000}, "unknown_document")]:
        answer = await chair.call("presenter.page", payload)
        assert answer["ok"] is False and answer["error"]["code"] == code
    drawn = await chair.call("annotation.add", {
        "document_id": doc["id"], "client_id": "present-001", "page": 2, "kind": "ink", "visibility": "presenter",
        "geometry": {"paths": [[[100, 400], [300, 420]]]}, "color": "#d11f2f"})
    assert drawn["ok"], drawn
    seen = await member.wait_for("annotation.added", lambda a: a["client_id"] == "present-001")
    assert seen["visibility"] == "presenter" and seen["page"] == 2


@pytest.mark.parametrize("event", ["document.open", "annotation.add", "annotation.update", "annotation.delete"])
async def test_document_events_refuse_garbage(server: Server, session_world: dict[str, Any], live_factory: Any,
                                              event: str) -> None:
    member = await live_factory(session_world["people"]["member"])
    for payload in (None, {}, {"document_id": "1"}, {"annotation_id": -1}, {"document_id": 1, "extra": True}):
        answer = await member.call(event, payload)
        assert answer["ok"] is False and answer["error"]["code"] == "validation_error", (payload, answer)
