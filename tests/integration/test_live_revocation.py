"""Revocations reach open Socket.IO connections: after a logout, a deactivation or a password change
the session's sockets are dropped (and any event they still send is refused), a participant taken off a
meeting stops hearing it, a secretary made a guest stops hearing the staff, and /media refuses too.
Real python-socketio clients against the real app (one worker; two workers: test_two_workers.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import socketio
from sqlmodel import delete

from backend.models import AuthSession
from tests.integration.conftest import Client, Person, Server
from tests.integration.live import LiveClient
from tests.support.sample_pdfs import sample_pdf

QUIET_S = 0.4  # how long a socket that must hear nothing more is listened to


async def disconnected(client: LiveClient, timeout: float = 5) -> None:
    """Waits until the server has dropped the client's connection."""
    deadline = asyncio.get_running_loop().time() + timeout
    while client.sio.connected or not client.disconnects:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the socket is still connected {timeout} s after the revocation")
        await asyncio.sleep(0.02)


async def cannot_send(client: LiveClient, event: str, data: Any) -> None:
    with pytest.raises(socketio.exceptions.BadNamespaceError):
        await client.call(event, data, timeout=2)


async def bearer(server: Server, person: Person) -> str:
    """A new API session (bearer token) of `person`."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post("/api/auth/tokens", json={"username": person.username, "password": person.password})
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


async def rest_as(server: Server, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        return await http.request(method, path, **kw)


async def joined(live_factory: Any, person: Person, mid: int) -> LiveClient:
    c = await live_factory(person)
    ack = await c.call("meeting.join", {"meeting_id": mid})
    assert ack["ok"], ack
    return c


async def open_poll(chair: LiveClient, mid: int) -> int:
    created = await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua Tờ trình?"})
    assert created["ok"], created
    opened = await chair.call("poll.open", {"poll_id": created["poll"]["id"]})
    assert opened["ok"], opened
    poll_id: int = created["poll"]["id"]
    return poll_id


async def ballots_counted(chair: LiveClient, poll_id: int) -> int:
    closed = await chair.call("poll.close", {"poll_id": poll_id})
    assert closed["ok"], closed
    total: int = closed["poll"]["result"]["total_ballots"]
    return total


async def end_session_silently(server: Server, token_owner: int) -> None:
    """Deletes a user's sessions in the database without telling anyone (as `ecabinet user reset-password`
    in another process does, or a revocation message Redis lost): only the per-event check can notice."""
    async with server.db.write() as s:
        await s.exec(delete(AuthSession).where(AuthSession.user_id == token_owner))  # type: ignore[arg-type]


async def test_after_logout_the_open_socket_is_dropped_and_its_ballot_is_never_counted(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await joined(live_factory, people["chair"], mid)
    member = await joined(live_factory, people["member"], mid)
    poll_id = await open_poll(chair, mid)
    assert member.token is not None
    r = await rest_as(server, member.token, "POST", "/api/auth/logout")
    assert r.status_code == 204, r.text
    await disconnected(member)
    ended = member.events["session.ended"]
    assert ended and ended[-1]["code"] == "session_revoked", member.events.keys()
    await cannot_send(member, "vote.cast", {"poll_id": poll_id, "choice": "yes"})
    with pytest.raises(socketio.exceptions.ConnectionError):
        await member.connect()
    assert await ballots_counted(chair, poll_id) == 0
    assert (await chair.call("meeting.sync", {"meeting_id": mid}))["ok"]  # the chair's session is untouched


async def test_a_session_ended_without_notice_is_refused_at_its_next_event_and_the_socket_dropped(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    """The database is the source of truth: within the recheck interval a socket learns that its session
    is gone even when no revocation message reached its worker."""
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await joined(live_factory, people["chair"], mid)
    member = await joined(live_factory, people["member"], mid)
    poll_id = await open_poll(chair, mid)
    await end_session_silently(server, people["member"].id)
    await asyncio.sleep(server.settings.session_recheck_ms / 1000 + 0.1)
    refused = await member.call("vote.cast", {"poll_id": poll_id, "choice": "yes"})
    assert refused["ok"] is False and refused["error"]["code"] == "session_revoked", refused
    await disconnected(member)
    assert await ballots_counted(chair, poll_id) == 0


async def test_deactivating_an_account_drops_its_open_socket_and_its_ballot_is_never_counted(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid, admin = session_world["people"], session_world["meeting_id"], session_world["admin"]
    chair = await joined(live_factory, people["chair"], mid)
    member = await joined(live_factory, people["member"], mid)
    poll_id = await open_poll(chair, mid)
    r = await admin.patch(f"/api/users/{people['member'].id}", json={"is_active": False})
    assert r.status_code == 200, r.text
    await disconnected(member)
    await cannot_send(member, "vote.cast", {"poll_id": poll_id, "choice": "yes"})
    assert await ballots_counted(chair, poll_id) == 0


async def test_a_password_change_drops_the_sockets_of_the_other_sessions_only(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    person = people["member"]
    other = await joined(live_factory, person, mid)
    this = await live_factory(None)
    this.token = await bearer(server, person)
    await this.connect()
    assert (await this.call("meeting.join", {"meeting_id": mid}))["ok"]
    r = await rest_as(server, this.token, "POST", "/api/auth/password",
                      json={"current_password": person.password, "new_password": "Mat-khau-moi-2026!"})
    assert r.status_code == 204, r.text
    await disconnected(other)
    assert (await this.call("meeting.sync", {"meeting_id": mid}))["ok"]
    assert this.sio.connected and not this.disconnects


async def test_a_participant_taken_off_the_meeting_stops_hearing_it_and_its_documents(
        server: Server, world: dict[str, Any], live_factory: Any) -> None:
    """A published meeting (joining does not check in there, so the participant has nothing that would
    keep the row from being removed)."""
    people, mid = world["people"], world["meeting"]["id"]
    sec: Client = people["secretary"].client
    assert (await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})).status_code == 200
    r = await sec.post(f"/api/meetings/{mid}/documents", data={"title": "Tờ trình"},
                       files={"file": ("to-trinh.pdf", sample_pdf(2), "application/pdf")})
    assert r.status_code == 201, r.text
    doc = r.json()["id"]
    member = await joined(live_factory, people["member"], mid)
    removed = await joined(live_factory, people["member2"], mid)
    for c in (member, removed):
        assert (await c.call("document.open", {"document_id": doc}))["ok"]
    participants = (await sec.get(f"/api/meetings/{mid}/participants")).json()
    pid = next(p["id"] for p in participants if p["user_id"] == people["member2"].id)
    r = await sec.delete(f"/api/meetings/{mid}/participants/{pid}")
    assert r.status_code == 204, r.text

    note = {"document_id": doc, "client_id": "sau-khi-rut-01", "page": 1, "kind": "note", "visibility": "shared",
            "geometry": {"at": [120, 640]}, "text": "Ý kiến mật sau khi rút"}
    assert (await member.call("annotation.add", note))["ok"]
    r = await sec.post(f"/api/meetings/{mid}/documents", data={"title": "Báo cáo thẩm tra"},
                       files={"file": ("bao-cao.pdf", sample_pdf(1), "application/pdf")})
    assert r.status_code == 201, r.text
    second = r.json()["id"]
    await member.wait_for("annotation.added", lambda a: a["client_id"] == "sau-khi-rut-01")
    await member.wait_for("documents.changed", lambda d: d["document_id"] == second)
    await asyncio.sleep(QUIET_S)
    assert removed.events["annotation.added"] == []
    assert not [d for d in removed.events["documents.changed"] if d["document_id"] == second]
    # Still logged in (the account is fine), but no longer in the meeting.
    assert removed.sio.connected
    again = await removed.call("meeting.join", {"meeting_id": mid})
    assert again["ok"] is False


async def test_a_secretary_made_a_guest_stops_hearing_the_staff_room(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await joined(live_factory, people["chair"], mid)
    secretary = await joined(live_factory, people["secretary"], mid)
    first = await chair.call("poll.create", {"meeting_id": mid, "question": "Dự thảo thứ nhất"})
    assert first["ok"], first
    await secretary.wait_for("poll.changed", lambda d: d["question"] == "Dự thảo thứ nhất")
    participants = (await people["chair"].client.get(f"/api/meetings/{mid}/participants")).json()
    pid = next(p["id"] for p in participants if p["user_id"] == people["secretary"].id)
    r = await people["chair"].client.patch(f"/api/meetings/{mid}/participants/{pid}", json={"role": "guest"})
    assert r.status_code == 200, r.text
    draft = await chair.call("poll.create", {"meeting_id": mid, "question": "Dự thảo kín sau khi đổi vai"})
    assert draft["ok"], draft
    await chair.wait_for("poll.changed", lambda d: d["question"] == "Dự thảo kín sau khi đổi vai")
    await asyncio.sleep(QUIET_S)
    assert not [d for d in secretary.events["poll.changed"] if d["question"] == "Dự thảo kín sau khi đổi vai"]
    # Still in the meeting as a guest: the meeting's own pushes keep coming.
    assert (await chair.call("poll.open", {"poll_id": first["poll"]["id"]}))["ok"]
    await secretary.wait_for("poll.changed", lambda d: d["id"] == first["poll"]["id"] and d["status"] == "open")


async def test_the_media_namespace_refuses_events_once_the_session_has_ended(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    site = await live_factory(people["bridge"], connect=False)
    await site.sio.connect(server.base_url, auth={"token": site.token}, namespaces=["/media"],
                           transports=["websocket"], wait_timeout=10)
    ok = await site.sio.call("media.config", {"meeting_id": mid}, namespace="/media", timeout=10)
    assert ok["ok"], ok
    await end_session_silently(server, people["bridge"].id)
    await asyncio.sleep(server.settings.session_recheck_ms / 1000 + 0.1)
    refused = await site.sio.call("media.config", {"meeting_id": mid}, namespace="/media", timeout=10)
    assert refused["ok"] is False and refused["error"]["code"] == "session_revoked", refused
    deadline = asyncio.get_running_loop().time() + 5
    while "/media" in site.sio.namespaces:
        assert asyncio.get_running_loop().time() < deadline, "the /media socket is still connected"
        await asyncio.sleep(0.02)


async def test_logout_drops_the_media_socket_of_the_session(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    site = await live_factory(people["bridge"], connect=False)
    assert site.token is not None
    await site.sio.connect(server.base_url, auth={"token": site.token}, namespaces=["/media"],
                           transports=["websocket"], wait_timeout=10)
    assert (await site.sio.call("media.config", {"meeting_id": mid}, namespace="/media", timeout=10))["ok"]
    r = await rest_as(server, site.token, "POST", "/api/auth/logout")
    assert r.status_code == 204, r.text
    deadline = asyncio.get_running_loop().time() + 5
    while "/media" in site.sio.namespaces:
        assert asyncio.get_running_loop().time() < deadline, "the /media socket is still connected"
        await asyncio.sleep(0.02)
