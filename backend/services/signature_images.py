"""The images a signature box shows on paper copies (Decree 30 practice): a signer's handwritten
signature, kept with their account, and a body's seal, kept with the body. Uploaded PNGs are untrusted
bytes: they are decoded and re-drawn in the sandbox (backend/pdf/jobs.py `image`), so only pixels are
stored, content-addressed in the file store."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.exceptions import NotFound
from backend.models import Body, User
from backend.services import audit, pdf_jobs
from backend.services.context import Actor
from backend.services.files import FileStore

MAX_SIDE_PX = 2000
"""Larger images are refused (`image_too_large`); a signature or a seal needs far less."""


async def _clean(settings: Settings, data: bytes) -> bytes:
    _, blobs = await pdf_jobs.run(settings, "image", {"max_side": MAX_SIDE_PX}, [data])
    return blobs[0]


async def set_signature(db: Database, settings: Settings, actor: Actor, data: bytes) -> dict[str, str]:
    """The caller's own handwritten signature (a PNG)."""
    png = await _clean(settings, data)
    digest = await FileStore.for_settings(settings).put(png)
    async with db.write() as s:
        user = await s.get(User, actor.user_id)
        if user is None:
            raise NotFound("no such account", code="not_found")
        user.signature_image_sha256 = digest
        s.add(user)
        await audit.record(s, "user.signature_image_set", actor_id=actor.user_id, object_type="user",
                           object_id=actor.user_id, details={"sha256": digest})
    return {"sha256": digest}


async def clear_signature(db: Database, actor: Actor) -> None:
    async with db.write() as s:
        user = await s.get(User, actor.user_id)
        if user is not None and user.signature_image_sha256:
            user.signature_image_sha256 = None
            s.add(user)
            await audit.record(s, "user.signature_image_removed", actor_id=actor.user_id, object_type="user",
                               object_id=actor.user_id)


async def signature(db: Database, settings: Settings, user_id: int) -> bytes:
    async with db.read() as s:
        user = await s.get(User, user_id)
    if user is None or not user.signature_image_sha256:
        raise NotFound("no signature image", code="no_image")
    return await FileStore.for_settings(settings).get(user.signature_image_sha256)


async def set_seal(db: Database, settings: Settings, actor: Actor | None, body_id: int,
                   data: bytes) -> dict[str, str]:
    """A body's seal (a PNG; administrators, or the operator's `ecabinet seal` with no actor)."""
    async with db.read() as s:
        if await s.get(Body, body_id) is None:
            raise NotFound(f"no body {body_id}", code="not_found")
    png = await _clean(settings, data)
    digest = await FileStore.for_settings(settings).put(png)
    async with db.write() as s:
        body = await s.get(Body, body_id)
        if body is None:
            raise NotFound(f"no body {body_id}", code="not_found")
        body.seal_image_sha256 = digest
        s.add(body)
        await audit.record(s, "body.seal_image_set", actor_id=actor.user_id if actor else None, object_type="body",
                           object_id=body_id, details={"sha256": digest})
    return {"sha256": digest}


async def clear_seal(db: Database, actor: Actor, body_id: int) -> None:
    async with db.write() as s:
        body = await s.get(Body, body_id)
        if body is None:
            raise NotFound(f"no body {body_id}", code="not_found")
        if body.seal_image_sha256:
            body.seal_image_sha256 = None
            s.add(body)
            await audit.record(s, "body.seal_image_removed", actor_id=actor.user_id, object_type="body",
                               object_id=body_id)


async def seal(db: Database, settings: Settings, body_id: int) -> bytes:
    async with db.read() as s:
        body = await s.get(Body, body_id)
    if body is None or not body.seal_image_sha256:
        raise NotFound("no seal image", code="no_image")
    return await FileStore.for_settings(settings).get(body.seal_image_sha256)


async def for_signing(s: AsyncSession, files: FileStore, user: User, body: Body | None) -> tuple[
        bytes | None, bytes | None]:
    """(signature, seal) to draw in a signature box: the signer's own, and the body's when given."""
    signature_png = await files.get(user.signature_image_sha256) if user.signature_image_sha256 else None
    seal_png = await files.get(body.seal_image_sha256) if body is not None and body.seal_image_sha256 else None
    return signature_png, seal_png
