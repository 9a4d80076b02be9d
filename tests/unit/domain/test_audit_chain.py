from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from backend.domain.audit_chain import GENESIS, ChainedFields, canonical_details, entry_hash, first_break


def _chain(n: int) -> list[tuple[ChainedFields, str, str]]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        f = ChainedFields(seq=seq, at=datetime(2026, 11, 23, 8, 0, seq, tzinfo=UTC), actor_id=seq, action="vote.cast",
                          object_type="poll", object_id=7, meeting_id=1,
                          details=canonical_details({"lựa chọn": "Tán thành", "n": seq}))
        h = entry_hash(f, prev)
        out.append((f, prev, h))
        prev = h
    return out


def test_an_untouched_chain_holds() -> None:
    assert first_break(_chain(5)) is None
    assert first_break([]) is None


def test_changing_any_field_breaks_the_chain_at_that_entry() -> None:
    chain = _chain(5)
    f, prev, h = chain[2]
    chain[2] = (replace(f, details=canonical_details({"lựa chọn": "Không tán thành", "n": 3})), prev, h)
    assert first_break(chain) == 3


def test_removing_or_reordering_entries_is_detected() -> None:
    chain = _chain(5)
    assert first_break(chain[:2] + chain[3:]) == 4
    assert first_break([chain[1], chain[0]] + chain[2:]) == 2


def test_recomputing_one_hash_does_not_hide_the_tampering() -> None:
    chain = _chain(4)
    f, prev, _ = chain[1]
    forged = replace(f, actor_id=99)
    chain[1] = (forged, prev, entry_hash(forged, prev))
    assert first_break(chain) == 3


def test_details_are_canonical_and_keep_vietnamese_text() -> None:
    assert canonical_details({"b": 1, "a": "Nghị quyết"}) == '{"a":"Nghị quyết","b":1}'
