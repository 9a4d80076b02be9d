"""Finding 7c: titles, names and notes may not hold control, bidirectional-override, zero-width or other
invisible characters (U+202E makes "Nghị quyết\u202efdp.exe" read as a PDF). One check refuses them in
every REST body, form, file name, query and Socket.IO payload: 400 `unsafe_text`, nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from backend.domain.text import strip_unsafe, unsafe_character
from tests.integration.conftest import Client, unique
from tests.integration.helpers import assert_error, nothing_written, ok
from tests.integration.test_documents_api import upload
from tests.support.sample_pdfs import sample_pdf

UNSAFE = ["\u202e", "\u202d", "\u2066", "\u200b", "\u200d", "\ufeff", "\x07", "\x1b", "\x7f", "\x85", "\u2028",
          "\ud800"]


def test_the_one_check_finds_each_unsafe_character_anywhere_and_keeps_vietnamese_and_line_breaks() -> None:
    for ch in UNSAFE:
        assert unsafe_character(f"Tờ trình{ch}số 1") == ch
        assert unsafe_character({"a": [1, {"b": f"x{ch}"}]}) == ch
        assert unsafe_character({f"k{ch}": 1}) == ch
        assert strip_unsafe(f"Tờ{ch} trình") == "Tờ trình"
    for fine in ("Nghị quyết về đầu tư công\nĐiều 1.\tGiao", "Họp 08:00 — 3/12/2026 “Phiên thường kỳ”", "", 7):
        assert unsafe_character(fine) is None


@pytest.mark.parametrize("ch", ["\u202e", "\u200b", "\x1b"])
async def test_rest_input_with_unsafe_characters_is_refused_and_writes_nothing(
        world: dict[str, Any], ch: str) -> None:
    people, mid, admin = world["people"], world["meeting"]["id"], world["admin"]
    sec: Client = people["secretary"].client
    async with nothing_written(admin, (sec, f"/api/meetings/{mid}"), (sec, f"/api/meetings/{mid}/agenda"),
                               (sec, f"/api/meetings/{mid}/documents")):
        for r in [
            await sec.patch(f"/api/meetings/{mid}", json={"title": f"Phiên họp{ch}tháng 12"}),
            await sec.post(f"/api/meetings/{mid}/agenda", json={"title": f"Báo cáo{ch}"}),
            await sec.post("/api/meetings", json={"body_id": world["body"]["id"], "title": f"Họp{ch}",
                                                  "starts_at": "2026-12-03T08:00:00+07:00"}),
            await admin.post("/api/users", json={"username": unique("rtl."), "full_name": f"Nguyễn{ch}Văn A",
                                                 "password": "Mat-khau-rtl-2026"}),
            await upload(sec, mid, sample_pdf(1, seed=77), title=f"Tờ trình{ch}"),
            await upload(sec, mid, sample_pdf(1, seed=78), filename=f"to-trinh{ch}fdp.exe.pdf"),
            await sec.get("/api/search", params={"q": f"nghị{ch}quyết"}),
        ]:
            assert_error(r, 400, "unsafe_text")
    # Line breaks and tabs in long text stay allowed.
    ok(await sec.patch(f"/api/meetings/{mid}", json={"description": "Nội dung:\n\t1. Báo cáo"}))


async def test_socket_payloads_with_unsafe_characters_are_refused(session_world: dict[str, Any],
                                                                  live_factory: Any) -> None:
    chair = await live_factory(session_world["people"]["chair"])
    mid = session_world["meeting_id"]
    for ch in ("\u202e", "\u200b", "\x1b"):
        ack = await chair.call("poll.create", {"meeting_id": mid, "question": f"Thông qua{ch}?"})
        assert ack["ok"] is False and ack["error"]["code"] == "unsafe_text", ack
    polls = (await session_world["people"]["chair"].client.get(f"/api/meetings/{mid}/polls")).json()
    assert polls == []
