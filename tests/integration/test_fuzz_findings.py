"""Regular tests for what the fuzzing (test_fuzz_api.py, test_fuzz_events.py) found, so each case stays
fixed however the generated examples change."""

from __future__ import annotations

from typing import Any

from tests.integration.helpers import assert_error, ok
from tests.integration.test_documents_api import upload
from tests.support.sample_pdfs import sample_pdf


async def _note(client: Any, document_id: int, client_id: str, visibility: str) -> dict[str, Any]:
    added = ok(await client.post(f"/api/documents/{document_id}/annotations", json={
        "client_id": client_id, "page": 1, "kind": "note", "geometry": {"at": [10, 10]}, "visibility": visibility,
        "text": "Ghi chú"}), 201)
    return dict(added["annotation"])


async def test_deleting_a_private_annotation_answers_204_and_tells_the_authors_devices(
        session_world: dict[str, Any], live_factory: Any) -> None:
    """Found by the REST fuzzing: DELETE of a private annotation deleted it, then failed with a 500 while
    telling the author's other tablets (KeyError: the reference it published had no author)."""
    people, mid = session_world["people"], session_world["meeting_id"]
    doc = ok(await upload(people["secretary"].client, mid, sample_pdf(1, seed=31)), 201)
    member = people["member"].client
    tablet = await live_factory(people["member"])
    private = await _note(member, doc["id"], "private-del-01", "private")
    r = await member.delete(f"/api/annotations/{private['id']}")
    assert r.status_code == 204, r.text
    pushed = await tablet.wait_for("annotation.deleted", lambda p: p["id"] == private["id"])
    assert pushed == {"id": private["id"], "document_id": doc["id"], "client_id": "private-del-01"}
    shared = await _note(member, doc["id"], "shared-del-01", "shared")
    assert (await member.delete(f"/api/annotations/{shared['id']}")).status_code == 204
    assert ok(await member.get(f"/api/documents/{doc['id']}/annotations")) == []


async def test_an_annotation_change_with_null_fields_is_refused_cleanly(session_world: dict[str, Any],
                                                                       live_factory: Any) -> None:
    """Found by the event fuzzing: annotation.update {"visibility": null} raised in the handler (None is
    not a Visibility) instead of answering a validation error; REST already refused such nulls."""
    people, mid = session_world["people"], session_world["meeting_id"]
    doc = ok(await upload(people["secretary"].client, mid, sample_pdf(1, seed=32)), 201)
    member = people["member"].client
    mark = await _note(member, doc["id"], "null-change-01", "shared")
    tablet = await live_factory(people["member"])
    for field in ("visibility", "geometry", "text", "color", "width"):
        ack = await tablet.call("annotation.update", {"annotation_id": mark["id"], field: None})
        assert ack["ok"] is False and ack["error"]["code"] == "validation_error", (field, ack)
        assert_error(await member.patch(f"/api/annotations/{mark['id']}", json={field: None}), 422, "validation_error")
    assert ok(await member.get(f"/api/documents/{doc['id']}/annotations"))[0]["visibility"] == "shared"
