"""In-app notifications, on SQLite and PostgreSQL: who is told what (a meeting published, a record to
review, to sign, published, an opinion round's reminders and its closing soon), live on the person's own
Socket.IO room after commit, their unread count, marking read, the bound on each list, and that nobody
reads or marks another's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, func, select

from backend.models import Notification, OpinionRound
from backend.services import notifications
from backend.services.files import FileStore
from backend.services.opinions import Opinions
from tests.integration.conftest import Server
from tests.integration.helpers import assert_error, ok
from tests.integration.test_opinions_api import _ballot, _round
from tests.integration.test_records_api import PASSPHRASE, RESOLUTION, _closed_poll, _credential


async def _mine(client: Any, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = ok(await client.get("/api/me/notifications", params=params))
    return page


async def _kinds(client: Any, link: str) -> list[str]:
    return [n["kind"] for n in (await _mine(client))["items"] if n["link"] == link]


async def test_participants_hear_live_that_a_meeting_was_published_but_not_its_author(
        world: dict[str, Any], live_factory: Any) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    member = await live_factory(people["member"])  # connected: in its own room `user:<id>`, nothing joined
    sec = people["secretary"].client
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))

    pushed = await member.wait_for("notification.new", lambda d: d["notification"]["link"] == f"#/meetings/{mid}")
    assert pushed["notification"]["kind"] == "meeting_published"
    assert pushed["notification"]["params"]["meeting"] == "Phiên họp thường kỳ tháng 12"
    assert pushed["notification"]["read_at"] is None and pushed["unread"] == 1
    for key in ("chair", "member", "member2", "guest", "bridge"):
        assert await _kinds(people[key].client, f"#/meetings/{mid}") == ["meeting_published"], key
    assert (await _mine(sec))["items"] == []  # the one who published it
    assert (await _mine(people["outsider"].client))["items"] == []


async def test_the_record_steps_tell_the_reviewer_the_signer_and_the_participants(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec, chair, member = (people[k].client for k in ("secretary", "chair", "member"))
    sec_cred = await _credential(server, people["secretary"].username)
    chair_cred = await _credential(server, people["chair"].username)
    poll_id = await _closed_poll(live_factory, people, mid)
    chair_live = await live_factory(people["chair"])
    assert (await chair_live.call("meeting.join", {"meeting_id": mid}))["ok"]  # the staff room

    # Drafted by the chair: the secretary is asked to review it (the author is not told of their own draft).
    other = ok(await chair.post(f"/api/meetings/{mid}/records", json={**RESOLUTION, "number": "16/NQ-UBND",
                                                                      "poll_id": poll_id}), 201)
    assert await _kinds(sec, f"#/records/{other['id']}") == ["record_review"]
    assert await _kinds(chair, f"#/records/{other['id']}") == []

    record = ok(await sec.post(f"/api/meetings/{mid}/records", json={**RESOLUTION, "poll_id": poll_id}), 201)
    link = f"#/records/{record['id']}"
    assert await _kinds(sec, link) == []
    ok(await sec.post(f"/api/records/{record['id']}/review", json={"credential_id": sec_cred,
                                                                  "secret": PASSPHRASE}))
    told = await chair_live.wait_for("notification.new", lambda d: d["notification"]["link"] == link)
    assert told["notification"]["kind"] == "record_sign"
    assert told["notification"]["params"]["number"] == "15/NQ-UBND"
    changed = await chair_live.wait_for("record.changed", lambda d: d["record_id"] == record["id"]
                                        and d["status"] == "reviewed")
    assert changed == {"record_id": record["id"], "meeting_id": mid, "status": "reviewed"}
    assert await _kinds(member, link) == []  # a draft is the staff's business

    ok(await chair.post(f"/api/records/{record['id']}/sign", json={"credential_id": chair_cred,
                                                                  "secret": PASSPHRASE}))
    await chair_live.wait_for("record.changed", lambda d: d["record_id"] == record["id"] and d["status"] == "signed")
    ok(await sec.post(f"/api/records/{record['id']}/publish"))
    for key in ("chair", "member", "member2", "guest"):
        assert "record_published" in await _kinds(people[key].client, link), key
    assert "record_published" not in await _kinds(sec, link)


async def test_reminders_and_the_closing_notice_reach_only_those_who_have_not_answered(
        server: Server, world: dict[str, Any]) -> None:
    people = world["people"]
    sec, member, member2 = (people[k].client for k in ("secretary", "member", "member2"))
    rnd = await _round(server, world, deadline=datetime.now(UTC) + timedelta(hours=5))
    mid, link = rnd["meeting_id"], f"#/meetings/{rnd['meeting_id']}"
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    ok(await member2.post(f"/api/meetings/{mid}/opinion-round/ballot",
                          json=_ballot(rnd, "member2", [("agree", None), ("agree", None)])), 201)
    # The day-before reminder is due at once (five hours left): the running server sends it.
    for _ in range(200):
        if (await _kinds(member, link)).count("round_reminder") == 1:
            break
        await asyncio.sleep(0.05)
    answered_before = (await _kinds(member2, link)).count("round_reminder")  # 0 or 1: raced the sweep
    ok(await sec.post(f"/api/meetings/{mid}/opinion-round/remind"))
    assert await _kinds(member, link) == ["round_reminder", "round_reminder", "meeting_published"]
    assert (await _kinds(member2, link)).count("round_reminder") == answered_before
    assert await _kinds(people["guest"].client, link) == ["meeting_published"]  # a guest is not asked

    # Sent three hours ago, closing within the hour: the running server's housekeeping tells them once.
    async with server.db.write() as s:
        stored = (await s.exec(select(OpinionRound).where(OpinionRound.meeting_id == mid))).one()
        stored.deadline = datetime.now(UTC) + timedelta(hours=1)
        stored.opened_at = datetime.now(UTC) - timedelta(hours=3)
        s.add(stored)
    for _ in range(200):
        if "round_closing" in await _kinds(member, link):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.2)  # two more sweeps: nothing twice
    assert (await _kinds(member, link)).count("round_closing") == 1
    assert "round_closing" not in await _kinds(member2, link)
    closing = next(n for n in (await _mine(member))["items"] if n["kind"] == "round_closing")
    assert datetime.fromisoformat(closing["params"]["deadline"]) > datetime.now(UTC)
    rounds = Opinions(server.db, FileStore.for_settings(server.settings), server.settings)
    assert await rounds.closing_notices() == 0


async def test_unread_count_paging_and_marking_read(world: dict[str, Any]) -> None:
    people = world["people"]
    sec, member = people["secretary"].client, people["member"].client
    mid = world["meeting"]["id"]
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "withdraw"}))
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    assert ok(await member.get("/api/me/notifications/unread")) == {"unread": 2}

    first = await _mine(member, limit=1)
    assert len(first["items"]) == 1 and first["unread"] == 2 and first["next_before"] == first["items"][0]["id"]
    second = await _mine(member, limit=1, before=first["next_before"])
    assert second["items"][0]["id"] < first["items"][0]["id"] and second["next_before"] is None

    newest = ok(await member.post(f"/api/me/notifications/{first['items'][0]['id']}/read"))
    assert newest["read_at"] is not None
    assert ok(await member.get("/api/me/notifications/unread")) == {"unread": 1}
    assert ok(await member.post("/api/me/notifications/read")) == {"marked": 1, "unread": 0}
    assert ok(await member.get("/api/me/notifications/unread")) == {"unread": 0}
    assert_error(await member.post("/api/me/notifications/2147483647/read"), 404, "unknown_notification")


async def test_nobody_reads_or_marks_anothers_notifications(world: dict[str, Any], live_factory: Any) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    sec, member, member2 = (people[k].client for k in ("secretary", "member", "member2"))
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    theirs = (await _mine(member))["items"][0]
    member2_live = await live_factory(people["member2"])

    # The same answer as for a notification that does not exist: another's id reveals nothing.
    assert_error(await member2.post(f"/api/me/notifications/{theirs['id']}/read"), 404, "unknown_notification")
    assert theirs["id"] not in [n["id"] for n in (await _mine(member2))["items"]]
    ok(await member2.post("/api/me/notifications/read"))  # marks member2's own, nobody else's
    assert ok(await member.get("/api/me/notifications/unread")) == {"unread": 1}
    assert (await _mine(member))["items"][0]["read_at"] is None
    assert "notification.new" not in member2_live.events
    assert (await _mine(people["outsider"].client))["items"] == []


async def test_each_persons_list_is_bounded_read_ones_pruned_first(server: Server, new_user: Any) -> None:
    person = await new_user("many")
    limit = notifications.MAX_PER_USER

    async def add(count: int) -> None:
        async with server.db.write() as s:
            outbox = notifications.Outbox()
            for i in range(count):
                await outbox.add(s, [person.id], "meeting_published", f"#/meetings/{i + 1}", meeting=f"Họp {i}")

    async def ids() -> list[int]:
        async with server.db.read() as s:
            return list((await s.exec(select(Notification.id).where(Notification.user_id == person.id)
                                      .order_by(col(Notification.id)))).all())

    await add(limit - 5)
    everything = await ids()
    read = everything[5:15]
    async with server.db.write() as s:
        for row in (await s.exec(select(Notification).where(col(Notification.id).in_(read)))).all():
            row.read_at = datetime.now(UTC)
            s.add(row)
    await add(15)  # 210 in all: the 10 read ones go, every unread one stays
    kept = await ids()
    assert len(kept) == limit and not set(read) & set(kept) and set(everything) - set(read) <= set(kept)
    await add(1)  # none read left to drop: the oldest unread one goes
    assert (await ids())[0] == kept[1] and len(await ids()) == limit
    async with server.db.read() as s:
        total = (await s.exec(select(func.count()).select_from(Notification)
                              .where(Notification.user_id == person.id))).one()
    assert total == limit
    assert ok(await person.client.get("/api/me/notifications/unread")) == {"unread": limit}


async def test_notifications_are_emailed_once_where_smtp_is_configured(
        server: Server, world: dict[str, Any], admin: Any) -> None:
    import dataclasses

    from aiosmtpd.controller import Controller

    from backend.services.events import NullBus
    from tests.conftest import free_port
    from tests.integration.test_opinions_api import _Inbox

    people = world["people"]
    ok(await admin.patch(f"/api/users/{people['chair'].id}", json={"email": "chair@example.test"}))
    inbox, port = _Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailing = dataclasses.replace(server.settings, smtp_host="127.0.0.1", smtp_port=port)
        outbox = notifications.Outbox()
        async with server.db.write() as s:
            await outbox.add(s, [people["chair"].id, people["member"].id], "record_sign", "#/records/1",
                             number="15/NQ-UBND", title="Về đầu tư công", meeting="Phiên họp")
            await outbox.add(s, [people["chair"].id], "round_reminder", "#/meetings/1", mail=False,
                             meeting="Lấy ý kiến", deadline=datetime.now(UTC).isoformat())
        await outbox.deliver(NullBus(), mailing, server.db)
        await outbox.deliver(NullBus(), mailing, server.db)  # delivered once: the outbox is empty now
        await asyncio.sleep(0.3)
    finally:
        controller.stop()
    # The member has no address; the reminder is e-mailed by the round itself, not here.
    assert [m["To"] for m in inbox.messages] == ["Người chair <chair@example.test>"]
    assert inbox.messages[0]["Subject"] == "[e-Cabinet] Chờ ký: 15/NQ-UBND"
    assert "\"Về đầu tư công\" đã được thư ký kiểm tra, chờ đồng chí ký." in inbox.messages[0].get_content()
