"""Running PDF jobs in the sandbox (backend/pdf/sandbox.py) for the services: the pools and limits come
from the settings, and the sandbox's errors become API errors (503 `busy` with Retry-After; 422 for a
file that exhausts its child; 400 with the job's own code for a refused file).

Two pools per worker: `work` (meeting documents: upload checks, copies, books, traces) and `verify` (the
public POST /api/verify and `ecabinet verify`), so anonymous verification never takes members' slots."""

from __future__ import annotations

from typing import Any

from backend.config import Settings
from backend.exceptions import BadRequest, ServiceUnavailable, Unprocessable
from backend.pdf import sandbox


def pool(settings: Settings, name: str) -> sandbox.Sandbox:
    if name == "verify":
        return sandbox.shared("verify", settings.verify_slots, settings.verify_queue, float(settings.verify_seconds))
    return sandbox.shared("work", settings.pdf_sandbox_slots, settings.pdf_sandbox_queue,
                          float(settings.pdf_sandbox_wait_seconds))


def limits(settings: Settings, name: str) -> sandbox.Limits:
    if name == "verify":
        return sandbox.Limits(seconds=float(settings.verify_seconds),
                              memory_bytes=settings.verify_memory_mb * 1_000_000)
    return sandbox.Limits(seconds=float(settings.pdf_check_seconds),
                          memory_bytes=settings.pdf_check_memory_mb * 1_000_000)


async def run(settings: Settings, job: str, args: dict[str, Any], blobs: list[bytes], *,
              pool_name: str = "work") -> tuple[Any, list[bytes]]:
    """`job`'s answer, or an AppError a client understands."""
    try:
        return await pool(settings, pool_name).run(job, args, blobs, limits(settings, pool_name))
    except sandbox.SandboxBusy as exc:
        raise ServiceUnavailable(exc.message, code=exc.code, retry_after=exc.retry_after) from exc
    except sandbox.SandboxExhausted as exc:
        raise Unprocessable(exc.message, code=exc.code) from exc
    except sandbox.JobRefused as exc:
        raise BadRequest(exc.message, code=exc.code) from exc
