"""The watched folder (ECABINET_EXCHANGE_INBOX_DIR): for gateways that drop files instead of calling
POST /api/exchange/inbound. Each file is received exactly like a POST (services/exchange/inbound.py), then
moved to done/ or to refused/ with NAME.reason.txt (the code and why) and, when one could be made,
NAME.status.edxml (our signed refused status for the sender).

Writers should write under a name starting with "." and rename when done: dot files are left alone, and so
are symbolic links and folders. Each file is first claimed by renaming it into processing/ (one rename
wins, so several workers can watch one folder); one busy sandbox puts it back for the next look. A file
left in processing/ by a crash stays there for the operator to move back."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from backend.config import Settings
from backend.db import Database
from backend.exceptions import Conflict, ServiceUnavailable
from backend.services.exchange import inbound

log = logging.getLogger(__name__)
FOLDERS = ("processing", "done", "refused")


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    n = 1
    while target.exists() or target.with_name(target.name + ".reason.txt").exists():
        stem, dot, suffix = name.partition(".")
        target = folder / f"{stem}-{n}{dot}{suffix}"
        n += 1
    return target


async def sweep(db: Database, settings: Settings) -> dict[str, str]:
    """Receives every file waiting in the folder; what became of each (by name): `done`, the refusal's code,
    or `retry` (left for the next look)."""
    inbox = settings.exchange_inbox_dir
    if inbox is None:
        return {}
    outcomes: dict[str, str] = {}
    for claimed in await asyncio.to_thread(_claim_all, inbox):
        outcomes[claimed.name] = await _receive(db, settings, inbox, claimed)
    return outcomes


def _claim_all(inbox: Path) -> list[Path]:
    """The waiting files, each moved into processing/ (a rename: one worker wins it)."""
    for folder in FOLDERS:
        (inbox / folder).mkdir(exist_ok=True)
    claimed = []
    for path in sorted(inbox.iterdir()):
        if path.name.startswith(".") or path.is_symlink() or not path.is_file():
            continue
        target = inbox / "processing" / path.name
        try:
            os.rename(path, target)
        except FileNotFoundError:  # another worker took it
            continue
        claimed.append(target)
    return claimed


def _read(claimed: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it is over the limit (then it is not read)."""
    if claimed.stat().st_size > limit:
        return None
    return claimed.read_bytes()


def _move(claimed: Path, folder: Path) -> Path:
    target = _free_name(folder, claimed.name)
    os.rename(claimed, target)
    return target


def _refused(inbox: Path, claimed: Path, code: str, why: str, status: bytes | None) -> None:
    target = _move(claimed, inbox / "refused")
    target.with_name(target.name + ".reason.txt").write_text(f"{code}: {why}\n", encoding="utf-8")
    if status is not None:
        target.with_name(target.name + ".status.edxml").write_bytes(status)


async def _receive(db: Database, settings: Settings, inbox: Path, claimed: Path) -> str:
    name = claimed.name
    status: bytes | None = None
    try:
        data = await asyncio.to_thread(_read, claimed, settings.exchange_max_package_bytes)
        if data is None:
            code, why = "too_large", f"the file is larger than {settings.exchange_max_package_bytes} bytes"
        else:
            result = await inbound.receive(db, settings, data)
            if not isinstance(result, inbound.Refusal):
                await asyncio.to_thread(_move, claimed, inbox / "done")
                log.info("exchange inbox: %s received as incoming document %s", name, result["id"])
                return "done"
            code, why, status = result.code, result.message, result.status_package
    except ServiceUnavailable:
        await asyncio.to_thread(os.rename, claimed, inbox / name)  # the sandbox is busy: next time
        return "retry"
    except Conflict as exc:
        code, why = exc.code, exc.message
    except Exception:
        log.exception("exchange inbox: %s could not be received", name)
        code, why = "internal_error", "the server failed while receiving it: see the server's log"
    await asyncio.to_thread(_refused, inbox, claimed, code, why, status)
    log.info("exchange inbox: %s refused (%s)", name, code)
    return code


async def watch(db: Database, settings: Settings) -> None:
    """Each worker's loop: a look into the folder every ECABINET_EXCHANGE_INBOX_SECONDS."""
    while True:
        try:
            await sweep(db, settings)
        except Exception:  # a full disk or a database hiccup must not stop the loop
            log.exception("exchange inbox: the folder could not be swept")
        await asyncio.sleep(settings.exchange_inbox_seconds)
