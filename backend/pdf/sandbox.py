"""Run one named job on untrusted PDF bytes in a short-lived child Python process, bounded in memory,
CPU and wall-clock time, with a bounded number of children at once and a bounded queue in front of them.

A hostile file can make any parser (pypdf, pyHanko) spin or allocate without bound, and a thread cannot be
stopped from outside: `asyncio.wait_for` around `to_thread` stops waiting but leaves the thread running.
A child process can be killed. So every parse of untrusted bytes goes through `Sandbox.run`:

- the child lowers its own RLIMIT_AS and RLIMIT_CPU after importing what the job needs, then runs the job;
- at the wall-clock deadline the parent KILLS the child (SIGKILL) and reaps it;
- at most `slots` children run at once; at most `queue` callers wait for a slot, each at most
  `wait_seconds`; anyone beyond gets `SandboxBusy` at once (the API answers 503 `busy`), never a hang.

Only the jobs named in `backend.pdf.jobs.JOBS` can run (never an arbitrary function path from a caller).
The wire format is the same both ways, and nothing from the child is trusted: a 4-byte big-endian length,
a JSON header (`{"args" | "value" | "error", "blobs": [sizes]}`), then the blobs back to back.

The module is the child's entry point too (`python -m backend.pdf.sandbox JOB LIMITS_JSON`); its top-level
imports stay light (the standard library) so the child starts fast.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_MEMORY_ERROR_EXIT = 3
_CRASH_EXIT = 4
_HEADER = struct.Struct(">I")
_MAX_HEADER = 64_000_000


@dataclass(frozen=True)
class Limits:
    """Bounds of one child."""

    seconds: float = 60.0
    """Wall-clock deadline; the child is killed when it passes. Also the basis of its RLIMIT_CPU."""
    memory_bytes: int = 2_000_000_000
    """RLIMIT_AS of the child (address space: interpreter, libraries, the input and the job's work)."""


class SandboxError(ValueError):
    """Base of what `Sandbox.run` raises; `code` is stable for clients, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message
        super().__init__(f"{code}: {message}")


class SandboxBusy(SandboxError):
    """Every slot is taken and the queue is full (or the wait for a slot ran out): try again later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("busy", "the server is busy checking other PDF files: try again in a moment")
        self.retry_after = retry_after


class SandboxExhausted(SandboxError):
    """The child ran out of time or memory, or died: the file is too costly to handle."""

    def __init__(self, why: str) -> None:
        super().__init__("pdf_too_complex", f"The PDF is too complex to process within the limits ({why}).")
        self.why = why


class JobRefused(SandboxError):
    """The job itself refused the input (an expected error with its own code, e.g. `broken_pdf`)."""


# --- the parent side --------------------------------------------------------------------------------


class Sandbox:
    """A bounded pool of child processes. One per event loop (asyncio primitives belong to one loop):
    get it with `shared(name, slots, queue, wait_seconds)`."""

    def __init__(self, slots: int, queue: int, wait_seconds: float) -> None:
        import asyncio

        self.slots, self.queue, self.wait_seconds = max(1, slots), max(0, queue), wait_seconds
        self._free = asyncio.Semaphore(self.slots)
        self._admitted = 0
        """Callers running or waiting for a slot."""
        self.running = 0
        """Children alive right now (tests and the health view read it)."""

    @property
    def admitted(self) -> int:
        """Callers running or waiting for a slot (the metrics show it)."""
        return self._admitted

    @property
    def free(self) -> int:
        """Slots a new job would get at once, without waiting (/api/ready needs one)."""
        return max(0, self.slots - self._admitted)

    async def run(self, job: str, args: dict[str, Any], blobs: list[bytes], limits: Limits
                  ) -> tuple[Any, list[bytes]]:
        """Run `job` in a child; its JSON value and its output blobs. Raises a SandboxError subclass."""
        import asyncio

        if self._admitted >= self.slots + self.queue:  # checked and counted before any await: no race
            raise SandboxBusy(self._retry_after(limits))
        self._admitted += 1
        try:
            try:
                await asyncio.wait_for(self._free.acquire(), self.wait_seconds)
            except TimeoutError as exc:
                raise SandboxBusy(self._retry_after(limits)) from exc
            try:
                return await self._child(job, args, blobs, limits)
            finally:
                self._free.release()
        finally:
            self._admitted -= 1

    def _retry_after(self, limits: Limits) -> int:
        return max(1, min(60, math.ceil(limits.seconds / 2)))

    async def _child(self, job: str, args: dict[str, Any], blobs: list[bytes], limits: Limits
                     ) -> tuple[Any, list[bytes]]:
        import asyncio
        import logging

        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        limits_json = json.dumps({"seconds": limits.seconds, "memory_bytes": limits.memory_bytes})
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend.pdf.sandbox", job, limits_json,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, cwd=str(_PROJECT_ROOT), start_new_session=True,
        )
        self.running += 1
        try:
            try:
                stdout, stderr = await asyncio.wait_for(proc.communicate(encode(args, blobs, key="args")),
                                                        timeout=limits.seconds)
            except TimeoutError as exc:
                raise SandboxExhausted(f"more than {limits.seconds:g} s") from exc
        finally:
            if proc.returncode is None:
                try:
                    proc.kill()
                except ProcessLookupError:
                    pass
            # Reap it even when the caller was cancelled, so no zombie (or live child) is left behind.
            await asyncio.shield(proc.wait())
            self.running -= 1
        code = proc.returncode
        if code != 0:
            # A signal (SIGXCPU, SIGKILL, SIGSEGV) or MemoryError is the file exhausting the child. Any other
            # exit is a failure outside the job's expected errors: logged for operators, still the file's doing.
            if code is not None and code > 0 and code != _MEMORY_ERROR_EXIT:
                logging.getLogger(__name__).error("PDF sandbox job %s exited with %s: %s", job, code,
                                                  stderr[-2000:].decode("utf-8", "replace"))
            why = "out of memory" if code == _MEMORY_ERROR_EXIT or b"MemoryError" in stderr else (
                "CPU time" if code == -24 else "the parser failed")
            raise SandboxExhausted(why)
        try:
            header, out_blobs = decode(stdout)
        except ValueError as exc:
            raise SandboxExhausted("unreadable answer") from exc
        if "error" in header:
            error = header["error"]
            if not isinstance(error, dict):
                raise SandboxExhausted("unreadable answer")
            raise JobRefused(str(error.get("code", "broken_pdf")), str(error.get("message", "")))
        return header.get("value"), out_blobs


_pools: Any = None  # WeakKeyDictionary[event loop, dict[pool key, Sandbox]], made on first use


def shared(name: str, slots: int, queue: int, wait_seconds: float) -> Sandbox:
    """The process's pool `name` for the running event loop (a CLI run's loop gets a fresh one)."""
    import asyncio
    import weakref

    global _pools
    if _pools is None:
        _pools = weakref.WeakKeyDictionary()
    per_loop: dict[tuple[str, int, int, float], Sandbox] = _pools.setdefault(asyncio.get_running_loop(), {})
    key = (name, slots, queue, wait_seconds)
    pool = per_loop.get(key)
    if pool is None:
        pool = per_loop[key] = Sandbox(slots, queue, wait_seconds)
    return pool


# --- the wire format --------------------------------------------------------------------------------


def encode(value: Any, blobs: list[bytes], *, key: str = "value") -> bytes:
    header = json.dumps({key: value, "blobs": [len(b) for b in blobs]}, ensure_ascii=True).encode("ascii")
    return b"".join([_HEADER.pack(len(header)), header, *blobs])


def encode_error(code: str, message: str) -> bytes:
    header = json.dumps({"error": {"code": code, "message": message}, "blobs": []}).encode("ascii")
    return _HEADER.pack(len(header)) + header


def decode(data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """Header and blobs; ValueError on anything off-format."""
    if len(data) < _HEADER.size:
        raise ValueError("short message")
    (size,) = _HEADER.unpack_from(data)
    if size > _MAX_HEADER or _HEADER.size + size > len(data):
        raise ValueError("bad header size")
    header = json.loads(data[_HEADER.size:_HEADER.size + size])
    sizes = header.get("blobs") if isinstance(header, dict) else None
    if not isinstance(sizes, list) or not all(isinstance(n, int) and n >= 0 for n in sizes):
        raise ValueError("bad blob sizes")
    blobs, at = [], _HEADER.size + size
    for n in sizes:
        if at + n > len(data):
            raise ValueError("short blob")
        blobs.append(data[at:at + n])
        at += n
    if at != len(data):
        raise ValueError("trailing bytes")
    return header, blobs


# --- the child side ---------------------------------------------------------------------------------


def limit_self(limits: Limits) -> None:
    """Lower this process's own rlimits (they can only go down): RLIMIT_AS for memory, RLIMIT_CPU for spin."""
    import resource

    cpu = max(1, math.ceil(limits.seconds) + 1)
    for which, soft, hard in ((resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
                              (resource.RLIMIT_CPU, cpu, cpu + 2)):
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass


def _child_main(argv: list[str]) -> int:
    """Entry: job name in argv[1], limits JSON in argv[2], the request on stdin, one answer on stdout."""
    import logging

    from backend.pdf import jobs

    job = jobs.JOBS.get(argv[1])
    if job is None:
        sys.stdout.buffer.write(encode_error("unknown_job", f"no sandbox job {argv[1]!r}"))
        return 0
    raw = json.loads(argv[2])
    limits = Limits(seconds=float(raw["seconds"]), memory_bytes=int(raw["memory_bytes"]))
    jobs.preload(argv[1])  # imports before the limits, so a tight RLIMIT_AS cannot turn them into ImportErrors
    logging.disable(logging.CRITICAL)  # parsers warn per damaged object; nobody reads the child's stderr
    limit_self(limits)
    header, blobs = decode(sys.stdin.buffer.read())
    try:
        value, out = job(header.get("args") or {}, blobs)
        answer = encode(value, out)
    except MemoryError:
        raise
    except RecursionError:
        answer = encode_error("pdf_too_complex", "The PDF's structure is nested too deeply to be processed.")
    except Exception as exc:
        code, message = getattr(exc, "code", None), getattr(exc, "message", None)
        if isinstance(code, str) and isinstance(message, str):
            answer = encode_error(code, message)
        elif isinstance(exc, ValueError):  # the tools' "not a readable PDF"
            answer = encode_error("broken_pdf", str(exc)[:500] or "The PDF cannot be read.")
        else:
            raise
    sys.stdout.buffer.write(answer)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    try:
        status = _child_main(sys.argv)
    except MemoryError:
        os._exit(_MEMORY_ERROR_EXIT)
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(_CRASH_EXIT)
    sys.exit(status)
