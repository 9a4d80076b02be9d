"""My notifications: the list (newest first, paged), the unread count, marking them read. Everyone
reaches only their own: another's notification is answered like one that does not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from backend.api.routing import Call, Permission, api
from backend.api.schemas import Id, Input, Output
from backend.services import notifications

MINE = "/api/me/notifications"
OWN = Permission.user("one's own notifications only")


class NotificationQuery(Input):
    model_config = ConfigDict(extra="forbid", strict=False)
    before: Id | None = Field(default=None, description="only notifications older than this id (the next page)")
    limit: Annotated[int, Field(ge=1, le=100)] = notifications.PAGE_SIZE


class NotificationOut(Output):
    id: int
    kind: str = Field(description="meeting_published, round_reminder, round_closing, record_review, record_sign, "
                                  "record_published; the client words it (i18n `notify.<kind>.*`)")
    params: dict[str, str] = Field(description="what the text names: meeting, number, title, deadline, starts_at")
    link: str = Field(description="where in the app it leads, e.g. #/records/5")
    created_at: datetime
    read_at: datetime | None


class NotificationPage(Output):
    items: list[NotificationOut]
    unread: int
    next_before: int | None = Field(description="pass as `before` for the next page; null on the last one")


class UnreadOut(Output):
    unread: int


class MarkedOut(Output):
    marked: int
    unread: int


@api.route("GET", MINE, summary="My notifications, newest first (paged with `before`)", permission=OWN,
           tag="notifications", query=NotificationQuery, response=NotificationPage)
async def list_notifications(call: Call) -> dict[str, Any]:
    return await notifications.mine(call.db, call.user, before=call.query.before, limit=call.query.limit)


@api.route("GET", MINE + "/unread", summary="How many of my notifications are unread", permission=OWN,
           tag="notifications", response=UnreadOut)
async def unread_notifications(call: Call) -> dict[str, Any]:
    return {"unread": await notifications.unread(call.db, call.user)}


@api.route("POST", MINE + "/{notification_id:int}/read", summary="Mark one of my notifications read",
           permission=OWN, tag="notifications", response=NotificationOut)
async def read_notification(call: Call) -> dict[str, Any]:
    return await notifications.mark_read(call.db, call.request.app.state.live.bus, call.user,
                                         call.path["notification_id"])


@api.route("POST", MINE + "/read", summary="Mark all my notifications read", permission=OWN,
           tag="notifications", response=MarkedOut)
async def read_all_notifications(call: Call) -> dict[str, int]:
    return await notifications.mark_all_read(call.db, call.request.app.state.live.bus, call.user)
