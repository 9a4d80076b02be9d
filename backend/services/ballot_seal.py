"""Sealing a secret ballot until its poll closes.

The voter's transaction must make the ballot durable (a crash after the ack must not lose it), and
whatever that transaction writes is linkable to the voter forever: it commits with the voter row
(same WAL commit on SQLite, same xmin on PostgreSQL). So it writes the (receipt, choice) sealed:
AES-GCM under a key that is never in the database (derived from ECABINET_SECRET_KEY, or a key file),
padded to one length so the size of the sealed text says nothing. Only the close, in one transaction,
opens the sealed ballots and writes them out in random order (services/polls.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.config import Settings

_PLAIN_BYTES = 64  # receipt (19) + longest choice key (20) + JSON framing, padded to one size
_NONCE_BYTES = 12
SEALED_CHARS = len(base64.urlsafe_b64encode(bytes(_NONCE_BYTES + _PLAIN_BYTES + 16)))


class BallotSealError(ValueError):
    """A sealed ballot that this key cannot open (another key, or altered)."""


@dataclass(frozen=True)
class BallotSeal:
    key: bytes = field(repr=False)
    """32 bytes; the same on every worker, and never written to the database."""

    def _mac(self, label: str) -> bytes:
        return hmac.new(self.key, label.encode(), hashlib.sha256).digest()

    @property
    def key_id(self) -> str:
        """Names the key (not a way back to it), stored with a poll so a worker with another key
        refuses ballots it could not count, instead of acknowledging them."""
        return self._mac("key-id").hex()[:16]

    def tag(self, poll_id: int, receipt: str) -> str:
        """The sealed ballot's row id, found again from the receipt (to change the vote) only with the key."""
        return self._mac(f"tag:{poll_id}:{receipt}").hex()[:32]

    def seal(self, poll_id: int, receipt: str, choice: str) -> str:
        plain = json.dumps({"r": receipt, "c": choice}, separators=(",", ":")).encode()
        if len(plain) > _PLAIN_BYTES:
            raise ValueError("receipt and choice too long to seal")
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self._mac("seal")).encrypt(nonce, plain.ljust(_PLAIN_BYTES), _aad(poll_id))
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal(self, poll_id: int, sealed: str) -> tuple[str, str]:
        """(receipt, choice) of a ballot sealed for this poll."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            plain = AESGCM(self._mac("seal")).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(poll_id))
            value = json.loads(plain)
            return str(value["r"]), str(value["c"])
        except (InvalidTag, ValueError, KeyError, TypeError) as exc:
            raise BallotSealError("this sealed ballot does not open with this key") from exc


    def unseal_many(self, poll_id: int, sealed: Iterable[str]) -> list[tuple[str, str]]:
        """`unseal` of a whole poll's ballots (the close), with the cipher made once."""
        cipher, aad = AESGCM(self._mac("seal")), _aad(poll_id)
        out = []
        for text in sealed:
            try:
                raw = base64.urlsafe_b64decode(text.encode())
                value = json.loads(cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad))
                out.append((str(value["r"]), str(value["c"])))
            except (InvalidTag, ValueError, KeyError, TypeError) as exc:
                raise BallotSealError("this sealed ballot does not open with this key") from exc
        return out


def _aad(poll_id: int) -> bytes:
    return f"ecabinet-ballot:{poll_id}".encode()  # a sealed ballot cannot be moved to another poll


def for_settings(settings: Settings) -> BallotSeal:
    """The key file when configured (made on first use), else a key derived from the secret key."""
    if settings.ballot_key_file is None:
        return BallotSeal(hmac.new(settings.secret_key.encode(), b"ecabinet ballot seal v1", hashlib.sha256).digest())
    return BallotSeal(_key_file(settings.ballot_key_file))


def _key_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)  # whole or not at all: a second worker starting at once reads the first's key
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = bytes.fromhex(path.read_text().strip())
    if len(key) != 32:
        raise ValueError(f"{path} must hold 64 hexadecimal digits (a 256-bit key)")
    return key
