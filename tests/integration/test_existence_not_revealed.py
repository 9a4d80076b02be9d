"""Finding 7b: whether a meeting, document or poll exists is not told to someone who may not see it.
They get exactly the answer of an id that does not exist (REST and Socket.IO acks alike); 403 stays
for people who may see the thing but not do what they asked."""

from __future__ import annotations

import re
from typing import Any

from tests.integration.conftest import Client
from tests.integration.helpers import assert_error, ok
from tests.integration.test_documents_api import upload
from tests.support.sample_pdfs import sample_pdf

NOWHERE = 2_000_000_000


def _same(hidden: dict[str, Any], missing: dict[str, Any], hidden_id: int) -> None:
    """The two answers differ only by the id asked for."""
    assert hidden["code"] == missing["code"], (hidden, missing)
    assert re.sub(rf"\b{hidden_id}\b", "N", hidden["message"]) == re.sub(rf"\b{NOWHERE}\b", "N", missing["message"])


async def _compare(client: Client, url: str, hidden_id: int) -> None:
    hidden = assert_error(await client.get(url.format(hidden_id)), 404)
    missing = assert_error(await client.get(url.format(NOWHERE)), 404)
    _same(hidden, missing, hidden_id)


async def test_an_outsider_cannot_tell_a_meeting_or_document_exists(world: dict[str, Any]) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    sec = people["secretary"].client
    doc = ok(await upload(sec, mid, sample_pdf(1, seed=9), title="Tờ trình"), 201)
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    outsider = people["outsider"].client
    for url in ("/api/meetings/{}", "/api/meetings/{}/agenda", "/api/meetings/{}/documents",
                "/api/meetings/{}/participants", "/api/meetings/{}/polls"):
        await _compare(outsider, url, mid)
    for url in ("/api/documents/{}", "/api/documents/{}/view", "/api/documents/{}/annotations"):
        await _compare(outsider, url, doc["id"])
    await _compare(world["admin"], "/api/meetings/{}", mid)  # an administrator is no participant either


async def test_a_draft_and_an_unshared_document_look_absent_to_members(world: dict[str, Any]) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    sec, member = people["secretary"].client, people["member"].client
    named = ok(await upload(sec, mid, sample_pdf(1, seed=10), title="Chỉ cho member2", audience="named",
                            readers=[people["member2"].id]), 201)
    await _compare(member, "/api/meetings/{}", mid)  # still a draft: only its staff see it
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    ok(await member.get(f"/api/meetings/{mid}"))
    await _compare(member, "/api/documents/{}", named["id"])
    # Who may see the meeting but not do the action is still told 403.
    assert_error(await member.post(f"/api/meetings/{mid}/agenda", json={"title": "Của tôi"}), 403, "forbidden")


async def test_socket_acks_do_not_reveal_meetings_or_polls(session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await live_factory(people["chair"])
    poll = (await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua?"}))["poll"]
    outsider = await live_factory(people["outsider"])
    for event, key, hidden_id in [("meeting.join", "meeting_id", mid), ("meeting.sync", "meeting_id", mid),
                                  ("speaker.request", "meeting_id", mid), ("poll.ballots", "poll_id", poll["id"]),
                                  ("vote.cast", "poll_id", poll["id"])]:
        extra = {"choice": "yes"} if event == "vote.cast" else {}
        hidden = await outsider.call(event, {key: hidden_id, **extra})
        missing = await outsider.call(event, {key: NOWHERE, **extra})
        assert hidden["ok"] is False and missing["ok"] is False, (event, hidden, missing)
        _same(hidden["error"], missing["error"], hidden_id)
    member = await live_factory(people["member"])
    refused = await member.call("poll.open", {"poll_id": poll["id"]})
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden", refused  # sees it, may not run it
