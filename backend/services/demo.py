"""A realistic Vietnamese demo: the Government with its Prime Minister, deputy prime ministers and
ministers, the Government Office's secretariat, three provincial bridge points, and a regular
Government meeting with five agenda items. Loaded once; loading again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlmodel import col, select

from backend.config import Settings
from backend.db import Database
from backend.domain.meeting_states import Action
from backend.models import AgendaItem, Document, Meeting
from backend.pdf.text_document import render_text_document
from backend.services import agenda, auth, bodies, credentials, meetings, participants, users
from backend.services.documents import Documents
from backend.services.files import FileStore

VIETNAM = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class DemoAccount:
    username: str
    """Login name."""
    password: str
    """Demo password (listed in the README: demo data is not for production)."""
    full_name: str
    """Display name (fictional people)."""
    title: str
    """Position."""
    role: str | None
    """Role in the demo meeting, if any."""
    is_admin: bool = False
    """Administrator."""
    is_secretariat: bool = False
    """Government Office secretariat."""


ACCOUNTS = [
    DemoAccount("admin", "QuanTri@2026", "Quản trị hệ thống", "Quản trị viên", None, is_admin=True),
    DemoAccount("thutuong", "ChuToa@2026", "Nguyễn Văn An", "Thủ tướng Chính phủ", "chair"),
    DemoAccount("pho.thutuong1", "ThanhVien@2026", "Trần Thị Bình", "Phó Thủ tướng Chính phủ", "member"),
    DemoAccount("pho.thutuong2", "ThanhVien@2026", "Lê Quang Cường", "Phó Thủ tướng Chính phủ", "member"),
    DemoAccount("bo.taichinh", "ThanhVien@2026", "Phạm Minh Đức", "Bộ trưởng Bộ Tài chính", "member"),
    DemoAccount("bo.tuphap", "ThanhVien@2026", "Hoàng Thu Hà", "Bộ trưởng Bộ Tư pháp", "member"),
    DemoAccount("bo.khcn", "ThanhVien@2026", "Vũ Đức Khánh", "Bộ trưởng Bộ Khoa học và Công nghệ", "member"),
    DemoAccount("vpcp.thuky", "BienBan@2026", "Đỗ Thị Lan", "Chuyên viên Văn phòng Chính phủ", "secretary",
                is_secretariat=True),
    DemoAccount("diemcau.hanoi", "DiemCau@2026", "Điểm cầu Hà Nội", "UBND thành phố Hà Nội", "bridge"),
    DemoAccount("diemcau.hcm", "DiemCau@2026", "Điểm cầu TP. Hồ Chí Minh", "UBND Thành phố Hồ Chí Minh",
                "bridge"),
    DemoAccount("diemcau.danang", "DiemCau@2026", "Điểm cầu Đà Nẵng", "UBND thành phố Đà Nẵng", "bridge"),
]

# The demo's signers (the chair, the secretary, and the members who answer opinion rounds) get
# certificates from the development CA, their keys under this passphrase.
SIGNERS = ("thutuong", "vpcp.thuky", "pho.thutuong1", "pho.thutuong2", "bo.taichinh", "bo.tuphap", "bo.khcn")
SIGNING_PASSPHRASE = "KySo@2026"

MEETING_TITLE = "Phiên họp Chính phủ thường kỳ"
AGENDA = [
    ("Báo cáo tình hình kinh tế - xã hội tháng 11 và 11 tháng năm 2026", "Bộ trưởng Bộ Tài chính", 45),
    ("Tình hình thực hiện dự toán ngân sách nhà nước năm 2026", "Bộ trưởng Bộ Tài chính", 30),
    ("Dự án Luật sửa đổi, bổ sung một số điều của Luật Ban hành văn bản quy phạm pháp luật",
     "Bộ trưởng Bộ Tư pháp", 40),
    ("Đề án chuyển đổi số trong hoạt động của cơ quan hành chính nhà nước",
     "Bộ trưởng Bộ Khoa học và Công nghệ", 30),
    ("Ý kiến của các điểm cầu địa phương về giải ngân vốn đầu tư công", "Chủ tịch UBND các tỉnh, thành phố", 25),
]


def next_meeting_time(now: datetime) -> datetime:
    """The next Thursday (at least one day ahead) at 08:00, Vietnam time."""
    local = now.astimezone(VIETNAM) + timedelta(days=1)
    while local.weekday() != 3:
        local += timedelta(days=1)
    return local.replace(hour=8, minute=0, second=0, microsecond=0)


async def load(db: Database, *, now: datetime | None = None) -> list[DemoAccount] | None:
    """Load the demo once. Returns the accounts created, or None if the demo was already there."""
    if await users.by_username(db, "thutuong") is not None:
        return None
    government = await bodies.create(db, None, {"name": "Chính phủ nước Cộng hòa xã hội chủ nghĩa Việt Nam",
                                                "short_name": "Chính phủ", "kind": "government"})
    await bodies.create(db, None, {"name": "Ủy ban nhân dân thành phố Hà Nội", "short_name": "UBND TP. Hà Nội",
                                   "kind": "provincial_committee"})
    created = {}
    for account in ACCOUNTS:
        created[account.username] = await users.create(db, None, {
            "username": account.username, "password": account.password, "full_name": account.full_name,
            "title": account.title, "language": "vi", "is_admin": account.is_admin,
            "is_secretariat": account.is_secretariat, "body_id": government.id})
    secretary = auth.actor_for(created["vpcp.thuky"])
    starts = next_meeting_time(now or datetime.now(VIETNAM))
    view = await meetings.create(db, secretary, {
        "body_id": government.id, "title": MEETING_TITLE, "kind": "session", "starts_at": starts,
        "place": "Phòng họp Chính phủ, Trụ sở Chính phủ, Hà Nội",
        "description": "Phiên họp thường kỳ tháng 11 năm 2026, kết nối trực tuyến với các điểm cầu địa phương.",
        "confidentiality": "normal"})
    meeting_id = view.meeting.id
    assert meeting_id is not None
    for title, presenter, minutes in AGENDA:
        await agenda.add(db, secretary, meeting_id, {"title": title, "presenter": presenter,
                                                     "planned_minutes": minutes, "description": ""})
    for account in ACCOUNTS:
        if account.role and account.role != "secretary":
            await participants.add(db, secretary, meeting_id,
                                   {"user_id": created[account.username].id, "role": account.role})
    await meetings.transition(db, secretary, meeting_id, Action.PUBLISH)

    draft = await meetings.create(db, secretary, {
        "body_id": government.id, "title": "Phiên họp chuyên đề về xây dựng pháp luật",
        "kind": "session", "starts_at": starts + timedelta(days=7), "place": "Phòng họp Chính phủ",
        "description": "Đang chuẩn bị.", "confidentiality": "confidential"})
    assert draft.meeting.id is not None
    await agenda.add(db, secretary, draft.meeting.id, {"title": "Dự án Luật Dữ liệu (sửa đổi)",
                                                       "presenter": "Bộ trưởng Bộ Tư pháp", "planned_minutes": 60,
                                                       "description": ""})
    return ACCOUNTS


# The demo meeting's documents: (agenda item index, title, sections); the last one is Mật.
DOCUMENTS = [
    (0, "Báo cáo tình hình kinh tế - xã hội tháng 11 năm 2026", [
        ("I. Tình hình kinh tế - xã hội", [
            "Tổng sản phẩm trong nước (GDP) quý IV ước tăng 7,1% so với cùng kỳ; sản xuất công nghiệp tiếp tục "
            "phục hồi, chỉ số sản xuất toàn ngành tăng 8,4%. Kim ngạch xuất khẩu hàng hóa 11 tháng ước đạt "
            "390 tỷ USD, tăng 13,2% so với cùng kỳ năm trước.",
            "Giải ngân vốn đầu tư công đến hết tháng 11 đạt 65,4% kế hoạch Thủ tướng Chính phủ giao, cao hơn cùng "
            "kỳ; tuy nhiên một số bộ, cơ quan trung ương và địa phương còn chậm, cần tập trung tháo gỡ vướng mắc "
            "về giải phóng mặt bằng.",
        ]),
        ("II. Nhiệm vụ, giải pháp trọng tâm tháng 12", [
            "Đẩy nhanh giải ngân vốn đầu tư công, phấn đấu đạt trên 95% kế hoạch năm; bảo đảm cân đối ngân sách "
            "nhà nước, kiểm soát lạm phát, ổn định kinh tế vĩ mô.",
            "Hoàn thiện Nghị quyết về các nhiệm vụ, giải pháp chủ yếu thực hiện kế hoạch phát triển kinh tế - xã "
            "hội và dự toán ngân sách nhà nước năm 2027, trình Chính phủ ban hành trong tháng 12.",
        ]),
    ]),
    (1, "Tờ trình về tình hình thực hiện dự toán ngân sách nhà nước năm 2026", [
        ("1. Thu ngân sách nhà nước", [
            "Tổng thu ngân sách nhà nước 11 tháng ước đạt 1.820 nghìn tỷ đồng, bằng 104,6% dự toán; trong đó thu "
            "nội địa đạt 103,9%, thu từ dầu thô đạt 112%, thu cân đối từ hoạt động xuất nhập khẩu đạt 101,2%.",
        ]),
        ("2. Chi ngân sách nhà nước", [
            "Tổng chi ngân sách nhà nước ước đạt 1.615 nghìn tỷ đồng, bằng 76,3% dự toán; bảo đảm chi trả nợ, "
            "chi lương và các khoản chi an sinh xã hội đúng hạn.",
            "Bộ Tài chính kính trình Chính phủ xem xét, cho ý kiến để hoàn thiện báo cáo trình Quốc hội.",
        ]),
    ]),
    (2, "Dự thảo Nghị quyết phiên họp Chính phủ thường kỳ tháng 11 năm 2026", [
        ("Điều 1. Về tình hình kinh tế - xã hội", [
            "Chính phủ thống nhất đánh giá tình hình kinh tế - xã hội tháng 11 và 11 tháng năm 2026 tiếp tục xu "
            "hướng tích cực; yêu cầu các bộ, ngành, địa phương quyết liệt thực hiện các nhiệm vụ còn lại của năm.",
        ]),
        ("Điều 2. Về dự án Luật", [
            "Giao Bộ Tư pháp chủ trì, phối hợp với các cơ quan liên quan tiếp thu ý kiến thành viên Chính phủ, "
            "hoàn thiện hồ sơ dự án Luật sửa đổi, bổ sung một số điều của Luật Ban hành văn bản quy phạm pháp luật.",
        ]),
    ]),
    (3, "Phương án nhân sự thực hiện Đề án chuyển đổi số (Mật)", [
        ("Nội dung", [
            "Tài liệu Mật: chỉ xem trên màn hình trong phòng họp; không sao chép, không in, không tải về.",
            "Đề xuất kiện toàn Ban Chỉ đạo chuyển đổi số của các bộ, cơ quan ngang bộ trong quý I năm 2027.",
        ]),
    ]),
]


async def load_documents(db: Database, settings: Settings) -> int:
    """The demo meeting's documents (once): rendered here, uploaded through the same checks as any upload."""
    secretary_user = await users.by_username(db, "vpcp.thuky")
    if secretary_user is None:
        return 0
    async with db.read() as s:
        meeting = (await s.exec(select(Meeting).where(Meeting.title == MEETING_TITLE))).first()
        if meeting is None or (await s.exec(select(Document).where(Document.meeting_id == meeting.id))).first():
            return 0
        items = (await s.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
                              .order_by(col(AgendaItem.position)))).all()
    assert meeting.id is not None
    service = Documents(db, FileStore.for_settings(settings), settings)
    for index, title, sections in DOCUMENTS:
        pdf = render_text_document(title, sections, issuer="CHÍNH PHỦ")
        await service.upload(auth.actor_for(secretary_user), meeting.id, {
            "title": title, "agenda_item_id": items[index].id, "secret": "(Mật)" in title}, pdf,
            f"tai-lieu-{index + 1}.pdf")
    return len(DOCUMENTS)


async def load_signing(db: Database, settings: Settings) -> list[str]:
    """A development CA and certificates for the demo's chair and secretary (once)."""
    if not credentials.dev_ca(settings).exists:
        credentials.init_ca(settings)
    issued = []
    for username in SIGNERS:
        if not await credentials.list_for(db, username):
            await credentials.issue(db, settings, username, SIGNING_PASSPHRASE)
            issued.append(username)
    return issued
