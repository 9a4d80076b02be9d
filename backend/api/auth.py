"""Login, logout, API tokens, who am I, change my password."""

from __future__ import annotations

from typing import Any

from backend.api.devices import device_token, set_device_cookie
from backend.api.routing import Call, Permission, api, client_address, session_token
from backend.api.schemas import ChangePasswordIn, LoginIn, LoginOut, MeOut, TokenIn, TokenOut
from backend.services import auth, users

TAG = "auth"


def _cookie(call: Call, key: str, value: str, *, http_only: bool) -> dict[str, Any]:
    return {"key": key, "value": value, "max_age": call.settings.session_hours * 3600, "path": "/",
            "httponly": http_only, "samesite": "lax", "secure": call.settings.secure_cookies}


@api.route("POST", "/api/auth/login", summary="Log in (browser): sets the session cookie",
           permission=Permission.public(), tag=TAG, body=LoginIn, response=LoginOut)
async def login(call: Call) -> dict[str, Any]:
    body: LoginIn = call.body
    result = await auth.login(call.db, call.settings, body.username, body.password, kind="cookie",
                              user_agent=call.request.headers.get("user-agent", ""),
                              address=client_address(call.request), device_token=device_token(call.request))
    if result.device_token:
        set_device_cookie(call, result.device_token)
    csrf = auth.csrf_token(call.settings, result.token)
    call.cookies_to_set.append(_cookie(call, auth.session_cookie(call.settings), result.token, http_only=True))
    call.cookies_to_set.append(_cookie(call, auth.csrf_cookie(call.settings), csrf, http_only=False))
    return {"user": result.user, "csrf_token": csrf, "expires_at": result.expires_at}


@api.route("POST", "/api/auth/tokens", summary="Log in (API client): returns a bearer token",
           permission=Permission.public(), tag=TAG, body=TokenIn, response=TokenOut, status=201)
async def create_token(call: Call) -> dict[str, Any]:
    body: TokenIn = call.body
    result = await auth.login(call.db, call.settings, body.username, body.password, kind="bearer",
                              user_agent=body.label or call.request.headers.get("user-agent", ""),
                              address=client_address(call.request))
    return {"token": result.token, "user": result.user, "expires_at": result.expires_at}


@api.route("POST", "/api/auth/logout", summary="End this session (cookie or token)",
           permission=Permission.user(), tag=TAG, status=204)
async def logout(call: Call) -> None:
    await auth.logout(call.db, call.user, call.bus)
    call.cookies_to_delete.extend([auth.session_cookie(call.settings), auth.csrf_cookie(call.settings)])


@api.route("GET", "/api/auth/me", summary="Who is logged in", permission=Permission.user(), tag=TAG,
           response=MeOut)
async def me(call: Call) -> dict[str, Any]:
    user = await users.get(call.db, call.user, call.user.user_id)
    token = session_token(call.request)
    csrf = auth.csrf_token(call.settings, token) if call.user.via_cookie and token else None
    # No bridge path here: it is each meeting's (GET /api/meetings/{id}/bridge/relay).
    return {"user": user, "csrf_token": csrf, "offline_hours": call.settings.offline_hours}


@api.route("POST", "/api/auth/password", summary="Change my password (my other sessions end)",
           permission=Permission.user(), tag=TAG, body=ChangePasswordIn, status=204)
async def change_password(call: Call) -> None:
    body: ChangePasswordIn = call.body
    await auth.change_password(call.db, call.user, body.current_password, body.new_password, call.bus)
