"""Accounts and bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.routing import Call, Permission, api
from backend.api.schemas import (
    BodyIn,
    BodyOut,
    BodyUpdate,
    PasswordReset,
    UserCreate,
    UserOut,
    UserUpdate,
)
from backend.models import Body, User
from backend.services import bodies, signature_images, users


class UserQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: Annotated[str, Field(max_length=100)] = ""
    active: bool = False


@api.route("GET", "/api/users", summary="List accounts (search by name or username)",
           permission=Permission.user("administrators and the secretariat"), tag="users",
           query=UserQuery, response=list[UserOut])
async def list_users(call: Call) -> list[User]:
    query: UserQuery = call.query
    return await users.listing(call.db, call.user, query=query.q, active_only=query.active)


@api.route("POST", "/api/users", summary="Create an account", permission=Permission.admin(), tag="users",
           body=UserCreate, response=UserOut, status=201)
async def create_user(call: Call) -> User:
    return await users.create(call.db, call.user, call.body.model_dump())


@api.route("GET", "/api/users/{user_id:int}", summary="One account",
           permission=Permission.user("one's own; administrators and the secretariat: any"), tag="users",
           response=UserOut)
async def get_user(call: Call) -> User:
    return await users.get(call.db, call.user, call.path["user_id"])


@api.route("PATCH", "/api/users/{user_id:int}", summary="Change or deactivate an account (sessions end)",
           permission=Permission.admin(), tag="users", body=UserUpdate, response=UserOut)
async def update_user(call: Call) -> User:
    return await users.update(call.db, call.user, call.path["user_id"], call.body.changes(), call.bus)


@api.route("POST", "/api/users/{user_id:int}/password", summary="Set a new password for an account",
           permission=Permission.admin(), tag="users", body=PasswordReset, status=204)
async def reset_password(call: Call) -> None:
    await users.reset_password(call.db, call.user, call.path["user_id"], call.body.new_password, call.bus)


@api.route("GET", "/api/bodies", summary="List bodies", permission=Permission.user(), tag="bodies",
           response=list[BodyOut])
async def list_bodies(call: Call) -> list[Body]:
    return await bodies.listing(call.db)


@api.route("POST", "/api/bodies", summary="Create a body", permission=Permission.admin(), tag="bodies",
           body=BodyIn, response=BodyOut, status=201)
async def create_body(call: Call) -> Body:
    return await bodies.create(call.db, call.user, call.body.model_dump())


@api.route("PATCH", "/api/bodies/{body_id:int}", summary="Change a body", permission=Permission.admin(),
           tag="bodies", body=BodyUpdate, response=BodyOut)
async def update_body(call: Call) -> Body:
    return await bodies.update(call.db, call.user, call.path["body_id"], call.body.changes())


class ImageStored(BaseModel):
    sha256: str


def _png(data: bytes) -> Response:
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, no-cache",
                                                           "X-Content-Type-Options": "nosniff"})


@api.route("PUT", "/api/me/signature-image", summary="My handwritten signature (PNG), drawn in my signature boxes",
           permission=Permission.user("one's own"), tag="users", upload="image/png",
           upload_limit="max_image_bytes", response=ImageStored)
async def set_my_signature_image(call: Call) -> dict[str, str]:
    return await signature_images.set_signature(call.db, call.settings, call.user, call.raw)


@api.route("GET", "/api/me/signature-image", summary="My handwritten signature image",
           permission=Permission.user("one's own"), tag="users", produces="image/png")
async def my_signature_image(call: Call) -> Response:
    return _png(await signature_images.signature(call.db, call.settings, call.user.user_id))


@api.route("DELETE", "/api/me/signature-image", summary="Remove my handwritten signature image",
           permission=Permission.user("one's own"), tag="users", status=204)
async def clear_my_signature_image(call: Call) -> None:
    await signature_images.clear_signature(call.db, call.user)


@api.route("PUT", "/api/bodies/{body_id:int}/seal-image", summary="The body's seal (PNG), drawn over its head's "
           "signature", permission=Permission.admin(), tag="bodies", upload="image/png",
           upload_limit="max_image_bytes", response=ImageStored)
async def set_seal_image(call: Call) -> dict[str, str]:
    return await signature_images.set_seal(call.db, call.settings, call.user, call.path["body_id"], call.raw)


@api.route("GET", "/api/bodies/{body_id:int}/seal-image", summary="The body's seal image",
           permission=Permission.admin(), tag="bodies", produces="image/png")
async def seal_image(call: Call) -> Response:
    return _png(await signature_images.seal(call.db, call.settings, call.path["body_id"]))


@api.route("DELETE", "/api/bodies/{body_id:int}/seal-image", summary="Remove the body's seal image",
           permission=Permission.admin(), tag="bodies", status=204)
async def clear_seal_image(call: Call) -> None:
    await signature_images.clear_seal(call.db, call.user, call.path["body_id"])
