"""Devices: the browsers an account logged in from; revoking a lost one; its confirmation of the wipe."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from backend.api.routing import Call, Permission, api, client_address
from backend.api.schemas import DeviceOut, ThisDeviceOut
from backend.config import Settings
from backend.services import auth, devices
from backend.services.devices import DeviceView

TAG = "devices"


def device_token(request: Request) -> str | None:
    settings: Settings = request.app.state.settings
    return request.cookies.get(auth.device_cookie(settings))


def set_device_cookie(call: Call, token: str) -> None:
    # HttpOnly: no script reads it; Strict: no other site's page sends it (nor confirms a wipe with it).
    call.cookies_to_set.append({"key": auth.device_cookie(call.settings), "value": token, "path": "/",
                                "max_age": devices.COOKIE_DAYS * 86400, "httponly": True, "samesite": "strict",
                                "secure": call.settings.secure_cookies})


def _out(view: DeviceView) -> dict[str, Any]:
    d = view.device
    return {"id": d.id, "user_id": d.user_id, "name": d.name, "first_seen_at": d.first_seen_at,
            "last_seen_at": d.last_seen_at, "last_address": d.last_address, "revoked_at": d.revoked_at,
            "wiped_at": d.wiped_at, "current": view.current}


@api.route("GET", "/api/me/devices", summary="My devices (the browsers I logged in from)",
           permission=Permission.user("one's own"), tag=TAG, response=list[DeviceOut])
async def my_devices(call: Call) -> list[dict[str, Any]]:
    return [_out(v) for v in await devices.listing(call.db, call.user, call.user.user_id)]


@api.route("GET", "/api/me/device", summary="This device: its store key and how long offline copies may be kept",
           permission=Permission.user("one's own"), tag=TAG, response=ThisDeviceOut)
async def this_device(call: Call) -> dict[str, Any]:
    out = await devices.this_device(call.db, call.settings, call.user, client_address(call.request))
    call.headers["Cache-Control"] = "no-store"  # the key is never kept by a cache or the service worker
    return {**out, "device": _out(out["device"]) if out["device"] is not None else None}


@api.route("GET", "/api/users/{user_id:int}/devices", summary="An account's devices",
           permission=Permission.user("one's own; administrators: any"), tag=TAG, response=list[DeviceOut])
async def user_devices(call: Call) -> list[dict[str, Any]]:
    return [_out(v) for v in await devices.listing(call.db, call.user, call.path["user_id"])]


@api.route("POST", "/api/devices/{device_id:int}/revoke",
           summary="Mark a device lost: its sessions end now, it erases what it stored at its next contact",
           permission=Permission.user("one's own other devices; administrators: any"), tag=TAG,
           response=DeviceOut)
async def revoke_device(call: Call) -> dict[str, Any]:
    return _out(await devices.revoke(call.db, call.user, call.path["device_id"], call.bus))


@api.route("POST", "/api/devices/wiped", summary="A revoked device confirms it erased what it stored",
           permission=Permission.public("the browser of a revoked device (its device cookie)"), tag=TAG, status=204)
async def device_wiped(call: Call) -> None:
    if await devices.confirm_wiped(call.db, device_token(call.request)):
        call.cookies_to_delete.append(auth.device_cookie(call.settings))
