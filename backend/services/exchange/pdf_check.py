"""The PDF signatures of a received document (issue 17, point 4): a package's envelope signature says who
sent it; the signatures inside its PDF attachments say who signed the document itself, and a resolution
must arrive with them intact. Every PDF attachment is verified in the sandbox's `verify` pool, against
our trust roots (ECABINET_TRUST_ROOTS) and the exchange's trust anchors. A PDF whose signatures do not
all hold refuses the whole package (`pdf_signature_invalid`, with each signature's reasons); a PDF
without signatures is accepted (a province's scanned report may carry none) and shown as unsigned."""

from __future__ import annotations

from typing import Any

from backend.config import Settings
from backend.exceptions import AppError
from backend.services import pdf_jobs, verification
from backend.services.exchange import packages
from backend.services.exchange.packages import PackageRefused

PDF_MAGIC = b"%PDF-"
SIGNATURE_MARK = b"/ByteRange"
"""Every PDF signature dictionary has one: a file that cannot be read but carries it was signed."""


def _is_pdf(item: dict[str, Any], data: bytes) -> bool:
    return item.get("content_type") == "application/pdf" or data[:1024].lstrip().startswith(PDF_MAGIC)


def _roots(settings: Settings) -> list[bytes]:
    return [*verification.trust_roots(settings), *packages.trust_anchors(settings)]


async def check(settings: Settings, parsed: packages.Parsed, claimed: dict[str, str]) -> list[dict[str, Any]]:
    """One summary per attachment (None for one that is not a PDF): its signatures' count, signers and
    verdict. PackageRefused when a PDF's signatures do not all hold, or a signed one cannot be read; an
    unsigned PDF that cannot be read is let through, marked unreadable."""
    summaries: list[dict[str, Any]] = []
    for item, data in zip(parsed.package["attachments"], parsed.attachments, strict=True):
        if not _is_pdf(item, data):
            summaries.append({})
            continue
        try:
            value, _ = await pdf_jobs.run(settings, "verify", {"max_objects": verification.MAX_DECLARED_OBJECTS},
                                          [data, *_roots(settings)], pool_name="verify")
        except AppError as exc:
            if exc.status == 503:  # busy: the gateway retries; this is not the package's fault
                raise
            if SIGNATURE_MARK not in data:  # no signature to keep: the reader's own viewer will judge it
                summaries.append({"signatures": 0, "valid": False, "signers": [], "readable": False})
                continue
            raise PackageRefused(f"attachment {item['name']!r}: its signatures cannot be verified ({exc.message})",
                                 code="pdf_signature_invalid", claimed=claimed) from exc
        signatures = value.get("signatures", []) if isinstance(value, dict) else []
        broken = [s for s in signatures if not s.get("valid")]
        if broken:
            why = "; ".join(f"{s.get('signer_common_name') or s.get('field_name') or '?'}: "
                            f"{', '.join(s.get('reason_codes') or ['invalid'])}" for s in broken)
            raise PackageRefused(f"attachment {item['name']!r}: its signatures do not hold ({why})",
                                 code="pdf_signature_invalid", claimed=claimed)
        summaries.append({"signatures": len(signatures), "valid": bool(signatures), "readable": True,
                          "signers": [str(s.get("signer_common_name", "")) for s in signatures]})
    return summaries
