"""One error tree rooted in ValueError, with one stable code per kind of refusal."""

from __future__ import annotations

import exchange as ex
from exchange import errors


def test_every_error_is_a_value_error_with_its_own_stable_code() -> None:
    kinds = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, ex.ExchangeError)]
    codes = {kind.code for kind in kinds}
    assert len(codes) == len(kinds)
    assert {"too_large", "forbidden_construct", "malformed_xml", "wrong_namespace", "schema_invalid",
            "bad_signature", "manifest_mismatch", "invalid_field", "unknown_agency"} <= codes
    for kind in kinds:
        assert issubclass(kind, ValueError)
        assert kind.__name__ in ex.__all__


def test_an_error_keeps_its_message_and_may_carry_another_code() -> None:
    error = ex.ExchangeError("không dùng được khóa", code="unusable_key")
    assert (error.code, error.message, str(error)) == ("unusable_key", "không dùng được khóa", "không dùng được khóa")
    assert ex.TooLarge("x").code == "too_large"
