"""The seal on a secret ballot while its poll is open (backend/services/ballot_seal.py)."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from backend.config import Settings
from backend.services import ballot_seal
from backend.services.ballot_seal import SEALED_CHARS, BallotSeal, BallotSealError

KEY = bytes(range(32))


def test_a_sealed_ballot_opens_only_with_its_key_and_for_its_poll() -> None:
    seal = BallotSeal(KEY)
    sealed = seal.seal(7, "ABCD-EFGH-JKLM-NPQR", "yes")
    assert seal.unseal(7, sealed) == ("ABCD-EFGH-JKLM-NPQR", "yes")
    assert "yes" not in sealed and "ABCD" not in sealed
    with pytest.raises(BallotSealError):
        BallotSeal(bytes(32)).unseal(7, sealed)
    with pytest.raises(BallotSealError):
        seal.unseal(8, sealed)  # moved to another poll
    with pytest.raises(BallotSealError):
        seal.unseal(7, sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"))


def test_sealed_ballots_have_one_length_and_never_repeat_whatever_the_choice() -> None:
    seal = BallotSeal(KEY)
    choices = ["yes", "no", "abstain", "c20", "c" * 20]
    sealed = [seal.seal(1, "ABCD-EFGH-JKLM-NPQR", c) for c in choices for _ in range(3)]
    assert {len(s) for s in sealed} == {SEALED_CHARS}
    assert len(set(sealed)) == len(sealed)


def test_the_tag_finds_a_ballot_from_its_receipt_only_with_the_key() -> None:
    seal = BallotSeal(KEY)
    assert seal.tag(1, "ABCD-EFGH-JKLM-NPQR") == seal.tag(1, "ABCD-EFGH-JKLM-NPQR")
    assert seal.tag(1, "ABCD-EFGH-JKLM-NPQR") != BallotSeal(bytes(32)).tag(1, "ABCD-EFGH-JKLM-NPQR")
    assert seal.tag(1, "ABCD-EFGH-JKLM-NPQR") != seal.tag(2, "ABCD-EFGH-JKLM-NPQR")
    assert seal.key_id != BallotSeal(bytes(32)).key_id and KEY.hex()[:16] not in seal.key_id


def test_the_key_comes_from_the_secret_key_or_a_private_key_file(tmp_path: Path) -> None:
    production = Settings.from_env({"ECABINET_MODE": "production", "ECABINET_SECRET_KEY": "s" * 48,
                                     "ECABINET_DATA_DIR": str(tmp_path)})
    assert production.ballot_key_file is None
    assert ballot_seal.for_settings(production).key == ballot_seal.for_settings(production).key
    assert ballot_seal.for_settings(replace(production, secret_key="t" * 48)).key != \
        ballot_seal.for_settings(production).key
    assert not list(tmp_path.iterdir())  # nothing written next to the database
    demo = Settings.from_env({"ECABINET_DATA_DIR": str(tmp_path)})  # no secret: generated, dies with the process
    assert demo.ballot_key_file == tmp_path / "ballot-seal.key"
    first = ballot_seal.for_settings(demo).key
    assert ballot_seal.for_settings(Settings.from_env({"ECABINET_DATA_DIR": str(tmp_path)})).key == first
    assert stat.S_IMODE((tmp_path / "ballot-seal.key").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["ballot-seal.key"]
    (tmp_path / "bad.key").write_text("abcd\n")
    with pytest.raises(ValueError):
        ballot_seal.for_settings(replace(demo, ballot_key_file=tmp_path / "bad.key"))
