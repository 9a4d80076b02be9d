"""The watched folder (ECABINET_EXCHANGE_INBOX_DIR): a worker's background task picks up the files
dropped there, receives each like POST /api/exchange/inbound, and moves it to done/ or to refused/ with the
reason (and our signed status for a known sender)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sqlmodel import select

from backend.models import IncomingDocument
from backend.services.exchange import agencies, watched
from tests.integration.conftest import Server, serving
from tests.support.exchange_packages import DIRECTORY, document, exchange_pki, signed
from tests.unit.exchange.test_safe_xml import BILLION_LAUGHS


async def _until(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "the folder was not swept in time"
        await asyncio.sleep(0.1)


async def test_files_dropped_in_the_folder_are_received_or_refused_with_a_reason(server: Server,
                                                                                 tmp_path: Path) -> None:
    await agencies.import_csv(server.db, DIRECTORY)
    pki = exchange_pki(server.settings.data_dir / "exchange-pki")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings = replace(server.settings, exchange_inbox_dir=inbox, exchange_inbox_seconds=1)
    good = document()
    tampered = signed(document(), pki.sender).replace("bão lũ".encode(), "bão lụt".encode())
    async with serving(settings, server.db):
        (inbox / ".half-written.edxml").write_bytes(b"<edXML")  # a writer's temporary name: left alone
        (inbox / "to-trinh.edxml").write_bytes(signed(good, pki.sender))
        (inbox / "laughs.xml").write_bytes(BILLION_LAUGHS)
        (inbox / "tampered.edxml").write_bytes(tampered)

        def swept() -> bool:
            return (inbox / "done" / "to-trinh.edxml").exists() and len(list((inbox / "refused").glob(
                "*.reason.txt"))) == 2

        await _until(swept)
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == [".half-written.edxml"]
    assert list((inbox / "processing").iterdir()) == []
    assert (inbox / "refused" / "laughs.xml.reason.txt").read_text().startswith("forbidden_construct: ")
    assert (inbox / "refused" / "tampered.edxml.reason.txt").read_text().startswith("bad_signature: ")
    assert (inbox / "refused" / "tampered.edxml.status.edxml").read_bytes().startswith(b"<?xml")
    assert not (inbox / "refused" / "laughs.xml.status.edxml").exists()  # no sender to answer
    async with server.db.read() as s:
        row = (await s.exec(select(IncomingDocument).where(
            IncomingDocument.document_id == good.document_id))).one()
    assert row.status == "arrived" and row.subject == good.subject


async def test_the_same_file_again_is_refused_as_a_duplicate(server: Server, tmp_path: Path) -> None:
    await agencies.import_csv(server.db, DIRECTORY)
    data = signed(document(), exchange_pki(server.settings.data_dir / "exchange-pki").sender)
    settings = replace(server.settings, exchange_inbox_dir=tmp_path)
    (tmp_path / "a.edxml").write_bytes(data)
    assert await watched.sweep(server.db, settings) == {"a.edxml": "done"}
    (tmp_path / "a.edxml").write_bytes(data)
    assert await watched.sweep(server.db, settings) == {"a.edxml": "duplicate"}
    assert (tmp_path / "done" / "a.edxml").exists() and (tmp_path / "refused" / "a.edxml.reason.txt").exists()
    assert await watched.sweep(server.db, settings) == {}
