"""The result type every rule returns: services turn a refusal into the matching error."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Refusal(StrEnum):
    """Why a rule said no. `forbidden` maps to 403, `invalid_state` to 409, `invalid` to 400."""

    FORBIDDEN = "forbidden"
    INVALID_STATE = "invalid_state"
    INVALID = "invalid"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    """True when the rule lets the action happen."""
    refusal: Refusal | None = None
    """Why not, when not allowed."""
    reason: str = ""
    """A sentence for people (English; the UI translates by `refusal` and its own context)."""

    @classmethod
    def yes(cls) -> Decision:
        return cls(True)

    @classmethod
    def no(cls, refusal: Refusal, reason: str) -> Decision:
        return cls(False, refusal, reason)


class RuleError(ValueError):
    """Raised by rules that compute something (e.g. a new agenda order) when the input breaks them."""

    def __init__(self, refusal: Refusal, reason: str) -> None:
        super().__init__(reason)
        self.refusal = refusal
        self.reason = reason
