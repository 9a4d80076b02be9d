"""How audit entries are chained: each hash covers the entry's content and the previous hash, so
changing, removing or reordering any entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainedFields:
    seq: int
    at: datetime
    actor_id: int | None
    action: str
    object_type: str
    object_id: int | None
    meeting_id: int | None
    details: str
    """Canonical JSON text, as stored."""


def canonical_details(details: Mapping[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(fields: ChainedFields, prev_hash: str) -> str:
    # Times are hashed at microsecond precision in UTC, which every supported database keeps.
    payload = json.dumps(
        [fields.seq, fields.at.isoformat(timespec="microseconds"), fields.actor_id, fields.action,
         fields.object_type, fields.object_id, fields.meeting_id, fields.details, prev_hash],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def first_break(entries: Iterable[tuple[ChainedFields, str, str]]) -> int | None:
    """Walk (fields, prev_hash, hash) in seq order; return the seq of the first entry that does not
    fit the chain, or None when the whole chain holds."""
    expected_prev = GENESIS
    expected_seq = 1
    for fields, prev_hash, stored_hash in entries:
        if fields.seq != expected_seq or prev_hash != expected_prev:
            return fields.seq
        if entry_hash(fields, prev_hash) != stored_hash:
            return fields.seq
        expected_prev = stored_hash
        expected_seq += 1
    return None
