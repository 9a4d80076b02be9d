"""Devices over REST and Socket.IO: each browser that logs in is a named device of the account; the user
sees their own, an administrator anyone's, others get 404; revoking a device ends its sessions and drops
its sockets at once, its browser is then refused with `device_revoked` (REST and socket connect) until it
confirms the wipe, which the audit log records with the time of the order and of the wipe; the user's
other devices go on working."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import socketio
from sqlmodel import col, select

from backend.models import AuditEntry
from tests.integration.conftest import Client, Person, Server
from tests.integration.helpers import assert_error

IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
        "Mobile/15E148 Safari/604.1")
ANDROID = ("Mozilla/5.0 (Linux; Android 14; SM-X710 Build/UP1A.231005.007) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.6099.43 Safari/537.36")


async def browser(server: Server, person: Person, user_agent: str) -> Client:
    """A browser (its own cookie jar) logged in as `person`."""
    c = Client(server)
    c.http.headers["User-Agent"] = user_agent
    r = await c.login(person.username, person.password)
    assert r.status_code == 200, r.text
    return c


def cookie_header(c: Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in c.http.cookies.items())


async def socket_of(server: Server, c: Client) -> tuple[socketio.AsyncClient, list[Any]]:
    """A Socket.IO connection carrying the browser's cookies, and the session.ended pushes it gets."""
    sio = socketio.AsyncClient(reconnection=False)
    ended: list[Any] = []
    sio.on("session.ended", ended.append)
    await sio.connect(server.base_url, headers={"Cookie": cookie_header(c)}, transports=["websocket"],
                      wait_timeout=10)
    return sio, ended


async def gone(sio: socketio.AsyncClient, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while sio.connected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the revoked device's socket is still connected")
        await asyncio.sleep(0.02)


async def device_entries(server: Server, device_id: int) -> list[AuditEntry]:
    async with server.db.read() as s:
        return list((await s.exec(select(AuditEntry).where(
            AuditEntry.object_type == "device", AuditEntry.object_id == device_id).order_by(
            col(AuditEntry.seq)))).all())


@pytest.fixture
async def two_browsers(server: Server, new_user: Any) -> Any:
    person = await new_user("devices")
    tablet = await browser(server, person, IPAD)
    laptop = await browser(server, person, ANDROID)
    yield person, tablet, laptop
    await tablet.close()
    await laptop.close()


async def test_each_browser_that_logs_in_is_a_named_device_of_the_account(server: Server, two_browsers: Any) -> None:
    person, tablet, laptop = two_browsers
    r = await tablet.get("/api/me/devices")
    assert r.status_code == 200, r.text
    listed = {d["name"]: d for d in r.json()}
    assert set(listed) >= {"iPad · Safari 17", "Samsung SM-X710 · Chrome 120"}
    assert listed["iPad · Safari 17"]["current"] and not listed["Samsung SM-X710 · Chrome 120"]["current"]
    assert listed["iPad · Safari 17"]["last_address"] == "127.0.0.1"
    assert all(d["revoked_at"] is None and d["user_id"] == person.id for d in r.json())
    # Logging in again in the same browser is the same device, with the same store key.
    key = (await tablet.get("/api/me/device")).json()
    assert (await tablet.login(person.username, person.password)).status_code == 200
    assert len((await tablet.get("/api/me/devices")).json()) == len(r.json())
    again = await tablet.get("/api/me/device")
    assert again.headers["cache-control"] == "no-store"
    assert again.json()["store_key"] == key["store_key"] and again.json()["device"]["id"] == key["device"]["id"]
    assert again.json()["offline_hours"] == server.settings.offline_hours
    assert (await laptop.get("/api/me/device")).json()["store_key"] != key["store_key"]
    assert (await tablet.get("/api/auth/me")).json()["offline_hours"] == server.settings.offline_hours


async def test_a_user_sees_their_own_devices_and_an_administrator_anyones(
        root: Client, cast: Any, two_browsers: Any) -> None:
    person, tablet, _ = two_browsers
    own = await tablet.get(f"/api/users/{person.id}/devices")
    assert own.status_code == 200 and len(own.json()) >= 2
    assert_error(await cast["member"].client.get(f"/api/users/{person.id}/devices"), 404, "not_found")
    assert_error(await cast["secretary"].client.get(f"/api/users/{person.id}/devices"), 404, "not_found")
    seen = await root.get(f"/api/users/{person.id}/devices")
    assert seen.status_code == 200 and {d["id"] for d in seen.json()} == {d["id"] for d in own.json()}
    assert not any(d["current"] for d in seen.json())  # none of them is the administrator's browser
    assert_error(await root.get("/api/users/2147483647/devices"), 404, "not_found")
    assert_error(await root.get(f"/api/users/{person.id}/devices", params={"all": "1"}), 422)


async def test_who_may_revoke_which_device(root: Client, cast: Any, two_browsers: Any) -> None:
    _, tablet, laptop = two_browsers
    devices = {d["current"]: d["id"] for d in (await tablet.get("/api/me/devices")).json()}
    here, other = devices[True], devices[False]
    assert_error(await cast["member"].client.post(f"/api/devices/{other}/revoke"), 404, "not_found")
    assert_error(await tablet.post(f"/api/devices/{here}/revoke"), 409, "current_device")
    assert_error(await tablet.post("/api/devices/2147483647/revoke"), 404, "not_found")
    assert_error(await tablet.post("/api/devices/0/revoke"), 404)
    assert_error(await tablet.post(f"/api/devices/{other}/revoke", headers={"X-CSRF-Token": "wrong"}), 403,
                 "csrf_failed")
    assert_error(await tablet.post(f"/api/devices/{other}/revoke", params={"x": "1"}), 422)
    assert (await laptop.get("/api/auth/me")).status_code == 200  # nothing refused above took effect
    r = await root.post(f"/api/devices/{other}/revoke")
    assert r.status_code == 200, r.text
    assert r.json()["revoked_at"] is not None and r.json()["id"] == other
    assert_error(await tablet.post(f"/api/devices/{other}/revoke"), 409, "already_revoked")


async def test_a_revoked_device_is_cut_off_at_once_and_the_other_device_goes_on(
        server: Server, root: Client, two_browsers: Any) -> None:
    person, tablet, laptop = two_browsers
    tablet_id = next(d["id"] for d in (await tablet.get("/api/me/devices")).json() if d["current"])
    tablet_socket, ended = await socket_of(server, tablet)
    laptop_socket, laptop_ended = await socket_of(server, laptop)
    try:
        r = await laptop.post(f"/api/devices/{tablet_id}/revoke")  # the minister, from the other device
        assert r.status_code == 200, r.text
        await gone(tablet_socket)
        assert ended and ended[0]["code"] == "session_revoked"
        # Its next contact: REST and a new connection are refused with the code that makes the app wipe.
        assert_error(await tablet.get("/api/meetings"), 401, "device_revoked")
        assert_error(await tablet.get("/api/auth/me"), 401, "device_revoked")
        refused: list[Any] = []
        retry = socketio.AsyncClient(reconnection=False)
        retry.on("connect_error", refused.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await retry.connect(server.base_url, headers={"Cookie": cookie_header(tablet)},
                                transports=["websocket"], wait_timeout=10)
        assert refused and "device_revoked" in str(refused[0]), refused
        # The other device was not touched.
        await asyncio.sleep(0.3)
        assert laptop_socket.connected and not laptop_ended
        assert (await laptop.get("/api/auth/me")).status_code == 200
        assert (await laptop_socket.call("meeting.leave", {"meeting_id": 1}, timeout=10))["ok"]
    finally:
        for sio in (tablet_socket, laptop_socket):
            if sio.connected:
                await sio.disconnect()

    # The tablet erased what it stored and says so: the audit log has both moments; its cookie goes.
    r = await tablet.post("/api/devices/wiped")
    assert r.status_code == 204, r.text
    assert "ecabinet_device" not in tablet.http.cookies
    entries = await device_entries(server, tablet_id)
    assert [e.action for e in entries] == ["device.revoked", "device.wiped"]
    assert entries[0].actor_id == person.id
    wiped = json.loads(entries[1].details)
    assert wiped["user_id"] == person.id and wiped["ordered_by"] == person.id
    assert wiped["ordered_at"] <= wiped["wiped_at"]
    listed = {d["id"]: d for d in (await root.get(f"/api/users/{person.id}/devices")).json()}
    assert listed[tablet_id]["wiped_at"] is not None and listed[tablet_id]["revoked_at"] is not None
    # Without the cookie the browser is an ordinary logged-out one; a second confirmation records nothing.
    assert_error(await tablet.get("/api/auth/me"), 401, "not_authenticated")
    assert (await tablet.post("/api/devices/wiped")).status_code == 204
    assert len(await device_entries(server, tablet_id)) == 2
    # Logging in there again makes a new device, not the revoked one.
    assert (await tablet.login(person.username, person.password)).status_code == 200
    fresh = next(d for d in (await tablet.get("/api/me/devices")).json() if d["current"])
    assert fresh["id"] != tablet_id and fresh["revoked_at"] is None


async def test_a_wipe_confirmation_without_a_revoked_device_changes_nothing(server: Server,
                                                                          two_browsers: Any) -> None:
    _, tablet, _ = two_browsers
    assert (await tablet.post("/api/devices/wiped")).status_code == 204
    assert (await tablet.get("/api/auth/me")).status_code == 200
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        assert (await anonymous.post("/api/devices/wiped")).status_code == 204
        r = await anonymous.post("/api/devices/wiped", headers={"Cookie": "ecabinet_device=" + "x" * 500})
        assert r.status_code == 204
