"""Verifying any PDF's signatures against the configured trust roots (POST /api/verify, `ecabinet
verify`, a stored record's status). Anyone may ask: the answer says only what the file itself says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import signing
from backend.config import Settings
from backend.exceptions import ConfigError
from backend.services import pdf_jobs, throttle

MAX_DECLARED_OBJECTS = 1_000_000
"""A file declaring more objects (trailer /Size, cross-reference /Index) is refused before pyHanko reads it."""
Report = signing.VerificationReport
"""The report's shape (the JSON of `verify` is its to_dict()), for the API's schema."""


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


async def verify(settings: Settings, pdf: bytes, *, address: str | None = None) -> dict[str, Any]:
    """The report as JSON. pyHanko runs in a sandbox child of the `verify` pool (killed at
    ECABINET_VERIFY_SECONDS; 503 `busy` when the pool and its queue are full); an anonymous caller's
    `address` may ask ECABINET_VERIFY_PER_MINUTE times a minute (429 `too_many_verifications`)."""
    if address is not None:
        throttle.check(settings, "verify", address, limit=settings.verify_per_minute, seconds=60,
                       code="too_many_verifications", what="verifications from this address")
    value, _ = await pdf_jobs.run(settings, "verify", {"max_objects": MAX_DECLARED_OBJECTS},
                                  [pdf, *trust_roots(settings)], pool_name="verify")
    if not isinstance(value, dict):
        raise ValueError("the verification sandbox answered without a report")
    return value
