"""A fresh meeting per browser test (made over REST by the demo's secretariat, started by its chair), so a
test that ends its session leaves the demo meeting to the others; and the chair's or a member's Socket.IO
calls without a screen."""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import socketio

from tests.support.sample_pdfs import sample_pdf

CHAIR = ("thutuong", "ChuToa@2026")
SECRETARY = ("vpcp.thuky", "BienBan@2026")
DEMO_MEETING = "Phiên họp Chính phủ thường kỳ"
# username: role in the fresh meeting
CAST = {"thutuong": "chair", "pho.thutuong1": "member", "bo.taichinh": "member", "bo.tuphap": "member",
        "diemcau.hanoi": "bridge"}
ITEMS = ("Báo cáo kết quả thực hiện nhiệm vụ quý IV", "Đề án sắp xếp đơn vị sự nghiệp công lập")
PAPER = "Báo cáo quý IV (bản trình Chính phủ)"
PAPER_PAGES = 4


def token(base_url: str, who: tuple[str, str]) -> str:
    r = httpx.post(f"{base_url}/api/auth/tokens", json={"username": who[0], "password": who[1]}, timeout=10)
    r.raise_for_status()
    return str(r.json()["token"])


def client(base_url: str, who: tuple[str, str]) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token(base_url, who)}"}, timeout=30)


def call(base_url: str, tok: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
    """One Socket.IO event on a connection of its own (the console's part, without its screen)."""
    async def go() -> dict[str, Any]:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(base_url, auth={"token": tok}, transports=["websocket"], wait_timeout=10)
        try:
            ack: dict[str, Any] = await sio.call(event, data, timeout=10)
            return ack
        finally:
            await sio.disconnect()
    # Playwright's sync API owns this thread's event loop: the call runs in a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result(timeout=30)


@dataclass
class Session:
    base_url: str
    meeting_id: int
    title: str
    items: list[int]  # agenda item ids in order: the first has PAPER, the second no document
    document_id: int
    chair_token: str

    def chair(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        ack = call(self.base_url, self.chair_token, event, {"meeting_id": self.meeting_id, **(data or {})})
        assert ack.get("ok"), ack
        return ack

    def transition(self, action: str) -> None:
        with httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.chair_token}"},
                          timeout=30) as http:
            r = http.post(f"/api/meetings/{self.meeting_id}/transitions", json={"action": action})
            assert r.status_code == 200, r.text

    def open_poll(self, question: str) -> int:
        poll = call(self.base_url, self.chair_token, "poll.create",
                    {"meeting_id": self.meeting_id, "question": question})
        assert poll.get("ok"), poll
        poll_id = int(poll["poll"]["id"])
        assert call(self.base_url, self.chair_token, "poll.open", {"poll_id": poll_id}).get("ok")
        return poll_id

    def close_poll(self, poll_id: int) -> None:
        assert call(self.base_url, self.chair_token, "poll.close", {"poll_id": poll_id}).get("ok")


def fresh_session(base_url: str, *, start: bool = True, label: str = "") -> Session:
    """A meeting of the demo's body with CAST, two items (the first with a PAPER_PAGES-page document)."""
    title = f"Phiên họp kiểm thử {label} {secrets.token_hex(3)}".replace("  ", " ")
    with client(base_url, SECRETARY) as sec:
        demo = next(m for m in sec.get("/api/meetings").json() if m["title"] == DEMO_MEETING)
        detail = sec.get(f"/api/meetings/{demo['id']}").json()
        users = {p["username"]: p["user_id"] for p in detail["participants"]}
        r = sec.post("/api/meetings", json={"body_id": demo["body_id"], "title": title,
                                            "starts_at": "2026-12-10T08:00:00+07:00", "place": "Phòng họp Chính phủ"})
        assert r.status_code == 201, r.text
        mid = int(r.json()["id"])
        items = []
        for item in ITEMS:
            r = sec.post(f"/api/meetings/{mid}/agenda", json={"title": item, "presenter": "Bộ trưởng Bộ Tài chính",
                                                              "planned_minutes": 20, "description": ""})
            assert r.status_code == 201, r.text
            items.append(int(r.json()["id"]))
        for username, role in CAST.items():
            r = sec.post(f"/api/meetings/{mid}/participants", json={"user_id": users[username], "role": role})
            assert r.status_code == 201, r.text
        pdf = sample_pdf(PAPER_PAGES, title=PAPER, text=lambda n: f"Báo cáo quý IV, trang {n}")
        r = sec.post(f"/api/meetings/{mid}/documents", data={"title": PAPER, "agenda_item_id": str(items[0])},
                     files={"file": ("bao-cao.pdf", pdf, "application/pdf")})
        assert r.status_code == 201, r.text
        document_id = int(r.json()["id"])
        r = sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})
        assert r.status_code == 200, r.text
    session = Session(base_url, mid, title, items, document_id, token(base_url, CHAIR))
    if start:
        session.transition("start")
    return session
