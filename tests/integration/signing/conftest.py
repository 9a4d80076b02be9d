"""The signature tests' real PKI service (certomancer on loopback) and small PDFs to sign."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfWriter

from tests.integration.signing import pki_service


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pki_service.PkiService]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    service = pki_service.start(Path(tmp_path_factory.mktemp("pki")))
    yield service
    service.stop()


def make_pdf(pages: int = 2) -> bytes:
    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(595, 842)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()
