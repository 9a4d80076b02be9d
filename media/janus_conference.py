"""A meeting's media over several Janus instances (ECABINET_JANUS_URLS), behind the one interface of
media/backend.py:

- each site is placed on one instance (the one with the fewest sites when it first comes), and its
  publication and what it receives both live there;
- a site routed to a slot somewhere else (the floor, the chair) is forwarded from its instance to each
  instance that needs it: a VideoRoom remote publisher there (`add_remote_publisher`) fed by plain RTP
  from the source (`publish_remotely`, with RTCP back so that keyframe requests reach the site); the
  receivers' m-lines are switched to that copy as to any local publisher. `_reconcile` makes the
  forwards match the routes after every change (a route, a publication on or off the air, a loss),
  keeping the most recently routed idle copies (`keep_idle`) for a floor that comes back to them;
- an instance lost (its long poll fails twice) is forgotten: its sites are placed again on the others
  as they come back, and each connection it held is told (`on_moved`) to publish and receive again.

One instance alone behaves as media/janus.py's JanusRoom."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiortc import RTCSessionDescription

from media.janus import JanusError, JanusPublication, JanusRoom, JanusSubscription

log = logging.getLogger("ecabinet.media.janus")

KEEP_IDLE = 2
"""Forwarded copies kept per receiving instance after nobody routes to them any more (the most recently
routed ones): a floor going back to a recent speaker is then switched at once, as on one instance, instead
of after the copy is built again. Each kept copy costs one site's streams between the two instances."""


@dataclass(eq=False)
class Forward:
    source: JanusRoom
    pub: JanusPublication
    remote_id: str


class JanusConference:
    def __init__(self, urls: Iterable[str], room: int, *, video_codec: str | None = None,
                 on_sources: Callable[[], None] | None = None,
                 on_replaced: Callable[[str, str], None] | None = None,
                 on_moved: Callable[[str], None] | None = None) -> None:
        self.on_sources, self.on_moved = on_sources, on_moved
        self.rooms = [JanusRoom(url, room, video_codec=video_codec, on_sources=self._sources_changed,
                                on_replaced=on_replaced) for url in urls]
        if not self.rooms:
            raise ValueError("no Janus instance to serve the meeting")
        for each in self.rooms:
            each.janus.on_lost = lambda lost=each: self._spawn(self._lost(lost))
            each.on_remote_switched = lambda site: self._spawn(self._keyframe(site))
        self.placed: dict[str, JanusRoom] = {}
        """Which instance each site is on."""
        self.keys: dict[str, JanusRoom] = {}
        """Which instance each subscription is on."""
        self.forwards: dict[tuple[str, int], Forward] = {}
        """(site, index of the receiving instance) → what feeds the copy there."""
        self.keep_idle = KEEP_IDLE
        self._routed: dict[tuple[str, int], int] = {}
        """When each forward was last wanted by a route (a count of reconciliations): the idle ones kept."""
        self._turn = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- the interface ---------------------------------------------------------------------------------

    @property
    def alive(self) -> list[JanusRoom]:
        return [each for each in self.rooms if not each.janus.lost]

    @property
    def sources(self) -> Mapping[tuple[str, str], JanusPublication]:
        return {key: pub for each in self.alive for key, pub in each.sources.items()}

    @property
    def subscriptions(self) -> Mapping[str, JanusSubscription]:
        return {key: sub for each in self.alive for key, sub in each.subscriptions.items()}

    def room_of(self, site: str) -> JanusRoom:
        """The instance `site` is on (placed now if it is on none that works)."""
        alive = self.alive
        if not alive:
            raise JanusError("every Janus instance of the meeting is lost")
        placed = self.placed.get(site)
        if placed is None or placed.janus.lost:
            load = {id(each): 0 for each in alive}
            for other in self.placed.values():
                if id(other) in load:
                    load[id(other)] += 1
            placed = min(alive, key=lambda each: load[id(each)])
            self.placed[site] = placed
        return placed

    async def publish(self, owner: str, offer: RTCSessionDescription, *, site: str | None = None
                      ) -> RTCSessionDescription:
        return await self.room_of(site or owner).publish(owner, offer, site=site)

    async def subscribe(self, key: str, slots: Iterable[tuple[str, str]] = (("main", "video"), ("main", "audio")),
                        *, owner: str | None = None, site: str | None = None) -> RTCSessionDescription:
        target = self.room_of(site or owner or key)
        earlier = self.keys.get(key)
        if earlier is not None and earlier is not target:
            await earlier.unsubscribe(key)
        self.keys[key] = target
        return await target.subscribe(key, slots, owner=owner, site=site)

    async def answered(self, key: str, answer: RTCSessionDescription) -> None:
        target = self.keys.get(key)
        if target is None or target.janus.lost:
            raise LookupError(f"no offer to {key} waits for an answer")
        await target.answered(key, answer)

    async def unsubscribe(self, key: str) -> None:
        target = self.keys.pop(key, None)
        if target is not None:
            await target.unsubscribe(key)
            self._spawn(self._reconcile())

    def route(self, key: str, slot: str, publisher: str | None) -> None:
        target = self.keys.get(key)
        if target is not None:
            target.route(key, slot, publisher)
            self._spawn(self._reconcile())

    def follow(self, key: str, publisher: str | None) -> None:
        target = self.keys.get(key)
        if target is not None:
            target.follow(key, publisher)
            self._spawn(self._reconcile())

    async def leave(self, owner: str) -> bool:
        left = [await each.leave(owner) for each in self.alive]
        for key in [key for key, each in self.keys.items() if key not in each.subscriptions]:
            del self.keys[key]
        self._spawn(self._reconcile())
        return any(left)

    async def state(self) -> dict[str, Any]:
        states = [await each.state() for each in self.alive]
        sources = [row for state in states for row in state["sources"]]
        for row in sources:  # a source's receivers on other instances are fed by its forwarded copy there
            site, kind = str(row["site"]), row["kind"]
            row["subscribers"] += sum(
                1 for each in self.alive if site in each.remote and kind in each.remote[site].mids
                for sub in each.subscriptions.values() for stream in sub.tracks.values()
                if stream.feeding == (each.remote[site].feed, each.remote[site].mids[kind]))
        return {"sources": sources, "sites": [row for state in states for row in state["sites"]]}

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for each in self.rooms:
            await each.close()

    # --- forwarding ------------------------------------------------------------------------------------

    def _wanted(self) -> dict[tuple[str, int], tuple[JanusRoom, JanusPublication]]:
        """The forwards the routes need: a site routed on an instance it does not publish on."""
        publishing: dict[str, tuple[JanusRoom, JanusPublication]] = {}
        for each in self.alive:
            for (site, _), pub in each.sources.items():
                if pub.live and pub.state == "connected":
                    publishing[site] = (each, pub)
        wanted = {}
        for index, each in enumerate(self.rooms):
            if each.janus.lost:
                continue
            for sub in each.subscriptions.values():
                for stream in sub.tracks.values():
                    if stream.site in publishing and publishing[stream.site][0] is not each:
                        wanted[(stream.site, index)] = publishing[stream.site]
        return wanted

    def _kept(self, wanted: Mapping[tuple[str, int], tuple[JanusRoom, JanusPublication]]
              ) -> dict[tuple[str, int], tuple[JanusRoom, JanusPublication]]:
        """The forwards to keep: the wanted ones, and per instance the `keep_idle` most recently wanted idle
        ones whose source is still the same live publication."""
        self._turn += 1
        for key in wanted:
            self._routed[key] = self._turn
        live = {pub.site: (each, pub) for each in self.alive for pub in each.sources.values()
                if pub.live and pub.state == "connected"}
        kept = dict(wanted)
        idle = sorted((key for key, forward in self.forwards.items()
                       if key not in wanted and live.get(key[0], (None, None))[1] is forward.pub
                       and not self.rooms[key[1]].janus.lost),
                      key=lambda key: -self._routed.get(key, 0))
        per_instance: dict[int, int] = {}
        for site, index in idle:
            if per_instance.get(index, 0) < self.keep_idle:
                per_instance[index] = per_instance.get(index, 0) + 1
                kept[(site, index)] = live[site]
        for key in [key for key in self._routed if key not in kept]:
            del self._routed[key]
        return kept

    async def _reconcile(self) -> None:
        async with self._lock:
            wanted = self._kept(self._wanted())
            for (site, index), forward in list(self.forwards.items()):
                source_now = wanted.get((site, index))
                if source_now is not None and source_now[1] is forward.pub and not forward.source.janus.lost:
                    continue
                del self.forwards[(site, index)]
                target = self.rooms[index]
                if not target.janus.lost:
                    await target.drop_remote(site)
                if not forward.source.janus.lost:
                    await forward.source.unforward(forward.pub, forward.remote_id)
            for (site, index), (source, pub) in wanted.items():
                if (site, index) in self.forwards:
                    continue
                target, remote_id = self.rooms[index], f"ecab-{site}-{index}-{secrets.token_hex(3)}"
                try:
                    feed, host, port, rtcp_port = await target.add_remote(pub)
                    await source.forward(pub, remote_id, host, port, rtcp_port)
                    await target.receive_remote(site, feed, pub)
                except JanusError:
                    log.warning("forwarding site %s to %s failed", site, target.url, exc_info=True)
                    await target.drop_remote(site)
                    continue
                self.forwards[(site, index)] = Forward(source, pub, remote_id)

    async def _keyframe(self, site: str) -> None:
        """A receiver elsewhere was switched to `site`'s forwarded copy: `site` is asked for a keyframe."""
        for each in self.alive:
            pub = each.live_publication(site)
            if pub is not None:
                await each.request_keyframe(pub)
                return

    def _sources_changed(self) -> None:
        self._spawn(self._reconcile())
        if self.on_sources is not None:
            self.on_sources()

    async def _lost(self, lost: JanusRoom) -> None:
        """`lost` died: forget what it held, stop forwarding from and to it, tell its connections to come back
        (they are placed on the instances left)."""
        owners = lost.forget()
        for site in [site for site, each in self.placed.items() if each is lost]:
            del self.placed[site]
        for key in [key for key, each in self.keys.items() if each is lost]:
            del self.keys[key]
        await self._reconcile()
        if self.on_sources is not None:
            self.on_sources()
        if self.on_moved is not None:
            for owner in owners:
                self.on_moved(owner)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
