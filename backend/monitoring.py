"""What an operator watches: Prometheus metrics at `/metrics` and one log line per request.

Each process has its own registry (`Metrics`), and `/metrics` shows that process only. `ecabinet serve
--workers N` runs N processes on consecutive ports, so Prometheus scrapes each worker's port (and each
relay's) as a target of its own, straight, not through nginx: no prometheus_client multiprocess mode,
whose shared files must be wiped at every start, cannot hold the figures read at scrape time (sockets
per meeting, the database pool, the relay's streams) and keep counters of dead workers around. A
restarted worker's counters start again from zero, which `rate()` and `increase()` already handle.

`/metrics` answers only callers from `ECABINET_METRICS_ADDRESSES` (loopback by default) that came
straight (no X-Forwarded-For unless ECABINET_TRUSTED_PROXIES names the proxy), or that present
`Authorization: Bearer <ECABINET_METRICS_TOKEN>`; everyone else gets 404, as for a page that does not
exist. Labels are bounded: HTTP by route template, never the raw path; events by declared name."""

from __future__ import annotations

import asyncio
import gc
import hmac
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend import gc_policy
from backend.config import Settings

access_log = logging.getLogger("ecabinet.access")
disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin of every counter: Prometheus does not need it

USER_KEY = "ecabinet.user_id"
"""Where the REST layer leaves the caller's user id in the request's scope (for the request's log line)."""
ERROR_KEY = "ecabinet.error"
"""Where the error handlers leave the error code of a refused request."""
_CONVERTER = re.compile(r":\w+}")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_FORWARDED = (b"x-forwarded-for", b"forwarded", b"x-real-ip")
# Seconds: from a cached read (1 ms) to a meeting book (tens of seconds).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
EVENT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class Metrics:
    """The process's metrics. The figures that exist only as state (sockets, pool, relay) are read when
    scraped (`LiveFigures`, `refresh`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter("ecabinet_http_requests", "HTTP requests answered, by route template and status",
                                     ["method", "route", "status"], registry=r)
        self.http_seconds = Histogram("ecabinet_http_request_duration_seconds",
                                      "Time to answer an HTTP request, by route template", ["method", "route"],
                                      buckets=HTTP_BUCKETS, registry=r)
        self.events = Counter("ecabinet_socketio_events", "Socket.IO events handled, by name and outcome "
                              "(ok, or the error code of the refusal)", ["event", "outcome"], registry=r)
        self.event_seconds = Histogram("ecabinet_socketio_event_duration_seconds",
                                       "Time to handle a Socket.IO event up to its ack, by name", ["event"],
                                       buckets=EVENT_BUCKETS, registry=r)
        self.connects = Counter("ecabinet_socketio_connects", "Socket.IO connections, accepted or refused",
                                ["namespace", "outcome"], registry=r)
        self.disconnects = Counter("ecabinet_socketio_disconnects", "Socket.IO connections that ended",
                                   ["namespace"], registry=r)
        self.redis_errors = Counter("ecabinet_redis_errors", "Redis operations of the Socket.IO fan-out that "
                                    "failed (publish, receive)", ["operation"], registry=r)
        self.pubsub_published = Counter("ecabinet_redis_pubsub_published", "Messages this process published to "
                                        "the Socket.IO channel", registry=r)
        self.pubsub_received = Counter("ecabinet_redis_pubsub_received", "Messages this process received from "
                                       "the Socket.IO channel (its own included)", registry=r)
        self.pubsub_lag = Histogram("ecabinet_redis_pubsub_lag_seconds", "From a message's publication (its "
                                    "sender's clock) to its receipt here", buckets=LAG_BUCKETS, registry=r)
        self.pubsub_connected = Gauge("ecabinet_redis_pubsub_connected", "1 while the Socket.IO channel's "
                                      "subscription is up, 0 after a receive error until it is back", registry=r)
        self.redis_up = Gauge("ecabinet_redis_up", "1 if Redis answered a ping at this scrape (absent without "
                              "REDIS_URL)", registry=r)
        self.database_up = Gauge("ecabinet_database_up", "1 if the database answered at this scrape", registry=r)
        self.relay_bitrate = Gauge("ecabinet_relay_site_bitrate_kbps", "Bitrate a site sends the relay, kbit/s",
                                   ["meeting", "site"], registry=r)
        self.relay_lost = Gauge("ecabinet_relay_site_packets_lost", "Packets a site sent that were lost",
                                ["meeting", "site"], registry=r)

        r.register(GcFigures())

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))


class LiveFigures(Collector):
    """Gauges read from the process's state at each scrape: Socket.IO sockets (per meeting), the
    database pool, the PDF sandbox pools and the relay's streams. Each source is a callable returning
    the current figures (None: not in this process)."""

    def __init__(self, *, rooms: Callable[[], dict[Any, Any] | None], pool: Callable[[], Any],
                 sandboxes: Callable[[], dict[str, Any]], relays: Callable[[], dict[int, Any] | None]) -> None:
        self.rooms, self.pool, self.sandboxes, self.relays = rooms, pool, sandboxes, relays

    def describe(self) -> list[GaugeMetricFamily]:
        """Nothing ahead of time: the figures exist only while the process runs (read in its event loop)."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._sockets()
        yield from self._pool()
        yield from self._sandbox()
        yield from self._relay()

    def _sockets(self) -> Iterable[GaugeMetricFamily]:
        rooms = self.rooms()
        if rooms is None:
            return
        total = GaugeMetricFamily("ecabinet_socketio_sockets", "Socket.IO connections on this process")
        per_meeting = GaugeMetricFamily("ecabinet_socketio_meeting_sockets",
                                        "Connections on this process in a meeting's room", labels=["meeting"])
        total.add_metric([], len(rooms.get(None, ())))
        for room, members in list(rooms.items()):
            if isinstance(room, str) and room.startswith("meeting:") and room[8:].isdigit():
                per_meeting.add_metric([room[8:]], len(members))
        yield total
        yield per_meeting

    def _pool(self) -> Iterable[GaugeMetricFamily]:
        pool = self.pool()
        figures = {"checked_out": "checkedout", "size": "size", "overflow": "overflow"}
        family = GaugeMetricFamily("ecabinet_db_pool_connections", "The database pool's connections: checked out "
                                   "(in use), size (kept open), overflow (beyond size)", labels=["state"])
        for label, method in figures.items():
            read = getattr(pool, method, None)
            if callable(read):
                family.add_metric([label], float(read()))
        yield family

    def _sandbox(self) -> Iterable[GaugeMetricFamily]:
        busy = GaugeMetricFamily("ecabinet_pdf_sandbox_admitted", "PDF jobs running or waiting, by pool",
                                 labels=["pool"])
        slots = GaugeMetricFamily("ecabinet_pdf_sandbox_slots", "PDF sandbox slots, by pool", labels=["pool"])
        for name, pool in self.sandboxes().items():
            busy.add_metric([name], float(pool.admitted))
            slots.add_metric([name], float(pool.slots))
        yield busy
        yield slots

    def _relay(self) -> Iterable[GaugeMetricFamily]:
        relays = self.relays()
        if relays is None:
            return
        streams = GaugeMetricFamily("ecabinet_relay_streams", "Sources (a site's audio or video) on the air",
                                    labels=["meeting"])
        peers = GaugeMetricFamily("ecabinet_relay_peer_connections", "Peer connections the relay holds",
                                  labels=["meeting"])
        forwarded = GaugeMetricFamily("ecabinet_relay_frames_forwarded", "Frames forwarded to the sites connected "
                                      "now (falls when a site leaves)", labels=["meeting"])
        dropped = GaugeMetricFamily("ecabinet_relay_frames_dropped", "Frames dropped for slow sites connected "
                                    "now (falls when a site leaves)", labels=["meeting"])
        for meeting_id, relay in list(relays.items()):
            label = [str(meeting_id)]
            tracks = [t for sub in list(relay.subscriptions.values()) for t in sub.tracks.values()]
            streams.add_metric(label, len(relay.sources))
            peers.add_metric(label, len(relay.publications) + len(relay.subscriptions))
            forwarded.add_metric(label, sum(t.forwarded for t in tracks))
            dropped.add_metric(label, sum(t.dropped for t in tracks))
        yield from (streams, peers, forwarded, dropped)


class GcFigures(Collector):
    """The cycle collector's pauses in this process (`gc_policy.pauses`), its thresholds and what it froze."""

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        pauses = HistogramMetricFamily("ecabinet_gc_pause_seconds", "How long each garbage collection stopped "
                                       "this process, by generation (2: a full collection)", labels=["generation"])
        seen = gc_policy.pauses
        for generation in range(3):
            buckets = [(str(bound), float(n))
                       for bound, n in zip(gc_policy.PAUSE_BUCKETS, seen.buckets[generation], strict=True)]
            buckets.append(("+Inf", float(seen.count[generation])))
            pauses.add_metric([str(generation)], buckets, sum_value=seen.total[generation])
        yield pauses
        thresholds = GaugeMetricFamily("ecabinet_gc_threshold", "The collector's threshold, by generation",
                                       labels=["generation"])
        for generation, value in enumerate(gc.get_threshold()):
            thresholds.add_metric([str(generation)], float(value))
        yield thresholds
        yield GaugeMetricFamily("ecabinet_gc_frozen_objects", "Objects frozen at start (never walked by a "
                                "collection)", value=float(gc.get_freeze_count()))


# --- who may read /metrics -----------------------------------------------------------------------


def may_read(settings: Settings, scope: Scope) -> bool:
    """The bearer token (constant-time compare), or a listed address that came straight."""
    headers = dict(scope.get("headers") or [])
    token = settings.metrics_token
    given = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = given.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
        return True
    if not settings.trusted_proxies and any(name in headers for name in _FORWARDED):
        return False  # came through a proxy we do not believe: its own address says nothing of the client
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.metrics_addresses)


async def refresh(metrics: Metrics, *, check_database: Callable[[], Any], check_redis: Callable[[], Any] | None,
                  bridge: Any) -> None:
    """The figures that need an await, read just before a scrape: can the database and Redis be reached,
    and each relayed site's bitrate and loss."""
    metrics.database_up.set(1 if await _answers(check_database) else 0)
    if check_redis is not None:
        metrics.redis_up.set(1 if await _answers(check_redis) else 0)
    if bridge is None:
        return
    metrics.relay_bitrate.clear()
    metrics.relay_lost.clear()
    for meeting_id in list(bridge.relays):
        try:
            state = await bridge.state(None, meeting_id)
        except Exception:  # the meeting's relay closed meanwhile
            continue
        for site in state["sites"]:
            if site["bitrate_kbps"] is not None:
                metrics.relay_bitrate.labels(str(meeting_id), site["site"]).set(site["bitrate_kbps"])
            metrics.relay_lost.labels(str(meeting_id), site["site"]).set(site["packets_lost"])


async def _answers(check: Callable[[], Any]) -> bool:
    try:
        async with asyncio.timeout(3):
            await check()
    except Exception:
        return False
    return True


def metrics_endpoint(metrics: Metrics, refresher: Callable[[], Any]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        if not may_read(settings, request.scope):
            return JSONResponse({"error": {"code": "not_found", "message": "not found"}}, status_code=404)
        await refresher()
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
    return endpoint


# --- one log line and one measurement per request ---------------------------------------------------


class RequestObserver:
    """Pure ASGI (streaming untouched) around the Starlette app: gives each HTTP request an id (the
    proxy's X-Request-ID when it is a plain token, else a new one; sent back in X-Request-ID), times it,
    counts it under its route template and logs one line: id, user, meeting, route, status, latency,
    outcome. Never the query string or a header: that is where tokens would be."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else secrets.token_hex(8)
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            route = _CONVERTER.sub("}", getattr(scope.get("route"), "path", None) or "unmatched")
            method = scope.get("method", "")
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_seconds.labels(method, route).observe(elapsed)
            meeting = (scope.get("path_params") or {}).get("meeting_id")
            outcome = scope.get(ERROR_KEY) or ("ok" if status < 400 else f"http_{status}")
            quiet = route != "unmatched" and not route.startswith("/api/")  # the tablet app's files
            access_log.log(logging.DEBUG if quiet else logging.INFO, "%s %s %s %s %.1f ms", method, route, status,
                           outcome, elapsed * 1000, extra={
                               "request_id": request_id, "user_id": scope.get(USER_KEY),
                               "meeting_id": meeting if isinstance(meeting, int) else None, "method": method,
                               "route": route, "status": status, "latency_ms": round(elapsed * 1000, 2),
                               "outcome": outcome})
