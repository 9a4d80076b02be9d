"""Signing credentials: the development CA, certificates issued from it or imported, PKCS#11 tokens,
and turning a credential plus its secret (PKCS#12 passphrase or token PIN) into a signer.

The secret is never stored or logged: a file credential's key stays encrypted under the user's
passphrase, a token's key never leaves the token."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import signing
from backend.config import Settings
from backend.db import Database
from backend.exceptions import AppError, BadRequest, Conflict, Forbidden, NotFound
from backend.models import SigningCredential, User
from backend.services import audit
from backend.services.context import Actor


class CredentialError(AppError):
    """A signing error (wrong passphrase, unusable certificate, missing token) as the API reports it."""

    status = 422


def from_signing_error(exc: signing.SigningError) -> AppError:
    """The signing package's errors, with their codes, as 4xx answers."""
    if isinstance(exc, signing.DocumentLocked):
        return Conflict(exc.message, code=exc.code)
    if isinstance(exc, signing.ServiceUnavailable):
        err = CredentialError(exc.message, code=exc.code)
        err.status = 503
        return err
    if isinstance(exc, signing.WrongPassphrase):
        return Forbidden(exc.message, code=exc.code)
    return CredentialError(exc.message, code=exc.code)


@dataclass(frozen=True)
class DevCa:
    """Where the development CA lives (settings.effective_pki_dir)."""

    directory: Path

    @property
    def exists(self) -> bool:
        return (self.directory / "root.pem").exists()

    @property
    def root_pem(self) -> bytes:
        return (self.directory / "root.pem").read_bytes()


def dev_ca(settings: Settings) -> DevCa:
    return DevCa(settings.effective_pki_dir)


def dev_chain(settings: Settings) -> tuple[bytes, ...]:
    """The development CA's certificates, embedded with token signatures it issued."""
    ca = dev_ca(settings)
    if not ca.exists:
        return ()
    return tuple(p.read_bytes() for p in (ca.directory / "issuing.pem", ca.directory / "root.pem") if p.exists())


def init_ca(settings: Settings, *, force: bool = False) -> signing.CaPaths:
    try:
        return signing.init_ca(settings.effective_pki_dir, force=force)
    except signing.SigningError as exc:
        raise from_signing_error(exc) from exc


def _ca_paths(settings: Settings) -> signing.CaPaths:
    ca = dev_ca(settings)
    if not ca.exists:
        raise BadRequest("there is no development CA: run `ecabinet pki init` first", code="no_ca")
    return signing.load_ca(ca.directory)


def credential_out(c: SigningCredential) -> dict[str, Any]:
    info = signing.describe(x509.load_pem_x509_certificate(c.certificate_pem.encode()))
    label = f"{info.common_name} — {info.title}" if info.title else info.common_name
    return {"id": c.id, "user_id": c.user_id, "kind": c.kind, "label": f"{label} ({info.issuer_common_name})",
            "subject": c.subject, "issuer": c.issuer,
            "serial": c.serial, "fingerprint": c.fingerprint, "not_before": c.not_before, "not_after": c.not_after,
            "active": c.active, "token_label": c.token_label, "key_label": c.key_label,
            "usable": c.active and c.not_before <= datetime.now(UTC) <= c.not_after}


async def _user(s: AsyncSession, username: str) -> User:
    user = (await s.exec(select(User).where(User.username == username.strip().lower()))).first()
    if user is None:
        raise NotFound(f"no user {username!r}", code="unknown_user")
    return user


def _row(user_id: int, cert: x509.Certificate, kind: str, **extra: Any) -> SigningCredential:
    info = signing.describe(cert)
    return SigningCredential(
        user_id=user_id, kind=kind, certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        subject=cert.subject.rfc4514_string()[:500], issuer=cert.issuer.rfc4514_string()[:500],
        serial=info.serial[:100], fingerprint=info.fingerprint_sha256, not_before=info.not_before,
        not_after=info.not_after, **extra)


async def _store(db: Database, username: str, make: Any, action: str, actor_id: int | None) -> dict[str, Any]:
    async with db.write() as s:
        user = await _user(s, username)
        assert user.id is not None
        row: SigningCredential = make(user)
        if (await s.exec(select(SigningCredential.id).where(
                SigningCredential.fingerprint == row.fingerprint))).first() is not None:
            raise Conflict("this certificate is already registered", code="duplicate_certificate")
        s.add(row)
        await s.flush()
        await audit.record(s, action, actor_id=actor_id, object_type="signing_credential", object_id=row.id,
                           details={"user_id": user.id, "subject": row.subject, "fingerprint": row.fingerprint})
        return credential_out(row)


async def issue(db: Database, settings: Settings, username: str, passphrase: str, *,
                actor_id: int | None = None) -> dict[str, Any]:
    """A signing certificate from the development CA for a user, kept as PKCS#12 under `passphrase`."""
    ca = _ca_paths(settings)
    async with db.read() as s:
        user = await _user(s, username)
    try:
        p12 = signing.issue_signing_certificate(ca, common_name=user.full_name, title=user.title or None,
                                                organization=None, email=None, passphrase=passphrase)
        _, cert, _ = signing.read_pkcs12(p12, passphrase)
    except signing.SigningError as exc:
        raise from_signing_error(exc) from exc
    return await _store(db, username, lambda u: _row(u.id, cert, "file", pkcs12=p12),
                        "credential.issued", actor_id)


async def import_pkcs12(db: Database, username: str, data: bytes, passphrase: str, *,
                        actor_id: int | None = None) -> dict[str, Any]:
    """Attach a certificate issued by a real CA (a .p12 file); it is checked before it is stored."""
    try:
        signing.import_pkcs12(data, passphrase)
        _, cert, _ = signing.read_pkcs12(data, passphrase)
    except signing.SigningError as exc:
        raise from_signing_error(exc) from exc
    return await _store(db, username, lambda u: _row(u.id, cert, "file", pkcs12=data),
                        "credential.imported", actor_id)


async def register_token(db: Database, username: str, config: signing.TokenConfig, *,
                         actor_id: int | None = None) -> dict[str, Any]:
    """Attach a key on a PKCS#11 token: the PIN opens it once to read and check the certificate."""
    try:
        with signing.open_token_signer(config) as signer:
            cert = x509.load_der_x509_certificate(signer.signing_cert.dump())
    except signing.SigningError as exc:
        raise from_signing_error(exc) from exc
    return await _store(db, username, lambda u: _row(u.id, cert, "token", token_module=config.module_path,
                                                     token_label=config.token_label, key_label=config.key_label),
                        "credential.token_registered", actor_id)


async def list_for(db: Database, username: str) -> list[dict[str, Any]]:
    async with db.read() as s:
        user = await _user(s, username)
        rows = (await s.exec(select(SigningCredential).where(SigningCredential.user_id == user.id)
                             .order_by(col(SigningCredential.id)))).all()
    return [credential_out(r) for r in rows]


async def mine(db: Database, actor: Actor) -> list[dict[str, Any]]:
    async with db.read() as s:
        rows = (await s.exec(select(SigningCredential).where(SigningCredential.user_id == actor.user_id,
                                                             SigningCredential.active == True)  # noqa: E712
                             .order_by(col(SigningCredential.id)))).all()
    return [credential_out(r) for r in rows]


async def load_own(s: AsyncSession, actor: Actor, credential_id: int) -> SigningCredential:
    cred = await s.get(SigningCredential, credential_id)
    if cred is None or cred.user_id != actor.user_id:
        raise NotFound(f"no signing credential {credential_id} of yours", code="unknown_credential")
    if not cred.active:
        raise CredentialError("this signing credential has been withdrawn", code="credential_inactive")
    return cred


@contextlib.contextmanager
def open_signer(cred: SigningCredential, secret: str, chain: tuple[bytes, ...] = ()) -> Iterator[Any]:
    """A pyHanko signer for this credential (runs in a worker thread: tokens block). `chain`: CA
    certificates to embed when the token does not hold them."""
    if cred.kind == "file":
        assert cred.pkcs12 is not None
        yield signing.file_signer(cred.pkcs12, secret)
        return
    config = signing.TokenConfig(module_path=cred.token_module or signing.TokenConfig.module_path,
                                 token_label=cred.token_label or "", key_label=cred.key_label or "",
                                 cert_label=cred.key_label or "", user_pin=secret, chain=chain)
    with signing.open_token_signer(config) as signer:
        got = hashlib.sha256(signer.signing_cert.dump()).hexdigest()
        if got != cred.fingerprint:
            raise signing.TokenUnavailable("the token holds a different certificate than the one registered")
        yield signer
