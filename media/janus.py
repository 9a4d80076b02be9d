"""Janus (its VideoRoom plugin) as the media backend of a meeting, driven over Janus's HTTP API with
long-polling for its events. The same interface as the aiortc relay (media/backend.py):

- a site's publication is a VideoRoom publisher: the site's offer goes to Janus (`joinandconfigure`),
  Janus's answer comes back; it goes on the air when Janus says its connection is up (`webrtcup`), and
  only then replaces the site's publication before (as the relay does);
- what a connection receives is one VideoRoom subscriber handle with one m-line per (slot, kind), each
  fed at first by the room's dummy publisher (placeholder streams that send nothing: a slot nobody
  fills stays dark); Janus's offer goes to the site, the site's answer goes back with `start`;
- `route` (the floor or the chair moves) is a `switch` of the subscriber's m-lines to another
  publisher's streams: no new offer, no renegotiation. Before a publication is taken down, whatever
  it fed is switched back to the dummy publisher, so the m-line never goes inactive; when Janus hangs
  a publication up first (its site's connection died), the renegotiation it then asks of the m-lines
  it fed is answered for the receiving site with the site's own answer (`_reanswer`).

One Janus session per meeting; one room per meeting (its id is the meeting's). Nothing here imports
from the backend package."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiortc import RTCSessionDescription

log = logging.getLogger("ecabinet.media.janus")

CONNECT_TIMEOUT_S = 20.0  # as the relay: a peer connection not up by then is released
REQUEST_TIMEOUT_S = 15.0
POLL_S = 30.0  # Janus holds a long poll this long at most (and a poll keeps the session alive)
PUBLISHERS = 500  # room size: a national session's sites and room to spare
_MID = re.compile(r"^a=mid:(\S+)$", re.M)


class JanusError(RuntimeError):
    """Janus refused a request (its error code and text), or did not answer in time."""


def offer_mids(sdp: str) -> dict[str, str]:
    """The mid of the first audio and the first video m-line of a description."""
    mids: dict[str, str] = {}
    for section in re.split(r"\r?\n(?=m=)", sdp)[1:]:
        kind = section[2:].split(" ", 1)[0]
        found = _MID.search(section.replace("\r\n", "\n"))
        if found and kind in ("audio", "video") and kind not in mids:
            mids[kind] = found[1]
    return mids


def offer_kinds(sdp: str) -> list[str]:
    """The kind of every m-line of a description, in order (the publisher's stream index is its place)."""
    return [section[2:].split(" ", 1)[0] for section in re.split(r"\r?\n(?=m=)", sdp)[1:]]


class JanusSession:
    """One Janus session over HTTP: requests, and a long poll that hands each event either to the request
    that waits for it (same transaction) or to `on_event(handle, event)`."""

    def __init__(self, url: str, on_event: Callable[[int, dict[str, Any]], None],
                 on_lost: Callable[[], None] | None = None) -> None:
        self.url = url.rstrip("/")
        self.on_event, self.on_lost = on_event, on_lost
        self.id: int | None = None
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(REQUEST_TIMEOUT_S, read=POLL_S + 10))
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._poll: asyncio.Task[None] | None = None
        self.lost = False

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": body.get("transaction") or secrets.token_hex(8)}
        try:
            reply: dict[str, Any] = (await self.http.post(f"{self.url}{path}", json=body)).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JanusError(f"Janus at {self.url} does not answer: {exc!r}") from exc
        if reply.get("janus") == "error":
            raise JanusError(f"Janus: {reply['error'].get('code')} {reply['error'].get('reason')}")
        return reply

    async def open(self) -> None:
        self.id = int((await self._post("", {"janus": "create"}))["data"]["id"])
        self._poll = asyncio.ensure_future(self._polling())

    async def attach(self) -> int:
        reply = await self._post(f"/{self.id}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        return int(reply["data"]["id"])

    async def detach(self, handle: int) -> None:
        try:
            await self._post(f"/{self.id}/{handle}", {"janus": "detach"})
        except JanusError:  # already gone (its peer connection hung up, or Janus is)
            log.debug("detach of %s", handle, exc_info=True)

    async def message(self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None
                      ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A VideoRoom request: (the plugin's data, its JSEP if any), from the immediate answer or from the
        event that follows the ack. JanusError when the plugin says error."""
        return await self._outcome(await self._queue(handle, body, jsep))

    async def pipeline(self, handle: int, bodies: list[dict[str, Any]]
                       ) -> list[tuple[dict[str, Any], dict[str, Any] | None] | JanusError]:
        """Several requests to one handle queued at once, each posted when the one before is acked: VideoRoom
        handles them one after the other on its one handler thread, with nothing of ours in between. Each
        one's outcome in order (a JanusError for a refused one; the others still ran)."""
        queued: list[tuple[str, str, asyncio.Future[dict[str, Any]]]] = []
        try:
            for body in bodies:
                queued.append(await self._queue(handle, body))
        except JanusError:  # one not taken (Janus unreachable): nobody will wait for the ones before it
            for _, transaction, _ in queued:
                self._waiting.pop(transaction, None)
            raise
        outcomes: list[tuple[dict[str, Any], dict[str, Any] | None] | JanusError] = []
        for each in queued:
            try:
                outcomes.append(await self._outcome(each))
            except JanusError as exc:
                outcomes.append(exc)
        return outcomes

    async def _queue(self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None
                     ) -> tuple[str, str, asyncio.Future[dict[str, Any]]]:
        """Posts a request and returns once Janus has taken it: its name, its transaction and the event (or
        answer) to come."""
        transaction = secrets.token_hex(8)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = waiter
        message: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            message["jsep"] = jsep
        log.debug("-> %s %s %s", self.url, handle, body)
        try:
            reply = await self._post(f"/{self.id}/{handle}", message)
        except JanusError:
            self._waiting.pop(transaction, None)
            raise
        if reply.get("janus") != "ack":
            self._waiting.pop(transaction, None)
            waiter.set_result(reply)
        return str(body.get("request")), transaction, waiter

    async def _outcome(self, queued: tuple[str, str, asyncio.Future[dict[str, Any]]]
                       ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        request, transaction, waiter = queued
        try:
            event = await asyncio.wait_for(waiter, REQUEST_TIMEOUT_S)
        except TimeoutError as exc:
            raise JanusError(f"Janus did not answer {request!r} in time") from exc
        finally:
            self._waiting.pop(transaction, None)
        data: dict[str, Any] = event.get("plugindata", {}).get("data", {})
        log.debug("<- %s %s %s", self.url, request, data)
        if "error" in data or event.get("janus") == "error":
            raise JanusError(f"VideoRoom: {data.get('error_code')} {data.get('error') or event.get('error')}")
        return data, event.get("jsep")

    async def _polling(self) -> None:
        failures = 0
        while True:
            try:
                reply = await self.http.get(f"{self.url}/{self.id}", params={"maxev": 10})
                events = reply.json()
                failures = 0
            except (httpx.HTTPError, ValueError):
                failures += 1
                if failures >= 2:  # Janus is gone (or the session expired): whoever uses it moves on
                    self.lost = True
                    log.warning("Janus at %s is lost", self.url)
                    for waiter in self._waiting.values():
                        if not waiter.done():
                            waiter.set_exception(JanusError(f"Janus at {self.url} is lost"))
                    if self.on_lost is not None:
                        self.on_lost()
                    return
                await asyncio.sleep(0.2)
                continue
            for event in events if isinstance(events, list) else [events]:
                if event.get("janus") == "keepalive":
                    continue
                log.debug("event %s %s", self.url, event)
                pending = self._waiting.get(event.get("transaction", ""))
                if pending is not None and not pending.done() and event.get("janus") == "event":
                    pending.set_result(event)
                elif "sender" in event:
                    self.on_event(int(event["sender"]), event)

    async def close(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
        if self.id is not None and not self.lost:
            try:
                await self._post(f"/{self.id}", {"janus": "destroy"})
            except JanusError:
                pass
        await self.http.aclose()


@dataclass(eq=False)
class JanusPublication:
    owner: str
    site: str
    handle: int
    feed: int
    """The publisher's id in the room."""
    mids: dict[str, str]
    """Its streams' mids by kind (from the site's offer)."""
    kinds: list[str] = field(default_factory=list)
    """Every m-line's kind, in the offer's order (what a remote copy of it on another instance declares)."""
    live: bool = False
    state: str = "new"
    """"new", "connected" (Janus: webrtcup) or "closed" (hangup)."""
    _expiry: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class JanusStream:
    """One m-line of a subscription: which site it is routed to, which publisher stream feeds it now."""

    kind: str
    sub_mid: str
    feeding: tuple[int, str]
    site: str | None = None
    forwarded: int = 0  # what the relay counts; Janus keeps its own figures (Admin API), not read here
    dropped: int = 0


@dataclass(eq=False)
class JanusSubscription:
    key: str
    owner: str
    site: str
    handle: int
    tracks: dict[tuple[str, str], JanusStream]
    answered: bool = False
    answer: str = ""
    """The site's answer: also its answer to Janus's renegotiations that change no m-line (`_reanswer`)."""
    state: str = "new"
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _expiry: asyncio.TimerHandle | None = None


_NONE = JanusPublication("", "", 0, 0, {})


class JanusRoom:
    """A meeting's media on one Janus instance (see the module's doc)."""

    def __init__(self, url: str, room: int, *, video_codec: str | None = None,
                 on_sources: Callable[[], None] | None = None,
                 on_replaced: Callable[[str, str], None] | None = None) -> None:
        self.url, self.room = url, room
        self.video_codec = (video_codec or "VP8").lower()
        self.on_sources, self.on_replaced = on_sources, on_replaced
        self.on_remote_switched: Callable[[str], None] | None = None
        """Told a site whose forwarded copy here a receiver was just switched to (it needs a keyframe)."""
        self.connect_timeout = CONNECT_TIMEOUT_S
        self.janus = JanusSession(url, self._event)
        self.sources: dict[tuple[str, str], JanusPublication] = {}
        self.remote: dict[str, JanusPublication] = {}
        """Sites published on another instance and forwarded here (VideoRoom remote publishers), by site."""
        self.publications: list[JanusPublication] = []
        self.subscriptions: dict[str, JanusSubscription] = {}
        self.dummy: int | None = None
        self.dummy_mids = {"audio": "0", "video": "1"}  # the dummy's streams: one per room codec, audio first
        self._control: int | None = None
        self._ready_lock = asyncio.Lock()
        self._feeds = itertools.count(1000)
        self._tasks: set[asyncio.Task[None]] = set()

    async def _ready(self) -> None:
        async with self._ready_lock:
            if self._control is not None:
                return
            await self.janus.open()
            control = await self.janus.attach()
            room = {"room": self.room}
            try:  # a room left by an earlier run of e-Cabinet would hold stale publishers
                await self.janus.message(control, {"request": "destroy", **room})
            except JanusError:
                pass
            await self.janus.message(control, {
                "request": "create", **room, "publishers": PUBLISHERS, "permanent": False,
                "audiocodec": "opus", "videocodec": self.video_codec, "dummy_publisher": True,
                "notify_joining": False})
            listed, _ = await self.janus.message(control, {"request": "listparticipants", **room})
            self.dummy = next(int(p["id"]) for p in listed["participants"] if p.get("display") == "Dummy publisher")
            self._control = control

    # --- publications ------------------------------------------------------------------------------

    def live_publication(self, site: str) -> JanusPublication | None:
        return next((pub for pub in self.publications if pub.site == site and pub.live), None)

    async def publish(self, owner: str, offer: RTCSessionDescription, *, site: str | None = None
                      ) -> RTCSessionDescription:
        await self._ready()
        for earlier in [pub for pub in self.publications if pub.owner == owner and not pub.live]:
            await self._drop_publication(earlier)
        handle = await self.janus.attach()
        pub = JanusPublication(owner, site or owner, handle, next(self._feeds), offer_mids(offer.sdp),
                               offer_kinds(offer.sdp))
        try:
            _, answer = await self.janus.message(handle, {
                "request": "joinandconfigure", "ptype": "publisher", "room": self.room, "id": pub.feed,
                "display": pub.site, "audio": True, "video": True}, {"type": "offer", "sdp": offer.sdp})
            if answer is None:
                raise JanusError("Janus gave no answer to the offer")
        except BaseException:
            await self.janus.detach(handle)
            raise
        self.publications.append(pub)
        pub._expiry = self._expire(lambda: pub.state == "connected", lambda: self._drop_publication(pub))
        return RTCSessionDescription(answer["sdp"], "answer")

    async def _go_live(self, pub: JanusPublication) -> None:
        if pub.live or pub not in self.publications:
            return
        before = self.live_publication(pub.site)
        pub.live = True
        for kind in ("video", "audio"):
            if kind in pub.mids:
                self.sources[(pub.site, kind)] = pub
            else:
                self.sources.pop((pub.site, kind), None)
        await self._reroute(lambda stream: stream.site == pub.site)
        if before is not None:
            before.live = False
            await self._drop_publication(before)
            if before.owner != pub.owner and self.on_replaced is not None:
                self.on_replaced(before.owner, pub.site)
        if self.on_sources is not None:
            self.on_sources()

    async def _drop_publication(self, pub: JanusPublication) -> None:
        if pub not in self.publications:
            return
        self.publications.remove(pub)
        if pub._expiry is not None:
            pub._expiry.cancel()
        was_on_air = False
        for key in [k for k, v in self.sources.items() if v is pub]:
            del self.sources[key]
            was_on_air = True
        # Whatever it fed goes back to the dummy first: Janus would turn those m-lines inactive otherwise.
        await self._reroute(lambda stream: stream.feeding[0] == pub.feed)
        await self.janus.detach(pub.handle)
        if was_on_air and self.on_sources is not None:
            self.on_sources()

    # --- subscriptions -----------------------------------------------------------------------------

    async def subscribe(self, key: str, slots: Iterable[tuple[str, str]] = (("main", "video"), ("main", "audio")),
                        *, owner: str | None = None, site: str | None = None) -> RTCSessionDescription:
        await self._ready()
        assert self.dummy is not None
        previous = self.subscriptions.get(key)
        if previous is not None:
            await self._drop_subscription(previous)
        slots = list(slots)
        handle = await self.janus.attach()
        try:
            data, offer = await self.janus.message(handle, {
                "request": "join", "ptype": "subscriber", "room": self.room, "autoupdate": False,
                "streams": [{"feed": self.dummy, "mid": self.dummy_mids[kind]} for _, kind in slots]})
            streams = sorted(data.get("streams", []), key=lambda s: int(s["mindex"]))
            if offer is None or len(streams) != len(slots):
                raise JanusError(f"Janus offered {len(streams)} streams for {len(slots)} slots")
        except BaseException:
            await self.janus.detach(handle)
            raise
        tracks = {(slot, kind): JanusStream(kind, str(stream["mid"]), (self.dummy, self.dummy_mids[kind]))
                  for (slot, kind), stream in zip(slots, streams, strict=True)}
        sub = JanusSubscription(key, owner or key, site or owner or key, handle, tracks)
        self.subscriptions[key] = sub
        sub._expiry = self._expire(lambda: sub.state == "connected", lambda: self._drop_subscription(sub))
        return RTCSessionDescription(offer["sdp"], "offer")

    async def answered(self, key: str, answer: RTCSessionDescription) -> None:
        sub = self.subscriptions.get(key)
        if sub is None or sub.answered:
            raise LookupError(f"no offer to {key} waits for an answer")
        try:
            await self.janus.message(sub.handle, {"request": "start"}, {"type": "answer", "sdp": answer.sdp})
        except JanusError as exc:
            await self._drop_subscription(sub)
            raise ValueError(str(exc)) from exc
        sub.answered, sub.answer = True, answer.sdp
        await self._switch(sub)

    async def unsubscribe(self, key: str) -> None:
        sub = self.subscriptions.get(key)
        if sub is not None:
            await self._drop_subscription(sub)

    async def _drop_subscription(self, sub: JanusSubscription) -> None:
        if self.subscriptions.get(sub.key) is not sub:
            return
        del self.subscriptions[sub.key]
        if sub._expiry is not None:
            sub._expiry.cancel()
        await self.janus.detach(sub.handle)

    def route(self, key: str, slot: str, publisher: str | None) -> None:
        """What `key` receives in `slot` from now on; the switch is sent to Janus at once (in a task)."""
        sub = self.subscriptions.get(key)
        if sub is None:
            return
        changed = False
        for (name, _), stream in sub.tracks.items():
            if name == slot and stream.site != publisher:
                stream.site, changed = publisher, True
        if changed:
            self._spawn(self._switch(sub))

    def follow(self, key: str, publisher: str | None) -> None:
        sub = self.subscriptions.get(key)
        for slot in {name for name, _ in (sub.tracks if sub else {})}:
            self.route(key, slot, publisher)

    def _target(self, stream: JanusStream) -> tuple[int, str]:
        assert self.dummy is not None
        pub = self.sources.get((stream.site, stream.kind)) if stream.site is not None else None
        if pub is None and stream.site is not None and stream.kind in self.remote.get(stream.site, _NONE).mids:
            pub = self.remote[stream.site]
        if pub is not None and pub.state == "connected":
            return pub.feed, pub.mids[stream.kind]
        return self.dummy, self.dummy_mids[stream.kind]

    async def _switch(self, sub: JanusSubscription) -> None:
        """Sends Janus the switches that make `sub`'s m-lines follow their routes (nothing if they do)."""
        async with sub._lock:
            if self.subscriptions.get(sub.key) is not sub or not sub.answered:
                return  # switches wait for the site's answer (`answered` sends them): Janus starts no stream before
            for attempt in range(3):
                changes = [(stream, self._target(stream)) for stream in sub.tracks.values()
                           if self._target(stream) != stream.feeding]
                if not changes:
                    return
                try:
                    await self._switch_streams(sub, changes)
                    break
                except JanusError:
                    # A forwarded copy removed while the switch to it was on its way ("no such feed"): the
                    # targets are worked out again (the copy is gone from `remote` by then).
                    log.info("switch of %s refused (attempt %d)", sub.key, attempt + 1, exc_info=True)
                    if self.subscriptions.get(sub.key) is not sub:
                        return
                    await asyncio.sleep(0.05)
            else:
                return
            for stream, target in changes:
                stream.feeding = target
            # A receiver switched to a forwarded copy (or newly connected to one, `webrtcup`) needs a
            # keyframe from the site itself: besides the copy's own request (a PLI by RTCP back to the
            # forwarder, which Janus 1.1.2 latches at once), the source instance is asked directly
            # (`request_keyframe`), as the copy's request is one a second at most.
            self._remote_switched(feed for _, (feed, _) in changes)

    async def _switch_streams(self, sub: JanusSubscription, changes: list[tuple[JanusStream, tuple[int, str]]]
                              ) -> None:
        """One `switch` request. A switch to a forwarded copy is made while the subscription is paused, and
        its `start` after renumbers the packets: every copy of a site's stream, whichever site it is,
        reaches the receiving instance with the same SSRC (a remote publisher's streams are told apart by
        their SSRC: 1000 + 10 x mindex), so Janus's subscriber does not see a new source, and carries the
        new copy's sequence numbers over unchanged; the receiver took them for a jump (its SRTP dropped
        them as replayed or too old) and saw nothing until the numbers came back in range (seconds)."""
        copies = {pub.feed for pub in self.remote.values()}
        switch = {"request": "switch", "streams": [
            {"feed": feed, "mid": mid, "sub_mid": stream.sub_mid} for stream, (feed, mid) in changes]}
        if not any(feed in copies for _, (feed, _) in changes):
            data, jsep = await self.janus.message(sub.handle, switch)
        else:
            # The three are queued at once, so that Janus starts the subscription again microseconds after the
            # switch: the switch asks the copy's site for a keyframe, which comes back in tens of milliseconds
            # and would be dropped by a subscription still paused, and Janus asks again only a second later.
            try:
                pause, switched, start = await self.janus.pipeline(sub.handle, [{"request": "pause"}, switch,
                                                                                {"request": "start"}])
            except JanusError:  # not all three were taken: the subscription must not stay paused
                with contextlib.suppress(JanusError):
                    await self.janus.message(sub.handle, {"request": "start"})
                raise
            for outcome in (switched, pause, start):
                if isinstance(outcome, JanusError):
                    raise outcome  # the switch is tried again (`_switch`)
            assert not isinstance(switched, JanusError)
            data, jsep = switched
        if data.get("videoroom") == "updated" and jsep is not None:
            await self._reanswer(sub, jsep)

    async def _reanswer(self, sub: JanusSubscription, offer: dict[str, str]) -> None:
        """Janus asks to renegotiate `sub`: a site published on it hung up before its receivers were switched
        away (its peer connection died without leaving), Janus turned their m-lines inactive, and the next
        switch of such an m-line turns it active again with a new offer. That offer has the m-lines (mids,
        directions, ICE and DTLS) of the first one: the site never saw the m-line go inactive and would
        answer as it did, so its first answer is sent back to Janus as the answer, and the site is not asked."""
        if offer.get("type") != "offer" or _MID.findall(offer["sdp"].replace("\r\n", "\n")) != \
                _MID.findall(sub.answer.replace("\r\n", "\n")):
            log.warning("Janus renegotiates %s with other m-lines: not carried to the site", sub.key)
            return
        await self.janus.message(sub.handle, {"request": "start"}, {"type": "answer", "sdp": sub.answer})

    async def _renegotiated(self, sub: JanusSubscription, offer: dict[str, str]) -> None:
        """A renegotiation Janus asked for on its own (not as the answer to a switch)."""
        async with sub._lock:
            if self.subscriptions.get(sub.key) is sub and sub.answered:
                try:
                    await self._reanswer(sub, offer)
                except JanusError:
                    log.info("renegotiation of %s refused", sub.key, exc_info=True)

    def _remote_switched(self, feeds: Iterable[int]) -> None:
        """Tells whoever forwards here which sites' copies a receiver was switched to or connected to."""
        remote = {pub.feed: site for site, pub in self.remote.items()}
        for site in sorted({remote[feed] for feed in feeds if feed in remote}):
            if self.on_remote_switched is not None:
                self.on_remote_switched(site)

    async def _reroute(self, which: Callable[[JanusStream], bool]) -> None:
        # All at once: a floor change moves every receiver, and each switch is a few requests to Janus.
        await asyncio.gather(*(self._switch(sub) for sub in list(self.subscriptions.values())
                               if any(which(stream) for stream in sub.tracks.values())))

    # --- Janus's events ----------------------------------------------------------------------------

    def _event(self, handle: int, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        pub = next((p for p in self.publications if p.handle == handle), None)
        sub = next((s for s in self.subscriptions.values() if s.handle == handle), None)
        if kind == "webrtcup":
            if pub is not None:
                pub.state = "connected"
                self._spawn(self._go_live(pub))
            if sub is not None:
                sub.state = "connected"
                self._remote_switched(stream.feeding[0] for stream in sub.tracks.values())
        elif kind == "event" and sub is not None and event.get("jsep") is not None and \
                event.get("plugindata", {}).get("data", {}).get("videoroom") == "updated":
            self._spawn(self._renegotiated(sub, event["jsep"]))
        elif kind in ("hangup", "detached"):
            if pub is not None:
                pub.state = "closed"
                self._spawn(self._drop_publication(pub))
            if sub is not None:
                sub.state = "closed"
                self._spawn(self._drop_subscription(sub))

    def _expire(self, up: Callable[[], bool], drop: Callable[[], Awaitable[None]]) -> asyncio.TimerHandle:
        def check() -> None:
            if not up():
                self._spawn(drop())
        return asyncio.get_running_loop().call_later(self.connect_timeout, check)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- forwarding between instances (media/janus_conference.py drives it) -------------------------

    @property
    def media_host(self) -> str:
        """Where another instance sends what it forwards here when Janus names no address: its API's host."""
        return httpx.URL(self.url).host

    async def add_remote(self, source: JanusPublication) -> tuple[int, str, int, int]:
        """Declares `source` (a publication on another instance) here as a remote publisher: (its feed
        here, the address and the RTP and RTCP ports the source instance must forward to)."""
        await self._ready()
        assert self._control is not None
        codecs = {"audio": "opus", "video": self.video_codec}
        streams = [{"type": kind if kind in codecs else "data", "mindex": index, "mid": str(index),
                    **({"codec": codecs[kind]} if kind in codecs else {})}
                   for index, kind in enumerate(source.kinds)]
        feed = next(self._feeds)
        data, _ = await self.janus.message(self._control, {
            "request": "add_remote_publisher", "room": self.room, "id": feed, "display": source.site,
            "iface": self.media_host, "streams": streams})
        return feed, str(data.get("ip") or self.media_host), int(data["port"]), int(data["rtcp_port"])

    async def forward(self, pub: JanusPublication, remote_id: str, host: str, port: int, rtcp_port: int) -> None:
        """This instance's publication `pub` forwarded (plain RTP, RTCP back for keyframe requests)."""
        await self.janus.message(self._control or 0, {
            "request": "publish_remotely", "room": self.room, "publisher_id": pub.feed, "remote_id": remote_id,
            "host": host, "port": port, "rtcp_port": rtcp_port})

    async def request_keyframe(self, pub: JanusPublication) -> None:
        """Asks the site of this instance's publication `pub` for a keyframe (VideoRoom `configure`)."""
        try:
            await self.janus.message(pub.handle, {"request": "configure", "keyframe": True})
        except JanusError:
            log.debug("keyframe request to %s", pub.site, exc_info=True)

    async def unforward(self, pub: JanusPublication, remote_id: str) -> None:
        try:
            await self.janus.message(self._control or 0, {
                "request": "unpublish_remotely", "room": self.room, "publisher_id": pub.feed, "remote_id": remote_id})
        except JanusError:  # the publisher is gone already, and its forwarders with it
            log.debug("unpublish_remotely of %s", remote_id, exc_info=True)

    async def receive_remote(self, site: str, feed: int, source: JanusPublication) -> None:
        """What routes to `site` here is fed from now on by the remote publisher `feed` (a copy of `source`)."""
        self.remote[site] = JanusPublication("", site, 0, feed, {kind: str(index) for index, kind in
                                                                   reversed(list(enumerate(source.kinds)))},
                                             list(source.kinds), live=True, state="connected")
        await self._reroute(lambda stream: stream.site == site)

    async def drop_remote(self, site: str) -> None:
        """The forwarded copy of `site` goes: what it fed goes back to the dummy first, then it is removed."""
        pub = self.remote.pop(site, None)
        if pub is None or self._control is None:
            return
        await self._reroute(lambda stream: stream.feeding[0] == pub.feed)
        try:
            await self.janus.message(self._control, {"request": "remove_remote_publisher", "room": self.room,
                                                     "id": pub.feed})
        except JanusError:
            log.debug("remove_remote_publisher of %s", pub.feed, exc_info=True)

    def forget(self) -> list[str]:
        """The instance is lost: everything on it is dropped here without asking it (the owners it held)."""
        owners = {*(pub.owner for pub in self.publications), *(sub.owner for sub in self.subscriptions.values())}
        for expiry in [*(pub._expiry for pub in self.publications),
                       *(sub._expiry for sub in self.subscriptions.values())]:
            if expiry is not None:
                expiry.cancel()
        self.publications.clear()
        self.sources.clear()
        self.subscriptions.clear()
        self.remote.clear()
        return sorted(owners)

    async def leave(self, owner: str) -> bool:
        pubs = [pub for pub in self.publications if pub.owner == owner]
        subs = [sub for sub in self.subscriptions.values() if sub.owner == owner]
        for pub in pubs:
            await self._drop_publication(pub)
        for sub in subs:
            await self._drop_subscription(sub)
        return bool(pubs or subs)

    async def state(self) -> dict[str, Any]:
        """The control room's figures as far as e-Cabinet knows them without Janus's Admin API: the
        connections' states, no bitrate, loss or round trip."""
        named = {*(pub.site for pub in self.publications), *(sub.site for sub in self.subscriptions.values())}
        sites = []
        for site in sorted(named):
            pubs = [pub for pub in self.publications if pub.site == site]
            subs = [sub for sub in self.subscriptions.values() if sub.site == site]
            publishing = next((pub for pub in pubs if pub.live), pubs[-1] if pubs else None)
            receiving = next((sub for sub in subs if sub.state == "connected"), subs[-1] if subs else None)
            sites.append({"site": site, "publishing": publishing.state if publishing else None,
                          "receiving": receiving.state if receiving else None, "connections": len(pubs) + len(subs),
                          "bitrate_kbps": None, "packets_lost": 0, "rtt_ms": None,
                          "frames_forwarded": 0, "frames_dropped": 0})
        sources = [{"site": int(site), "kind": kind, "frames_in": 0, "keyframes_in": 0, "keyframe_requests": 0,
                    "subscribers": sum(1 for sub in self.subscriptions.values() for s in sub.tracks.values()
                                       if s.feeding == (pub.feed, pub.mids.get(kind)))}
                   for (site, kind), pub in self.sources.items() if site.isdigit()]
        return {"sources": sources, "sites": sites}

    async def close(self) -> None:
        for owner in {*(pub.owner for pub in self.publications), *(sub.owner for sub in self.subscriptions.values())}:
            await self.leave(owner)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._control is not None:
            try:
                await self.janus.message(self._control, {"request": "destroy", "room": self.room})
            except JanusError:
                pass
        await self.janus.close()
