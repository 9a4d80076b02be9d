"""The password policy: what it refuses (400 weak_password) and what it lets through."""

from __future__ import annotations

import pytest

from backend.exceptions import BadRequest
from backend.services import passwords
from backend.services.demo import ACCOUNTS

WEAK = [
    "1234567890", "password12", "qwertyuiop", "thutuong2026",  # the audit's examples
    "short1A!", "aaaaaaaaaaaa", "abababababab", " Leading-space-1",
    "0912345678", "19/08/1975-20", "12-34-56-78-90",  # digits only, whatever separates them
    "Password2026!", "P@ssw0rd2026", "PASSWORD-123", "iloveyou2026", "Anhyeuem@2026", "matkhau123456",
    "MậtKhẩu@2026", "Chính-phủ-2026", "ecabinet2026", "Admin@123456",
    "asdfghjkl;'", "1qaz2wsx3edc", "zaq12wsxcde3", "qwertz123456", "ZXCVBNM,./12", "poiuytrewq",
]


@pytest.mark.parametrize("password", WEAK)
def test_a_weak_or_common_password_is_refused_with_400_weak_password(password: str) -> None:
    with pytest.raises(BadRequest) as caught:
        passwords.check_policy(password, username="nguoi.dung", full_name="Người Dùng")
    assert caught.value.status == 400 and caught.value.code == "weak_password"


@pytest.mark.parametrize(("password", "username", "full_name"), [
    ("Nguyen.Van.An", "an.nguyen", "Nguyễn Văn An"),
    ("NGUYỄN VĂN AN 1", "an.nguyen", "Nguyễn Văn An"),
    ("an.nguyen2026", "an.nguyen", "Nguyễn Văn An"),
    ("Lan.Do-2026!", "lan.do", "Đỗ Thị Lan"),
    ("bo.tai.chinh!", "bo.taichinh", "Phạm Minh Đức"),
])
def test_the_username_or_the_persons_name_is_refused(password: str, username: str, full_name: str) -> None:
    with pytest.raises(BadRequest, match="username or the person's name"):
        passwords.check_policy(password, username=username, full_name=full_name)


@pytest.mark.parametrize("password", ["Mat-khau-chung-2026", "Dat-lai-mat-khau-1", "hoa sen nở giữa đầm",
                                      "correct horse battery staple", "Trống-đồng-Đông-Sơn-1"])
def test_a_passphrase_of_ordinary_words_passes(password: str) -> None:
    passwords.check_policy(password, username="an.nguyen", full_name="Nguyễn Văn An")


def test_the_demo_accounts_passwords_pass_the_policy() -> None:
    for account in ACCOUNTS:
        passwords.check_policy(account.password, username=account.username, full_name=account.full_name)


def test_the_list_of_common_passwords_ships_with_the_code_and_is_folded() -> None:
    common = passwords.common_passwords()
    assert 1_000 < len(common) < 10_000
    assert {"password", "qwertyuiop", "matkhau", "thutuong", "1qaz2wsx"} <= common
    assert all(entry.isalnum() and entry == entry.lower() and entry.isascii() for entry in common)


def test_a_login_rehash_of_an_old_weak_password_is_not_refused() -> None:
    """Accounts made before the policy still log in (the hash is upgraded, the password is not judged)."""
    assert passwords.verify_password(passwords.hash_password("1234567890"), "1234567890")
