"""The one interface the bridge (backend/services/bridge.py) drives a meeting's media through, whatever
carries the media: the embedded aiortc relay (media/relay.py, the default) or a Janus VideoRoom
(media/janus.py). The signalling and the floor rules do not change with the backend: a site's offer to
publish gets the backend's answer; what a site receives is an offer of one stream per (slot, kind) made
by the backend, answered by the site; `route` decides which site feeds a slot, without a new offer.

Everything belongs to the connection (`owner`) that asked for it and ends with `leave(owner)`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from aiortc import RTCSessionDescription


class Receiving(Protocol):
    """What one connection receives (a subscription)."""

    key: str
    owner: str
    site: str
    answered: bool

    @property
    def tracks(self) -> Mapping[tuple[str, str], Any]:
        """One entry per (slot, kind), in the order of the offer's m-lines."""


class MediaBackend(Protocol):
    @property
    def sources(self) -> Mapping[tuple[str, str], Any]:
        """(site, kind) on the air."""

    @property
    def subscriptions(self) -> Mapping[str, Receiving]:
        """By key (the bridge: "<socket>" and "<socket>:control")."""

    async def publish(self, owner: str, offer: RTCSessionDescription, *, site: str | None = None
                      ) -> RTCSessionDescription: ...

    async def subscribe(self, key: str, slots: Iterable[tuple[str, str]] = ..., *, owner: str | None = None,
                        site: str | None = None) -> RTCSessionDescription: ...

    async def answered(self, key: str, answer: RTCSessionDescription) -> None: ...

    async def unsubscribe(self, key: str) -> None: ...

    def route(self, key: str, slot: str, publisher: str | None) -> None: ...

    async def leave(self, owner: str) -> bool: ...

    async def close(self) -> None: ...
