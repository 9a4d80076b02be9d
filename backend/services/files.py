"""The content-addressed file store: every file (a signed resolution, each of its versions) is kept
once under data_dir/files/ab/cdef..., named by its SHA-256, and never changed after it is written."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import tempfile
from pathlib import Path

from backend.config import Settings
from backend.exceptions import InsufficientStorage, NotFound


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_settings(cls, settings: Settings) -> FileStore:
        """The store under the data directory (shared by the workers)."""
        return cls(settings.data_dir / "files")

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise NotFound("no such file", code="unknown_file")
        return self.root / digest[:2] / digest[2:]

    async def put(self, data: bytes) -> str:
        """Stores `data` (atomically: a crash never leaves half a file under its name); returns its digest."""
        digest = hashlib.sha256(data).hexdigest()
        try:
            await asyncio.to_thread(self._write, digest, data)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # nothing half-written is left (see _write)
                raise InsufficientStorage("the server's disk is full: nothing was stored; tell the administrator",
                                          code="disk_full") from exc
            raise
        return digest

    def _write(self, digest: str, data: bytes) -> None:
        target = self.path(digest)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, digest: str) -> bytes:
        target = self.path(digest)
        try:
            return await asyncio.to_thread(target.read_bytes)
        except FileNotFoundError as exc:
            raise NotFound("the file is missing from the store", code="unknown_file") from exc
