"""Reading an edXML package from outside: `exchange.parse_package` runs in a child of the sandbox's own
`exchange` pool (backend/pdf/sandbox.py, job `exchange_parse`), bounded by the ECABINET_EXCHANGE_* limits,
and killed at its deadline. Never parse a package in the web worker itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from backend.config import Settings
from backend.exceptions import ConfigError, ServiceUnavailable, Unprocessable
from backend.pdf import sandbox


class PackageRefused(Unprocessable):
    """The package was refused: `code` is the exchange library's (forbidden_construct, bad_signature, ...),
    or `too_complex` when its reading ran out of time or memory."""

    def __init__(self, message: str, *, code: str, claimed: dict[str, str] | None = None) -> None:
        super().__init__(message, code=code)
        self.claimed = claimed
        """What the package SAYS it is (sender, document_id, code, promulgation_date), unverified: only to
        address the refusal's status package; None when it could not even be read safely."""


@dataclass(frozen=True)
class Parsed:
    """A package that passed every check."""

    kind: str
    """"document" or "status"."""
    package: dict[str, Any]
    """The DocumentPackage or StatusPackage as JSON (field names as in exchange/model.py; dates ISO 8601);
    a document's also carries `document_id`; attachments without their bytes."""
    attachments: list[bytes]
    """The attachments' bytes, in manifest order (a document's; none for a status)."""


def pool(settings: Settings) -> sandbox.Sandbox:
    return sandbox.shared("exchange", settings.exchange_slots, settings.exchange_queue,
                          float(settings.exchange_wait_seconds))


def limits(settings: Settings) -> sandbox.Limits:
    return sandbox.Limits(seconds=float(settings.exchange_parse_seconds),
                          memory_bytes=settings.exchange_parse_memory_mb * 1_000_000)


def trust_anchors(settings: Settings) -> list[bytes]:
    """The PEM file of ECABINET_EXCHANGE_TRUST_ANCHORS (none: every package is refused `bad_signature`)."""
    if settings.exchange_trust_anchors is None:
        return []
    try:
        return [settings.exchange_trust_anchors.read_bytes()]
    except OSError as exc:
        raise ConfigError(f"ECABINET_EXCHANGE_TRUST_ANCHORS: cannot read {settings.exchange_trust_anchors}: "
                          f"{exc}") from exc


async def parse(settings: Settings, data: bytes, *, known_agencies: Iterable[str] | None = None) -> Parsed:
    """The package `data` holds, or PackageRefused (422) with the reason's code; 503 `busy` when the
    exchange pool and its queue are full."""
    args = {"known_agencies": None if known_agencies is None else sorted(known_agencies),
            "max_bytes": settings.exchange_max_package_bytes}
    try:
        value, blobs = await pool(settings).run("exchange_parse", args, [data, *trust_anchors(settings)],
                                                limits(settings))
    except sandbox.SandboxBusy as exc:
        raise ServiceUnavailable("the server is busy reading other packages: try again in a moment",
                                 code="busy", retry_after=exc.retry_after) from exc
    except sandbox.SandboxExhausted as exc:
        raise PackageRefused(f"the package is too costly to read within the limits ({exc.why})",
                             code="too_complex") from exc
    except sandbox.JobRefused as exc:
        raise PackageRefused(exc.message, code=exc.code) from exc
    if isinstance(value, dict) and value.get("kind") == "refused":
        claimed = value.get("claimed")
        raise PackageRefused(str(value.get("message", "")), code=str(value.get("code", "refused")),
                             claimed={str(k): str(v) for k, v in claimed.items()} if isinstance(claimed, dict)
                             else None)
    if not isinstance(value, dict) or value.get("kind") not in ("document", "status") \
            or not isinstance(value.get("package"), dict):
        raise PackageRefused("the package reader gave no answer", code="too_complex")
    return Parsed(kind=str(value["kind"]), package=value["package"], attachments=blobs)
