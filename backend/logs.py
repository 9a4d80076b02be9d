"""How e-Cabinet's processes log: one handler on the root logger, JSON lines (ECABINET_LOG_FORMAT=json,
the production default) or text for a terminal, the level from ECABINET_LOG_LEVEL, and nothing secret.

What keeps secrets out, whatever the level:
- Libraries that log what goes over the wire (engineio and socketio log every packet, the votes and
  the connect packet's token among them; aiosqlite logs each call with its parameters; SQLAlchemy logs
  parameters and result rows) keep their message below WARNING but lose its arguments: "Received packet
  %s data %s" stays readable as an event, without the packet. SQLAlchemy's engines also hide parameters
  in their errors (backend/db.py).
- Every line, tracebacks included, is scrubbed of `password=...`, `"token": "..."`, `Bearer ...`,
  session cookies and the like before it is written.
- Our own code logs ids, never payloads (backend/monitoring.py, backend/realtime/server.py).

pyHanko and its certificate validator log every failed check (an untrusted chain, a changed byte) as a
warning with the whole traceback attached. For e-Cabinet such a failure is an answer the report
already gives in words, not a fault: below debug level the record keeps its one-line message and
loses the traceback, so an anonymous verification cannot fill the log with 30 lines a request."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
QUIET_TRACEBACKS = frozenset({"pyhanko", "pyhanko_certvalidator"})
"""Top-level loggers whose tracebacks are dropped unless the level is debug."""
WIRE_LOGGERS = ("engineio", "socketio", "aiosqlite", "sqlalchemy", "asyncpg", "multipart", "python_multipart",
                "websockets", "httpx", "httpcore", "hpack", "redis")
"""Loggers whose arguments below WARNING are what went over the wire or into the database."""
WIRE_AT_DEBUG = ("uvicorn",)
"""Loggers whose debug records carry the wire: uvicorn hands its logger to the websockets library, which
logs every frame ("> TEXT '42[\"vote.cast\", ...]'") at debug."""
WITHHELD = "‹withheld›"
REDACTED = "‹redacted›"
CONTEXT_FIELDS = ("request_id", "user_id", "meeting_id", "event", "method", "route", "status", "latency_ms",
                  "outcome", "sid")
"""`extra` fields our log lines carry; JSON output puts them at the top level."""

_SECRET_NAMES = (r"password|passwd|new_password|current_password|passphrase|secret|pin|token|csrf_token|"
                 r"authorization|cookie|ecabinet_session|ecabinet_csrf|__Host-ecabinet_session|__Host-ecabinet_csrf|"
                 r"api_key|choice|receipt|sid")
_SCRUB = [
    re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=-]+)"),
    # name: value, name=value, "name": "value", 'name': 'value' (JSON, dict reprs, query strings, cookies)
    re.compile(r"""(?i)(["']?\b(?:""" + _SECRET_NAMES + r""")\b["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&}\])"']+)"""),
]
_PLACEHOLDER = re.compile(r"%%|%(\([^)]*\))?[-#0 +]*(\*|\d+)?(\.(\*|\d+))?[diouxXeEfFgGcrsa]")


def scrub(text: str) -> str:
    """`text` with the values of secret-looking fields replaced."""
    for pattern in _SCRUB:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class TracebacksAtDebug(logging.Filter):
    """Drops the traceback of the quiet libraries' warnings (the message stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.name.split(".", 1)[0] in QUIET_TRACEBACKS:
            record.exc_info, record.exc_text = None, None
        return True


class Redact(logging.Filter):
    """On the handler, so it sees every record that propagates to it, from any logger: withholds the
    wire libraries' arguments below WARNING, then scrubs the message and the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        top = record.name.split(".", 1)[0]
        if (record.levelno < logging.WARNING and top in WIRE_LOGGERS) or (
                record.levelno < logging.INFO and top in WIRE_AT_DEBUG):
            if record.args:
                record.msg = _PLACEHOLDER.sub(lambda m: "%" if m.group(0) == "%%" else WITHHELD, str(record.msg))
                record.args = None
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: keep only its template
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, our context fields, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """FORMAT, and the request's id when there is one (nginx's, on a proxied request), so that a text log
    line can be found from nginx's log and from the X-Request-ID a user reports."""

    def __init__(self) -> None:
        super().__init__(FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # the line itself, before any traceback
        line = super().formatMessage(record)
        request_id = record.__dict__.get("request_id")
        return f"{line} request_id={request_id}" if request_id else line


class _Ours(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure() installs (found again by a second call)."""


def configure(level: str, fmt: str = "text", *, stream: IO[str] | None = None) -> None:
    """Set up the root logger of the process: our one handler (a second call replaces it), the level, and
    the wire libraries' own loggers (which python-socketio would otherwise give a handler of their own,
    outside these filters)."""
    numeric = logging.getLevelName(level.upper())
    numeric = numeric if isinstance(numeric, int) else logging.INFO
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Ours)]:
        root.removeHandler(old)
    handler = _Ours(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(Redact())
    if numeric > logging.DEBUG:
        handler.addFilter(TracebacksAtDebug())
    root.addHandler(handler)
    root.setLevel(numeric)
    # engineio and socketio log each packet at INFO: only at debug level are they that chatty. Their
    # level is set here (not NOTSET), so python-socketio does not add a handler of its own to them.
    for name in ("engineio", "socketio", "engineio.server", "socketio.server", "engineio.client",
                 "socketio.client"):
        logging.getLogger(name).setLevel(logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING)
    # A library's logging.config call (disable_existing_loggers) must not silence what this handler
    # is meant to see and filter.
    for name in ("engineio", "socketio", "engineio.server", "socketio.server", "engineio.client",
                 "socketio.client", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy.engine"):
        logging.getLogger(name).disabled = False
    # uvicorn's own logging config (when it is run with it) gives its loggers a plain handler and stops
    # them propagating: their lines (websocket frames at debug) would bypass Redact. Back to this handler.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # the process's level, until uvicorn.run sets the same one
        for own in [h for h in logger.handlers if type(h) is logging.StreamHandler]:
            logger.removeHandler(own)
    # SQLAlchemy sets its own loggers to WARNING; at debug level its statements and rows are wanted too
    # (parameters hidden by the engine, rows withheld by Redact).
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING)
