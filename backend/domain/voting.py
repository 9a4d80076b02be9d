"""Polls: options, majority rules and the result. Pure: the tally is counted by the caller from the
stored ballots and handed in here.

Option kinds: `yes` (Tán thành), `no` (Không tán thành), `abstain` (Không biểu quyết) and `choice`
(one of several named alternatives). Abstentions are never "votes cast" for a majority."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from backend.domain.rules import Refusal, RuleError


class Majority(StrEnum):
    CAST = "majority_cast"
    """More than half of the votes cast (yes and no; abstentions are not cast votes)."""
    ENTITLED = "majority_entitled"
    """More than half of all members entitled to vote, present or not (e.g. Government decisions)."""
    TWO_THIRDS = "two_thirds"
    """At least two thirds of all members entitled to vote."""


class PollStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Option:
    key: str
    """Stable identifier sent by tablets (`yes`, `no`, `abstain`, or `c1`, `c2`, ... for choices)."""
    label: str
    """What the tablet shows (Vietnamese by default)."""
    kind: str
    """yes | no | abstain | choice"""


DEFAULT_OPTIONS = (
    Option("yes", "Tán thành", "yes"),
    Option("no", "Không tán thành", "no"),
    Option("abstain", "Không biểu quyết", "abstain"),
)
MAX_OPTIONS = 20


def build_options(labels: Sequence[str] | None) -> tuple[Option, ...]:
    """The default yes/no/abstain options, or named alternatives `c1..cN` (plus an abstention)."""
    if not labels:
        return DEFAULT_OPTIONS
    cleaned = [label.strip() for label in labels]
    if len(cleaned) < 2 or len(cleaned) > MAX_OPTIONS:
        raise RuleError(Refusal.INVALID, f"a poll needs 2 to {MAX_OPTIONS} options")
    if any(not label for label in cleaned) or len(set(cleaned)) != len(cleaned):
        raise RuleError(Refusal.INVALID, "options must be non-empty and different")
    return (*(Option(f"c{i}", label, "choice") for i, label in enumerate(cleaned, start=1)),
            Option("abstain", "Không biểu quyết", "abstain"))


def check_choice(options: Sequence[Option], key: str) -> Option:
    for option in options:
        if option.key == key:
            return option
    raise RuleError(Refusal.INVALID, f"{key!r} is not an option of this poll")


@dataclass(frozen=True)
class Result:
    counts: dict[str, int]
    """Ballots per option key (every option present, zeros included)."""
    cast: int
    """Votes that count towards a majority of votes cast (everything but abstentions)."""
    total_ballots: int
    """All ballots, abstentions included (turnout)."""
    entitled: int
    """Members entitled to vote when the poll closed."""
    present: int
    """Entitled members present when the poll closed."""
    quorum_reached: bool
    """Whether enough entitled members were present (always True when the poll needs no quorum)."""
    winner: str | None
    """The option that carries (the yes option, or the leading choice), or None."""
    passed: bool
    """Whether the poll adopts its motion (or elects its winner) under its majority rule."""
    threshold: int
    """Votes the winner needed."""


def _threshold(rule: Majority, cast: int, entitled: int) -> int:
    if rule is Majority.CAST:
        return cast // 2 + 1
    if rule is Majority.ENTITLED:
        return entitled // 2 + 1
    return -(-2 * entitled // 3)  # ceil(2/3 of entitled)


def tally(options: Sequence[Option], counts: Mapping[str, int], *, rule: Majority, entitled: int, present: int,
          quorum_required: bool, quorum_needed: int) -> Result:
    keys = {o.key for o in options}
    unknown = set(counts) - keys
    if unknown:
        raise RuleError(Refusal.INVALID, f"ballots for unknown options {sorted(unknown)}")
    full = {o.key: int(counts.get(o.key, 0)) for o in options}
    cast = sum(full[o.key] for o in options if o.kind != "abstain")
    total = sum(full.values())
    quorum_ok = (not quorum_required) or present >= quorum_needed
    threshold = _threshold(rule, cast, entitled)
    yes = next((o for o in options if o.kind == "yes"), None)
    if yes is not None:
        leader: str | None = yes.key
    else:
        choices = sorted((o for o in options if o.kind == "choice"), key=lambda o: -full[o.key])
        tied = len(choices) > 1 and full[choices[0].key] == full[choices[1].key]
        leader = None if not choices or tied else choices[0].key
    passed = bool(quorum_ok and leader is not None and full[leader] >= max(threshold, 1))
    return Result(counts=full, cast=cast, total_ballots=total, entitled=entitled, present=present,
                  quorum_reached=quorum_ok, winner=leader if passed else None, passed=passed, threshold=threshold)
