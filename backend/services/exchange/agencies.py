"""The directory of agencies we exchange documents with: imported from a CSV file by the operator
(`ecabinet agencies import FILE.csv`, all or nothing), listed to users, and handed to the package reader as
the agencies a sender or recipient must be (only the active ones)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from backend.db import Database
from backend.exceptions import ValidationFailed
from backend.models import Agency
from backend.services import audit
from exchange import fields

COLUMNS = ("code", "name", "level", "parent_code")
MAX_NAME = 300


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    level: int
    parent_code: str | None


class DirectoryRefused(ValidationFailed):
    """The file has invalid rows (each named with its line number in `problems`); nothing was imported."""

    code = "invalid_directory"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the file; nothing was imported: " + "; ".join(problems[:20]),
                         details=problems)
        self.problems = problems


def read_csv(text: str, known: set[str] | frozenset[str] = frozenset()) -> list[Row]:
    """The rows of a directory file (header `code,name,level,parent_code`), or DirectoryRefused naming every
    bad line. A parent must be in the file or already in the directory (`known`)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    problems: list[str] = []
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != COLUMNS:
        raise DirectoryRefused([f"line 1: the header must be {','.join(COLUMNS)}"])
    rows: list[tuple[int, Row]] = []
    seen: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            problems.append(f"line {line}: {len(cells)} columns, expected {len(COLUMNS)}")
            continue
        code, name, level_text, parent = (c.strip() for c in cells)
        try:
            fields.check_agency_id(code, "code")
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        if code in seen:
            problems.append(f"line {line}: code {code} is already on line {seen[code]}")
            continue
        seen[code] = line
        if not name or len(name) > MAX_NAME:
            problems.append(f"line {line}: the name must have 1 to {MAX_NAME} characters")
        if level_text not in ("1", "2", "3", "4"):
            problems.append(f"line {line}: level must be 1, 2, 3 or 4, not {level_text!r}")
        if parent:
            try:
                fields.check_agency_id(parent, "parent_code")
            except ValueError as exc:
                problems.append(f"line {line}: {exc}")
            if parent == code:
                problems.append(f"line {line}: an agency cannot be its own parent")
        rows.append((line, Row(code, name, int(level_text) if level_text.isdigit() else 0, parent or None)))
    for line, row in rows:
        if row.parent_code and row.parent_code not in seen and row.parent_code not in known:
            problems.append(f"line {line}: parent_code {row.parent_code} is neither in the file nor in the directory")
    if problems:
        raise DirectoryRefused(problems)
    return [row for _, row in rows]


async def import_csv(db: Database, text: str) -> dict[str, int]:
    """Adds the file's agencies and updates those already listed (and marks them active), in one
    transaction: any invalid row, and nothing changes."""
    async with db.write() as s:
        existing = {a.code: a for a in (await s.exec(select(Agency))).all()}
        rows = read_csv(text, frozenset(existing))
        added = updated = 0
        for row in rows:
            agency = existing.get(row.code)
            if agency is None:
                s.add(Agency(code=row.code, name=row.name, level=row.level, parent_code=row.parent_code))
                added += 1
            else:
                agency.name, agency.level, agency.parent_code, agency.active = (row.name, row.level,
                                                                                row.parent_code, True)
                s.add(agency)
                updated += 1
        await audit.record(s, "exchange.directory_imported", actor_id=None, object_type="agency",
                           details={"added": added, "updated": updated})
    return {"added": added, "updated": updated}


async def listing(db: Database) -> list[dict[str, Any]]:
    async with db.read() as s:
        rows = (await s.exec(select(Agency).order_by(col(Agency.code)))).all()
    return [{"code": a.code, "name": a.name, "level": a.level, "parent_code": a.parent_code, "active": a.active}
            for a in rows]


async def known_codes(db: Database) -> set[str]:
    """The active agencies: who may send to us (and be named as a recipient)."""
    async with db.read() as s:
        return set((await s.exec(select(Agency.code).where(col(Agency.active).is_(True)))).all())


async def name_of(db: Database, code: str) -> str | None:
    async with db.read() as s:
        agency = await s.get(Agency, code)
        return None if agency is None else agency.name


# EXAMPLES for the demo, NOT the official directory: the Government Office's code 000.00.00.G22 is the one
# the public implementations use; the other codes are plausible ones in the same form (ministries G..,
# provinces H..). Import the real list from the national exchange with `ecabinet agencies import`.
DEMO_CSV = """code,name,level,parent_code
000.00.00.G22,Văn phòng Chính phủ,1,
000.00.00.G01,Bộ Tài chính,1,
000.00.00.G07,Bộ Kế hoạch và Đầu tư,1,
000.00.00.G10,Bộ Nội vụ,1,
000.00.00.G13,Bộ Tư pháp,1,
000.00.00.G23,Bộ Thông tin và Truyền thông,1,
000.00.00.H26,Ủy ban nhân dân tỉnh Hà Tĩnh,1,
000.00.00.H29,Ủy ban nhân dân thành phố Hà Nội,1,
000.00.00.H41,Ủy ban nhân dân tỉnh Nghệ An,1,
000.00.00.H58,Ủy ban nhân dân Thành phố Hồ Chí Minh,1,
000.00.01.H41,Văn phòng Ủy ban nhân dân tỉnh Nghệ An,2,000.00.00.H41
"""


async def load_demo(db: Database) -> int:
    """The example directory, once (an existing directory is left alone)."""
    async with db.read() as s:
        if (await s.exec(select(Agency).limit(1))).first() is not None:
            return 0
    return (await import_csv(db, DEMO_CSV))["added"]
