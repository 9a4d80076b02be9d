"""The one error tree of the backend. Every error a client can cause maps to a 4xx answer
`{"error": {"code", "message"}}` (REST) or an ack `{"ok": false, "error": {...}}` (Socket.IO)."""

from __future__ import annotations

from typing import Any


class AppError(ValueError):
    """Base of every expected error. `code` is stable and machine-readable; `message` is for people."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(AppError):
    status = 400
    code = "bad_request"


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"


class Unauthorized(AppError):
    status = 401
    code = "not_authenticated"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"


class Conflict(AppError):
    status = 409
    code = "conflict"


class InvalidState(Conflict):
    """The action is allowed for the role but not in the meeting's current state."""

    code = "invalid_state"


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class ServiceUnavailable(AppError):
    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached now (stopped, restarting): try again in a few seconds."""

    code = "database_unavailable"

    def __init__(self, message: str = "the database cannot be reached just now: try again in a few seconds", *,
                 code: str | None = None, retry_after: int | None = 5) -> None:
        super().__init__(message, code=code, retry_after=retry_after)


class DatabaseBusy(DatabaseUnavailable):
    """Every database connection of this worker is in use for longer than the pool waits (a burst of
    reconnecting tablets): try again in a moment."""

    code = "database_busy"

    def __init__(self, message: str = "the server is busy just now: try again in a few seconds", *,
                 code: str | None = None, retry_after: int | None = 2) -> None:
        super().__init__(message, code=code, retry_after=retry_after)


class InsufficientStorage(AppError):
    """The server's disk is full: nothing was kept of what was being stored."""

    status = 507
    code = "disk_full"


class Unprocessable(AppError):
    """Well-formed input that cannot be handled within the limits (e.g. a PDF that exhausts its sandbox)."""

    status = 422
    code = "unprocessable"


class ConfigError(ValueError):
    """Settings that cannot start the application (raised at start, never to a client)."""
