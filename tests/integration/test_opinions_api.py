"""Opinion rounds over REST, on SQLite and PostgreSQL: the secretariat sets a round up and sends it,
members answer with signed ballots (resubmit, withdraw), the staff follow the board, the round closes
by hand or at its deadline (from the stored deadline, by the running server), and every bad input
gets a clear error with nothing stored."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from pypdf import PdfReader
from sqlmodel import col, select

import signing
from backend.models import OpinionBallot, OpinionRound
from backend.services import credentials
from tests.integration.conftest import Server

PASS = "Khoa-ky-y-kien-2026"


async def _round(server: Server, world: dict[str, Any], *, deadline: datetime | None = None) -> dict[str, Any]:
    people = world["people"]
    sec = people["secretary"].client
    r = await sec.post("/api/meetings", json={"body_id": world["body"]["id"], "kind": "opinion_round",
                                              "title": "Lấy ý kiến thành viên về Dự thảo Nghị định",
                                              "starts_at": "2026-12-01T08:00:00+07:00"})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    for key, role in (("chair", "chair"), ("member", "member"), ("member2", "member"), ("guest", "guest")):
        assert (await sec.post(f"/api/meetings/{mid}/participants",
                               json={"user_id": people[key].id, "role": role})).status_code == 201
    when = deadline or datetime.now(UTC) + timedelta(hours=2)
    r = await sec.put(f"/api/meetings/{mid}/opinion-round", json={
        "deadline": when.isoformat(), "rule": "majority_asked",
        "questions": ["Thông qua Dự thảo Nghị định?", "Đồng ý lộ trình thực hiện từ năm 2027?"]})
    assert r.status_code == 200, r.text
    if not credentials.dev_ca(server.settings).exists:
        credentials.init_ca(server.settings)
    creds = {}
    for key in ("chair", "member", "member2"):
        creds[key] = (await credentials.issue(server.db, server.settings, people[key].username, PASS))["id"]
    return {"meeting_id": mid, "questions": [q["id"] for q in r.json()["questions"]], "creds": creds}


def _ballot(rnd: dict[str, Any], key: str, choices: list[tuple[str, str | None]], secret: str = PASS) -> dict[str, Any]:
    return {"answers": [{"question_id": q, "choice": c, "text": t} for q, (c, t) in zip(rnd["questions"], choices,
                                                                                        strict=True)],
            "credential_id": rnd["creds"][key], "secret": secret}


async def test_a_round_from_setup_to_result(server: Server, world: dict[str, Any]) -> None:
    people = world["people"]
    sec, chair, member, member2 = (people[k].client for k in ("secretary", "chair", "member", "member2"))
    rnd = await _round(server, world)
    mid = rnd["meeting_id"]
    early = await member.post(f"/api/meetings/{mid}/opinion-round/ballot",
                              json=_ballot(rnd, "member", [("agree", None), ("agree", None)]))
    assert early.status_code == 404  # a draft meeting (and its round) is not visible to members yet
    assert (await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})).status_code == 200
    state = (await member.get(f"/api/meetings/{mid}/opinion-round")).json()
    assert state["status"] == "open" and state["asked"] == 3 and state["mine"] is None and state["board"] is None

    ok = await member.post(f"/api/meetings/{mid}/opinion-round/ballot", json=_ballot(
        rnd, "member", [("agree", None), ("other", "Đề nghị lùi lộ trình sang năm 2028.")]))
    assert ok.status_code == 201, ok.text
    mine = ok.json()["mine"]
    assert [a["choice"] for a in mine["answers"]] == ["agree", "other"]
    pdf = (await member.get(f"/api/opinion-ballots/{mine['ballot_id']}/pdf")).content
    report = await signing.verify_pdf(pdf, trust_roots=[credentials.dev_ca(server.settings).root_pem])
    assert report.valid and report.signatures[0].signer_common_name == "Người member"
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    for line in ("PHIẾU LẤY Ý KIẾN", "Người member", "Thông qua Dự thảo Nghị định?", "Ý kiến khác",
                 "Đề nghị lùi lộ trình sang năm 2028."):
        assert line in text, line
    assert (await member2.get(f"/api/opinion-ballots/{mine['ballot_id']}/pdf")).status_code == 404

    # Resubmitting replaces the ballot that counts; the earlier one is kept.
    again = await member.post(f"/api/meetings/{mid}/opinion-round/ballot",
                              json=_ballot(rnd, "member", [("agree", None), ("agree", None)]))
    assert again.status_code == 201 and again.json()["mine"]["ballot_id"] != mine["ballot_id"]
    assert (await member2.post(f"/api/meetings/{mid}/opinion-round/ballot",
                               json=_ballot(rnd, "member2", [("disagree", None), ("agree", None)]))).status_code == 201
    withdrawn = await member2.delete(f"/api/meetings/{mid}/opinion-round/ballot")
    assert withdrawn.status_code == 200 and withdrawn.json()["mine"] is None
    chair_ballot = _ballot(rnd, "chair", [("agree", None), ("other", "Cần đánh giá tác động kỹ hơn.")])
    assert (await chair.post(f"/api/meetings/{mid}/opinion-round/ballot", json=chair_ballot)).status_code == 201

    board = (await sec.get(f"/api/meetings/{mid}/opinion-round")).json()
    assert {(b["full_name"], b["answered"]) for b in board["board"]} == {
        ("Người chair", True), ("Người member", True), ("Người member2", False)}
    async with server.db.read() as s:
        ballots = (await s.exec(select(OpinionBallot).join(OpinionRound).where(
            OpinionRound.meeting_id == mid).order_by(col(OpinionBallot.id)))).all()
    assert len(ballots) == 4 and [b.current for b in ballots] == [None, True, None, True]

    too_early = await sec.post(f"/api/meetings/{mid}/records", json={"kind": "resolution", "number": "1/NQ",
                                                                     "title": "Sớm"})
    assert too_early.status_code == 409
    interim = await sec.get(f"/api/meetings/{mid}/opinion-round/report")
    assert interim.status_code == 200 and "Báo cáo tạm thời" in _pdf_text(interim.content)
    assert (await member.get(f"/api/meetings/{mid}/opinion-round/report")).json()["error"]["code"] == (
        "round_not_closed")
    closed = await chair.post(f"/api/meetings/{mid}/opinion-round/close")
    assert closed.status_code == 200, closed.text
    result = closed.json()["result"]
    assert result[0]["outcome"] == {"counts": {"agree": 2, "disagree": 0, "other": 0}, "asked": 3, "answered": 2,
                                    "threshold": 2, "passed": True}
    assert result[1]["outcome"]["counts"] == {"agree": 1, "disagree": 0, "other": 1}
    assert result[1]["outcome"]["passed"] is False
    assert (await sec.get(f"/api/meetings/{mid}")).json()["status"] == "closed"
    late = await member2.post(f"/api/meetings/{mid}/opinion-round/ballot",
                              json=_ballot(rnd, "member2", [("agree", None), ("agree", None)]))
    assert late.status_code == 409
    assert (await member.get(f"/api/meetings/{mid}/opinion-round")).json()["result"][0]["outcome"]["passed"]
    report = _pdf_text((await member.get(f"/api/meetings/{mid}/opinion-round/report")).content)
    for line in ("BÁO CÁO TỔNG HỢP Ý KIẾN", "Lấy ý kiến thành viên về Dự thảo Nghị định",
                 "1. Thông qua Dự thảo Nghị định?", "Lấy ý kiến bằng văn bản",
                 "Số thành viên được lấy ý kiến: 3; số thành viên cho ý kiến: 2", "Nghị quyết được thông qua.",
                 "Thành viên chưa cho ý kiến - Người member2", "Người chair (phiếu số",
                 "Người chair: “Cần đánh giá tác động kỹ hơn.”"):
        assert line in report, line
    assert "Báo cáo tạm thời" not in report
    # The earlier "other opinion" of the member was replaced by their later ballot: it is not quoted.
    assert "Đề nghị lùi lộ trình" not in report

    # A resolution drafted from the closed round, pre-filled from its result, then signed as usual.
    drafted = await sec.post(f"/api/meetings/{mid}/records", json={
        "kind": "resolution", "number": "20/NQ-CP", "title": "Về Dự thảo Nghị định (theo ý kiến thành viên)"})
    assert drafted.status_code == 201, drafted.text
    assert drafted.json()["content"]["articles"] == [
        {"heading": "Điều 1.", "text": "Thông qua: Thông qua Dự thảo Nghị định?"}]
    text = _pdf_text((await sec.get(f"/api/records/{drafted.json()['id']}/pdf")).content)
    for line in ("NGHỊ QUYẾT", "Kết quả lấy ý kiến thành viên", "Điều 1. Thông qua: Thông qua Dự thảo Nghị định?",
                 "Nội dung lấy ý kiến: Đồng ý lộ trình thực hiện từ năm 2027?", "Không được thông qua."):
        assert line in text, line
    minutes = await sec.post(f"/api/meetings/{mid}/records", json={"kind": "minutes", "number": "1/BB",
                                                                  "title": "Biên bản"})
    assert minutes.status_code == 400 and minutes.json()["error"]["code"] == "not_a_session"


def _pdf_text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


async def test_bad_ballots_get_clear_errors_and_store_nothing(server: Server, world: dict[str, Any],
                                                              client_factory: Any) -> None:
    people = world["people"]
    sec, member, guest, outsider = (people[k].client for k in ("secretary", "member", "guest", "outsider"))
    rnd = await _round(server, world)
    mid = rnd["meeting_id"]
    assert (await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})).status_code == 200
    url = f"/api/meetings/{mid}/opinion-round/ballot"
    good = _ballot(rnd, "member", [("agree", None), ("agree", None)])
    cases = [
        (member, {**good, "secret": "sai-mat-khau"}, 403, "wrong_passphrase"),
        (member, {**good, "answers": good["answers"][:1]}, 400, "unanswered_question"),
        (member, {**good, "answers": [*good["answers"][:1], {"question_id": 2_000_000, "choice": "agree"}]}, 400,
         "unknown_question"),
        (member, {**good, "answers": [good["answers"][0], {**good["answers"][1], "choice": "other"}]}, 400,
         "invalid"),
        (member, {**good, "answers": [good["answers"][0], {**good["answers"][1], "choice": "maybe"}]}, 422,
         "validation_error"),
        (member, {**good, "credential_id": rnd["creds"]["member2"]}, 404, "unknown_credential"),
        (guest, good, 403, "forbidden"),
        (outsider, good, 404, "not_found"),  # not told that the meeting exists
    ]
    for client, body, status, code in cases:
        r = await client.post(url, json=body)
        assert r.status_code == status and r.json()["error"]["code"] == code, (code, r.text)
    async with server.db.read() as s:
        assert (await s.exec(select(OpinionBallot).join(OpinionRound).where(
            OpinionRound.meeting_id == mid))).all() == []
    chair = people["chair"].client
    assert (await chair.post(f"/api/meetings/{mid}/transitions", json={"action": "start"})).json()["error"][
        "code"] == "not_a_session"
    member_cannot_close = await member.post(f"/api/meetings/{mid}/opinion-round/close")
    assert member_cannot_close.status_code == 403
    # The same member submitting twice at the same instant: one ballot counts.
    answers = await asyncio.gather(*(member.post(url, json=good) for _ in range(2)))
    assert all(r.status_code in (201, 409) for r in answers) and any(r.status_code == 201 for r in answers)
    async with server.db.read() as s:
        current = (await s.exec(select(OpinionBallot).join(OpinionRound).where(
            OpinionRound.meeting_id == mid, OpinionBallot.current == True))).all()  # noqa: E712
    assert len(current) == 1
    bad_setup = await sec.put(f"/api/meetings/{mid}/opinion-round", json={
        "deadline": "2030-01-01T00:00:00+07:00", "questions": ["?"]})
    assert bad_setup.status_code == 409  # a sent round's questions no longer change


async def test_the_deadline_closes_the_round_from_what_is_stored(server: Server, world: dict[str, Any]) -> None:
    """The deadline lives in the database: whichever worker runs (here the running server after the
    deadline was moved into the past behind its back, as after a restart) closes the round."""
    people = world["people"]
    sec, member = people["secretary"].client, people["member"].client
    rnd = await _round(server, world)
    mid = rnd["meeting_id"]
    assert (await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})).status_code == 200
    assert (await member.post(f"/api/meetings/{mid}/opinion-round/ballot",
                              json=_ballot(rnd, "member", [("agree", None), ("agree", None)]))).status_code == 201
    async with server.db.write() as s:
        stored = (await s.exec(select(OpinionRound).where(OpinionRound.meeting_id == mid))).one()
        stored.deadline = datetime.now(UTC) - timedelta(seconds=1)
        s.add(stored)
    for _ in range(100):
        state = (await sec.get(f"/api/meetings/{mid}/opinion-round")).json()
        if state["status"] == "closed":
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "closed" and state["result"][0]["outcome"]["answered"] == 1
    past = await sec.put(f"/api/meetings/{mid}/opinion-round", json={"deadline": "2020-01-01T00:00:00+07:00",
                                                                     "questions": ["?"]})
    assert past.status_code == 409


async def test_members_and_staff_hear_the_round_live(server: Server, world: dict[str, Any], live_factory: Any) -> None:
    """Connected tablets need not join anything: the round's news goes to each person's own room."""
    people = world["people"]
    sec = people["secretary"].client
    rnd = await _round(server, world)
    mid = rnd["meeting_id"]
    member_tablet = await live_factory(people["member"])
    secretary_tablet = await live_factory(people["secretary"])
    guest_tablet = await live_factory(people["guest"])
    assert (await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})).status_code == 200
    opened = await member_tablet.wait_for("opinion_round.opened", lambda d: d["meeting_id"] == mid)
    assert opened["title"] == "Lấy ý kiến thành viên về Dự thảo Nghị định" and opened["deadline"]
    assert (await people["member"].client.post(f"/api/meetings/{mid}/opinion-round/ballot", json=_ballot(
        rnd, "member", [("agree", None), ("agree", None)]))).status_code == 201
    progress = await secretary_tablet.wait_for("opinion_round.progress", lambda d: d["answered"] == 1)
    assert progress["asked"] == 3 and [b["answered"] for b in progress["board"]].count(True) == 1
    assert (await people["chair"].client.post(f"/api/meetings/{mid}/opinion-round/close")).status_code == 200
    closed = await member_tablet.wait_for("opinion_round.closed", lambda d: d["meeting_id"] == mid)
    assert closed["by_deadline"] is False
    assert not [e for e, seen in guest_tablet.events.items() if e.startswith("opinion_round.") and seen]  # not asked


class _Inbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


async def test_reminders_on_schedule_and_on_demand_reach_the_app_and_the_mail(
        server: Server, world: dict[str, Any], admin: Any) -> None:
    import dataclasses

    from aiosmtpd.controller import Controller

    from backend.services.files import FileStore
    from backend.services.opinions import Opinions
    from tests.conftest import free_port

    people = world["people"]
    for key in ("member", "member2"):
        r = await admin.patch(f"/api/users/{people[key].id}", json={"email": f"{key}@example.test"})
        assert r.status_code == 200 and r.json()["email"] == f"{key}@example.test", r.text
    assert (await admin.patch(f"/api/users/{people['member'].id}", json={"email": "not an address"})).status_code == 422
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sec = people["secretary"].client
        rnd = await _round(server, world, deadline=datetime.now(UTC) + timedelta(minutes=30))
        mid = rnd["meeting_id"]
        # The 2-hours-before reminder comes due two seconds after the round is sent (member2 answers first).
        configured = await sec.put(f"/api/meetings/{mid}/opinion-round", json={
            "deadline": (datetime.now(UTC) + timedelta(seconds=7203)).isoformat(), "reminders_seconds": [7200, 3600],
            "questions": ["Thông qua Dự thảo Nghị định?", "Đồng ý lộ trình thực hiện từ năm 2027?"]})
        assert configured.status_code == 200
        rnd["questions"] = [q["id"] for q in (await sec.get(f"/api/meetings/{mid}/opinion-round")).json()["questions"]]
        assert (await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})).status_code == 200
        assert (await people["member2"].client.post(f"/api/meetings/{mid}/opinion-round/ballot", json=_ballot(
            rnd, "member2", [("agree", None), ("agree", None)]))).status_code == 201
        # The running server's housekeeping sends each scheduled reminder once, from the stored schedule.
        async def reminders(count: int) -> list[dict[str, Any]]:
            for _ in range(200):
                state = (await sec.get(f"/api/meetings/{mid}/opinion-round")).json()
                if len(state["reminders"]) >= count:
                    return list(state["reminders"])
                await asyncio.sleep(0.05)
            raise AssertionError(f"fewer than {count} reminders: {state['reminders']}")

        first = await reminders(1)
        assert [(r["slot"], r["recipients"]) for r in first] == [("before:7200", 2)]  # the chair, the member
        async with server.db.write() as s:  # an hour later, as far as the schedule can tell
            stored = (await s.exec(select(OpinionRound).where(OpinionRound.meeting_id == mid))).one()
            stored.deadline = datetime.now(UTC) + timedelta(minutes=30)
            s.add(stored)
        assert [r["slot"] for r in await reminders(2)] == ["before:7200", "before:3600"]
        mailer = Opinions(server.db, FileStore.for_settings(server.settings),
                          dataclasses.replace(server.settings, smtp_host="127.0.0.1", smtp_port=port))
        assert await mailer.remind_due() == 0  # nothing left to send, and nothing sent twice
        from backend.models import User
        from backend.services.auth import actor_for

        async with server.db.read() as s:
            chair_user = await s.get(User, people["chair"].id)
        assert chair_user is not None
        mailed = await mailer.remind(actor_for(chair_user), mid)
        assert mailed["recipients"] == 2 and mailed["emails"] == 1
        for _ in range(50):
            if inbox.messages:
                break
            await asyncio.sleep(0.05)
        assert [m["To"] for m in inbox.messages] == ["Người member <member@example.test>"]
        assert "Lấy ý kiến thành viên về Dự thảo Nghị định" in inbox.messages[0]["Subject"]
        assert "Hạn cuối" in inbox.messages[0].get_content()
        # Sending a round e-mails everyone asked who has an address.
        await mailer.published(mid)
        for _ in range(50):
            if len(inbox.messages) >= 3:
                break
            await asyncio.sleep(0.05)
        assert sorted(m["To"] for m in inbox.messages[1:]) == ["Người member <member@example.test>",
                                                              "Người member2 <member2@example.test>"]
        assert all(m["Subject"].startswith("[e-Cabinet] Xin ý kiến") for m in inbox.messages[1:])
        manual = await people["chair"].client.post(f"/api/meetings/{mid}/opinion-round/remind")
        assert manual.status_code == 200 and manual.json()["recipients"] == 2
        state = (await sec.get(f"/api/meetings/{mid}/opinion-round")).json()
        assert [r["slot"].split(":")[0] for r in state["reminders"]] == ["before", "before", "manual", "manual"]
        assert [r["emails"] for r in state["reminders"]][2:] == [1, 0]  # by the mailer, then without SMTP
        refused = await people["member"].client.post(f"/api/meetings/{mid}/opinion-round/remind")
        assert refused.status_code == 403
    finally:
        controller.stop()


async def test_members_comment_on_the_rounds_documents_in_their_signed_ballot(server: Server,
                                                                             world: dict[str, Any]) -> None:
    from tests.support.sample_pdfs import sample_pdf

    people = world["people"]
    sec, member, member2 = (people[k].client for k in ("secretary", "member", "member2"))
    rnd = await _round(server, world)
    mid = rnd["meeting_id"]
    docs = []
    for title, form in (("Dự thảo Nghị định", {}), ("Báo cáo đánh giá tác động", {}),
                        ("Ý kiến thẩm định (chỉ thành viên 2)", {"audience": "named",
                                                                 "readers": str(people["member2"].id)})):
        r = await sec.post(f"/api/meetings/{mid}/documents", data={"title": title, **form},
                           files={"file": ("d.pdf", sample_pdf(1), "application/pdf")})
        assert r.status_code == 201, r.text
        docs.append(r.json()["id"])
    assert (await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})).status_code == 200
    url = f"/api/meetings/{mid}/opinion-round/ballot"
    body = _ballot(rnd, "member", [("agree", None), ("agree", None)])
    for comments, code in [
        ([{"document_id": docs[2], "text": "Không được xem"}], "unknown_document"),  # not a reader
        ([{"document_id": 2_000_000, "text": "x"}], "unknown_document"),
        ([{"document_id": docs[0], "text": "Một"}, {"document_id": docs[0], "text": "Hai"}], "duplicate_comment"),
    ]:
        r = await member.post(url, json={**body, "comments": comments})
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    assert (await member.post(url, json={**body, "comments": [{"document_id": docs[0], "text": "  "}]})
            ).status_code == 422
    assert (await member.get(f"/api/meetings/{mid}/opinion-round")).json()["mine"] is None  # nothing stored
    ok = await member.post(url, json={**body, "comments": [
        {"document_id": docs[0], "text": "Điều 5 cần quy định rõ thẩm quyền của Ủy ban nhân dân cấp tỉnh."}]})
    assert ok.status_code == 201, ok.text
    mine = ok.json()["mine"]
    assert mine["comments"] == [{"document_id": docs[0],
                                 "text": "Điều 5 cần quy định rõ thẩm quyền của Ủy ban nhân dân cấp tỉnh."}]
    pdf = (await member.get(f"/api/opinion-ballots/{mine['ballot_id']}/pdf")).content
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "Góp ý về tài liệu" in text and "Dự thảo Nghị định: Điều 5 cần quy định rõ thẩm quyền" in text
    signed = await signing.verify_pdf(pdf, trust_roots=[credentials.dev_ca(server.settings).root_pem])
    assert signed.valid
    r = await member2.post(url, json={**_ballot(rnd, "member2", [("disagree", None), ("agree", None)]), "comments": [
        {"document_id": docs[2], "text": "Ý kiến thẩm định chưa đầy đủ."}]})
    assert r.status_code == 201, r.text
    assert (await sec.post(f"/api/meetings/{mid}/opinion-round/close")).status_code == 200
    report = (await member.get(f"/api/meetings/{mid}/opinion-round/report")).content
    report_text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(report)).pages).split())
    assert "Góp ý về tài liệu" in report_text
    assert "Người member: “Điều 5 cần quy định rõ thẩm quyền" in report_text
    assert "Người member2: “Ý kiến thẩm định chưa đầy đủ.”" in report_text
