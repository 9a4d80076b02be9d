"""`ecabinet agencies import|list`: the operator loads the directory of agencies from a CSV file, all or
nothing, and every invalid row is named with its line number."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_cli import ecabinet

GOOD = """code,name,level,parent_code
000.00.00.G22,Văn phòng Chính phủ,1,
000.00.00.H41,Ủy ban nhân dân tỉnh Nghệ An,1,
000.00.01.H41,Văn phòng UBND tỉnh Nghệ An,2,000.00.00.H41
"""


def _listed(data_dir: Path) -> list[dict[str, object]]:
    done = ecabinet(data_dir, "agencies", "list", "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout)
    return rows


def test_a_directory_file_is_imported_and_listed(tmp_path: Path) -> None:
    assert ecabinet(tmp_path, "migrate").returncode == 0
    (tmp_path / "dir.csv").write_text(GOOD, encoding="utf-8")
    done = ecabinet(tmp_path, "agencies", "import", str(tmp_path / "dir.csv"))
    assert done.returncode == 0, done.stderr
    assert "3 agencies added" in done.stdout
    rows = _listed(tmp_path)
    assert [r["code"] for r in rows] == ["000.00.00.G22", "000.00.00.H41", "000.00.01.H41"]
    assert rows[2] == {"code": "000.00.01.H41", "name": "Văn phòng UBND tỉnh Nghệ An", "level": 2,
                       "parent_code": "000.00.00.H41", "active": True}
    plain = ecabinet(tmp_path, "agencies", "list")
    assert "Văn phòng Chính phủ" in plain.stdout
    again = ecabinet(tmp_path, "agencies", "import", str(tmp_path / "dir.csv"))
    assert again.returncode == 0 and "0 agencies added, 3 updated" in again.stdout


def test_an_invalid_row_is_named_by_line_and_nothing_is_imported(tmp_path: Path) -> None:
    assert ecabinet(tmp_path, "migrate").returncode == 0
    bad = GOOD + "001.00.00.G22,Cấp dưới của cấp trống,2,\n000.00.00.G01,,1,\n000.00.00.G07,Bộ KH&ĐT,1,999.99.99.Z99\n"
    (tmp_path / "bad.csv").write_text(bad, encoding="utf-8")
    done = ecabinet(tmp_path, "agencies", "import", str(tmp_path / "bad.csv"))
    assert done.returncode == 1
    assert "nothing was imported" in done.stderr
    assert "line 5:" in done.stderr and "line 6:" in done.stderr and "line 7:" in done.stderr
    assert "line 2:" not in done.stderr
    assert _listed(tmp_path) == []
