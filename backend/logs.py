"""How e-Cabinet's processes log: one format, the level from ECABINET_LOG_LEVEL, and the libraries'
tracebacks kept for debugging.

pyHanko and its certificate validator log every failed check (an untrusted chain, a changed byte) as a
warning with the whole traceback attached. For e-Cabinet such a failure is an answer the report
already gives in words, not a fault: below debug level the record keeps its one-line message and
loses the traceback, so an anonymous verification cannot fill the log with 30 lines a request."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
QUIET_TRACEBACKS = frozenset({"pyhanko", "pyhanko_certvalidator"})
"""Top-level loggers whose tracebacks are dropped unless the level is debug."""


class TracebacksAtDebug(logging.Filter):
    """Drops the traceback of the quiet libraries' warnings (the message stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.name.split(".", 1)[0] in QUIET_TRACEBACKS:
            record.exc_info, record.exc_text = None, None
        return True


def configure(level: str) -> None:
    """Set up the root logger once per process (a second call changes nothing)."""
    numeric = logging.getLevelName(level.upper())
    logging.basicConfig(level=numeric if isinstance(numeric, int) else logging.INFO, format=FORMAT)
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TracebacksAtDebug) for f in handler.filters):
            handler.addFilter(TracebacksAtDebug())
