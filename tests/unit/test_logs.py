"""backend/logs.py: JSON lines with the context fields, the wire libraries' arguments withheld at any
level below WARNING, and secret-looking values scrubbed from every message and traceback."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from backend import logs


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    logs.configure("debug", "json", stream=stream)
    yield stream
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logs.configure("info", "text", stream=io.StringIO())  # the wire loggers back to WARNING
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_engineio_packets_are_withheld_even_at_debug(captured: io.StringIO) -> None:
    logging.getLogger("engineio.server").info("%s: Received packet %s data %s", "Xk2", "MESSAGE",
                                              '42["vote.cast",{"poll_id":3,"choice":"no"}]')
    logging.getLogger("socketio.server").info('received event "%s" from %s [%s]', "vote.cast", "s1", "/")
    logging.getLogger("uvicorn.error").debug("> TEXT %r [%d bytes]", '0{"token":"tok-abc"}', 20)
    out = lines(captured)
    assert out[0]["message"] == "‹withheld›: Received packet ‹withheld› data ‹withheld›"
    assert "vote.cast" not in out[1]["message"] and "tok-abc" not in out[2]["message"]


def test_secret_fields_are_scrubbed_from_any_logger_and_traceback(captured: io.StringIO) -> None:
    log = logging.getLogger("ecabinet.test")
    log.info("body %s", {"username": "a", "password": "Hunter-2-secret", "secret": "Ky-so-9"})
    log.info("Authorization: Bearer abcDEF123.xyz")
    log.info("Cookie: ecabinet_session=sess-777; ecabinet_csrf=csrf-888")
    try:
        raise ValueError("bad passphrase='Ky so 2026'")
    except ValueError:
        log.exception("failed")
    text = captured.getvalue()
    for secret in ("Hunter-2-secret", "Ky-so-9", "abcDEF123", "sess-777", "csrf-888", "Ky so 2026"):
        assert secret not in text, secret
    assert "'username': 'a'" in text  # what is not secret stays readable
    assert lines(captured)[-1]["traceback"].startswith("Traceback")


def test_json_lines_carry_the_context_fields(captured: io.StringIO) -> None:
    logging.getLogger("ecabinet.access").info("GET /api/health 200", extra={
        "request_id": "r1", "user_id": 7, "meeting_id": None, "latency_ms": 1.5, "outcome": "ok"})
    line = lines(captured)[0]
    assert line["request_id"] == "r1" and line["user_id"] == 7 and line["latency_ms"] == 1.5
    assert "meeting_id" not in line and line["level"] == "info" and line["logger"] == "ecabinet.access"


def test_socketio_loggers_get_no_handler_of_their_own_and_are_quiet_below_debug() -> None:
    logs.configure("info", "text", stream=io.StringIO())
    try:
        for name in ("engineio.server", "socketio.server"):
            assert logging.getLogger(name).level == logging.WARNING
        assert logging.getLogger("sqlalchemy.engine").level == logging.WARNING
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if isinstance(h, logs._Ours)]:
            root.removeHandler(handler)


def test_text_lines_name_the_request_before_any_traceback() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    logs.configure("info", "text", stream=stream)
    try:
        log = logging.getLogger("ecabinet.access")
        log.info("GET /api/ready 200", extra={"request_id": "83a8fc7ec88dd982bcb2a73e84be6bd0"})
        log.info("no request here")
        try:
            raise ValueError("boom")
        except ValueError:
            log.error("failed", exc_info=True, extra={"request_id": "r2"})
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    out = stream.getvalue().splitlines()
    assert out[0].endswith("GET /api/ready 200 request_id=83a8fc7ec88dd982bcb2a73e84be6bd0"), out[0]
    assert out[1].endswith("no request here"), out[1]
    assert out[2].endswith("failed request_id=r2"), out[2]  # the id on the line, the traceback after it
