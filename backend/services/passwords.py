"""Password hashing (argon2id) and the password policy for new passwords."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.domain.text import fold
from backend.exceptions import BadRequest

_hasher = PasswordHasher()
MIN_LENGTH = 10
# Verified against when the username is unknown, so a wrong username costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("e-cabinet timing equaliser")
_COMMON_FILE = Path(__file__).with_name("common_passwords.txt")
_LEET = str.maketrans({"@": "a", "4": "a", "$": "s", "5": "s", "0": "o", "3": "e", "1": "i", "!": "i", "7": "t"})


def hash_password(password: str) -> str:
    """The hash of a password already accepted (a new one goes through `hash_new_password`)."""
    return _hasher.hash(password)


def hash_new_password(password: str, *, username: str, full_name: str) -> str:
    """Check a new password against the policy, then hash it."""
    check_policy(password, username=username, full_name=full_name)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def common_passwords() -> frozenset[str]:
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", fold(text))


def _weak(message: str) -> BadRequest:
    return BadRequest(message, code="weak_password")


def check_policy(password: str, *, username: str = "", full_name: str = "") -> None:
    """Refuse (400 weak_password) a password that is short, made of few characters or only digits, a
    common password or keyboard walk (also with digits or symbols around it, or in leetspeak), or the
    person's username or name. Case and Vietnamese diacritics do not count."""
    if len(password) < MIN_LENGTH:
        raise _weak(f"a password needs at least {MIN_LENGTH} characters")
    if password.strip() != password or len(set(password)) < 4:
        raise _weak("this password is too easy to guess: use more different characters")
    squashed, letters = _squash(password), _letters(password)
    if squashed.isdigit():
        raise _weak("a password of digits only (a number, a date, a phone number) is too easy to guess")
    # "P@ssw0rd2026" -> "password": the word without the year around it, symbols read as letters.
    core = _letters(re.sub(r"^[\W\d_]+|[\W\d_]+$", "", fold(password)).translate(_LEET))
    common = common_passwords()
    if {squashed, letters, core} & common:
        raise _weak("this password is among the most common ones (or a keyboard pattern): choose another")
    own = {_squash(username), _letters(username), _squash(full_name), _letters(full_name)} - {""}
    if {squashed, letters, core} & own:
        raise _weak("a password may not be the username or the person's name")
