"""Verifying any PDF's signatures against the configured trust roots (POST /api/verify, `ecabinet
verify`, a stored record's status). Anyone may ask: the answer says only what the file itself says."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import signing
from backend.config import Settings
from backend.exceptions import AppError, BadRequest, ConfigError

VERIFY_TIMEOUT_S = 30.0
Report = signing.VerificationReport
"""The report's shape (the JSON of `verify` is its to_dict()), for the API's schema."""


class VerificationTimeout(AppError):
    status = 422
    code = "verification_timeout"


def trust_roots(settings: Settings) -> list[bytes]:
    """PEM roots from ECABINET_TRUST_ROOTS, plus the development CA's root in demo mode."""
    roots = []
    for path in settings.trust_roots:
        try:
            roots.append(Path(path).read_bytes())
        except OSError as exc:
            raise ConfigError(f"ECABINET_TRUST_ROOTS: cannot read {path}: {exc}") from exc
    dev_root = settings.effective_pki_dir / "root.pem"
    if settings.mode == "demo" and dev_root.exists():
        roots.append(dev_root.read_bytes())
    return roots


async def verify(settings: Settings, pdf: bytes) -> dict[str, Any]:
    """The report as JSON. Runs on a worker thread (pyHanko is CPU work) and gives up after a while,
    so a hostile file cannot hold a request forever."""
    roots = trust_roots(settings)

    def work() -> signing.VerificationReport:
        return asyncio.run(signing.verify_pdf(pdf, trust_roots=roots))

    try:
        report = await asyncio.wait_for(asyncio.to_thread(work), VERIFY_TIMEOUT_S)
    except TimeoutError as exc:
        raise VerificationTimeout(f"verification took longer than {VERIFY_TIMEOUT_S:.0f} s") from exc
    except signing.InvalidPdf as exc:
        raise BadRequest(exc.message, code=exc.code) from exc
    except signing.SigningError as exc:
        raise BadRequest(exc.message, code=exc.code) from exc
    out: dict[str, Any] = report.to_dict()
    return out
