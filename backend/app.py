"""create_app(settings): the Starlette application with the REST API, the static tablet app and,
from the live-session issue on, the Socket.IO server."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg.exceptions as pg_errors
import socketio
from sqlalchemy import exc as sa_errors
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from backend.api import api
from backend.api.system import openapi_json
from backend.config import Settings
from backend.db import Database, is_unavailable, unavailable_error
from backend.exceptions import AppError, MethodNotAllowed, NotFound
from backend.monitoring import ERROR_KEY, LiveFigures, Metrics, RequestObserver, metrics_endpoint, refresh
from backend.realtime.fanout import LinkedRedisManager
from backend.realtime.media import MediaNamespace
from backend.realtime.revocations import Revocations
from backend.realtime.server import SessionNamespace, SioBus, create_server
from backend.redis_link import link_for
from backend.services import ballot_seal, health, live, opinions, pdf_jobs, polls, relays
from backend.services.auth import SessionCache
from backend.services.bridge import Bridge
from backend.services.context import Live
from backend.services.events import Coalescer, NullBus
from backend.services.exchange import packages, sender, watched
from backend.services.files import FileStore
from backend.services.opinions import Opinions
from backend.services.presence import presence_store

log = logging.getLogger("ecabinet")

PROGRESS_INTERVAL_S = 0.25  # at most four vote-progress updates a second per poll and worker
SWEEP_INTERVAL_S = 0.5  # how late a poll's time limit may close it
UNSEAL_SWEEP_S = 10.0  # how often to look for secret closes left half done (a worker died; rare)

# The tablet app loads only its own files: no inline scripts, no third-party origins.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def error_response(exc: AppError) -> JSONResponse:
    retry_after = getattr(exc, "retry_after", None)  # TooManyRequests, and ServiceUnavailable when it knows
    headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int) else None
    return JSONResponse({"error": exc.as_dict()}, status_code=exc.status, headers=headers)


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    request.scope[ERROR_KEY] = exc.code  # the outcome in the request's log line
    return error_response(exc)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "payload_too_large"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = request.scope[ERROR_KEY] = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code,
                        headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    request.scope[ERROR_KEY] = "internal"
    return JSONResponse({"error": {"code": "internal", "message": "unexpected server error"}}, status_code=500)


async def _backend_error(request: Request, exc: Exception) -> Response:
    """The database out of reach (stopped, restarting) is a 503 the client may retry, one line in the log;
    anything else of these kinds is unexpected."""
    if (refusal := unavailable_error(exc)) is not None:
        log.warning("%s on %s %s: %r", refusal.code, request.method, request.url.path, exc)
        return error_response(refusal)
    return await _unexpected(request, exc)


# Handled here, not as a bare Exception: Starlette re-raises those after answering (a traceback per request).
_BACKEND_ERRORS = (OSError, sa_errors.DBAPIError, sa_errors.TimeoutError, pg_errors.PostgresError,
                   pg_errors.InterfaceError)


async def _unknown_api_route(request: Request) -> Response:
    scope = dict(request.scope, type="http")
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path != "/api/{rest:path}" and route.matches(scope)[0] is Match.PARTIAL:
            raise MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
    raise NotFound(f"no API route {request.method} {request.url.path}")


# Only what the browser needs is served: not node_modules, the lockfile or the build scripts.
_PUBLIC_DIRS = ("src", "styles", "i18n", "vendor")
_PUBLIC_FILES = ("index.html", "favicon.svg", "sw.js", "sw_guard.js", "manifest.webmanifest")


def _frontend_routes(root: Path) -> list[BaseRoute]:
    if not root.is_dir():
        return []
    routes: list[BaseRoute] = [Mount(f"/{d}", StaticFiles(directory=root / d, check_dir=False), name=f"fe-{d}")
                               for d in _PUBLIC_DIRS]

    def file_route(name: str) -> Route:
        async def serve(request: Request) -> Response:
            path = root / name
            if not path.is_file():
                raise HTTPException(404)
            return FileResponse(path)
        return Route("/" if name == "index.html" else f"/{name}", serve, methods=["GET", "HEAD"])

    routes += [file_route(name) for name in _PUBLIC_FILES]
    return routes


_FRAMABLE = re.compile(r"^/api/(records|opinion-ballots)/[0-9]+/pdf$")


class SecurityHeaders:
    """Adds the browser hardening headers to every answer (pure ASGI, so streaming is untouched). It wraps
    the whole application, Socket.IO's long-polling answers included, not just the Starlette routes.
    `hsts_seconds` > 0 (production behind HTTPS): browsers that saw the site once never again speak plain
    HTTP to it, so a network attacker cannot strip TLS off the login page."""

    def __init__(self, app: ASGIApp, *, other_asgi_app: ASGIApp | None = None, hsts_seconds: int = 0) -> None:
        self.app = app
        self.other_asgi_app = other_asgi_app
        """The Starlette app behind Socket.IO (tests reach its `.state` through it)."""
        self.hsts = [(b"strict-transport-security", f"max-age={hsts_seconds}".encode())] if hsts_seconds > 0 else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        # Signed PDFs may be shown inside the app's own pages (the record page); nothing else may be framed.
        framable = _FRAMABLE.match(scope.get("path", "")) is not None
        policy = CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors 'self'") if framable \
            else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-cache"))
                headers += [
                    (b"content-security-policy", policy.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"SAMEORIGIN" if framable else b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    *self.hsts,
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings, *, db: Database | None = None) -> ASGIApp:
    """The whole application: Socket.IO at /socket.io in front of the Starlette app (REST and the
    tablet app), both behind the hardening headers. The Starlette app is reachable as `.other_asgi_app`
    (tests use its `.state`)."""
    database = db or Database(settings.effective_database_url)
    metrics = Metrics()
    # One Redis pool per process, shared by fan-out, revocations, presence and health (redis_link.py).
    link = link_for(settings.redis_url, settings.redis_prefix, settings.redis_max_connections)
    sio = create_server(settings, link, metrics)
    sessions = SessionCache(database, settings)
    revocations = Revocations(link, sessions)
    bus = SioBus(sio, revocations)
    # The relay runs here unless it runs as its own process (`ecabinet relay`, ECABINET_RELAY_PATH).
    bridge = None if settings.relay_path else Bridge(database, settings, bus)
    presence = presence_store(link.commands if link else None, link.key("presence") if link else "",
                              ttl_seconds=settings.presence_ttl_seconds)
    live_ctx = Live(db=database, bus=bus, presence=presence,
                    progress=Coalescer(PROGRESS_INTERVAL_S), bridge=bridge, seal=ballot_seal.for_settings(settings))
    namespaces: list[SessionNamespace] = [SessionNamespace(live_ctx, settings, sessions)]
    if bridge is not None:
        namespaces.append(MediaNamespace(live_ctx, settings, sessions, bridge))
    for namespace in namespaces:
        namespace.metrics = metrics
        sio.register_namespace(namespace)
        revocations.listen(namespace.revoked)
    metrics.registry.register(LiveFigures(
        rooms=lambda: sio.manager.rooms.get("/", {}), pool=lambda: database.engine.sync_engine.pool,
        sandboxes=lambda: {**{name: pdf_jobs.pool(settings, name) for name in ("work", "verify")},
                           "exchange": packages.pool(settings)},
        relays=lambda: bridge.relays if bridge is not None else None))

    async def before_scrape() -> None:
        await refresh(metrics, check_database=lambda: health.check(database, None),
                      check_redis=(lambda: health.check(database, link.commands)) if link is not None else None,
                      bridge=bridge)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        rounds = Opinions(database, FileStore.for_settings(settings), settings, live_ctx)
        await revocations.start()
        housekeeping = asyncio.create_task(_housekeeping(live_ctx, rounds))
        heartbeat = asyncio.create_task(_presence_heartbeat(live_ctx, settings.presence_ttl_seconds / 3))
        tasks = [housekeeping, heartbeat]
        if settings.exchange_inbox_dir is not None:
            tasks.append(asyncio.create_task(watched.watch(database, settings)))
        if settings.exchange_gateway_url:
            tasks.append(asyncio.create_task(sender.run(database, settings)))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await revocations.close()
        if bridge is not None:
            await bridge.close()
        await live_ctx.progress.drain()
        await live_ctx.presence.close()
        if link is not None:
            await link.close()
        await database.dispose()

    routes: list[BaseRoute] = [
        Route("/metrics", metrics_endpoint(metrics, before_scrape), methods=["GET"]),
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        *api.starlette_routes(),
        Route("/api/{rest:path}", _unknown_api_route, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    routes += _frontend_routes(settings.frontend_dir)
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={AppError: _app_error, HTTPException: _http_error, Exception: _unexpected,
                            **dict.fromkeys(_BACKEND_ERRORS, _backend_error)},
    )
    app.state.settings = settings
    app.state.db = database
    app.state.live = live_ctx
    app.state.sio = sio
    app.state.metrics = metrics
    app.state.redis = link
    combined: ASGIApp = socketio.ASGIApp(sio, other_asgi_app=RequestObserver(app, metrics), socketio_path="socket.io")
    return behind_proxies(SecurityHeaders(combined, other_asgi_app=app, hsts_seconds=settings.hsts_seconds), settings)


def behind_proxies(app: ASGIApp, settings: Settings) -> ASGIApp:
    """Believe X-Forwarded-For/-Proto only from the configured proxies (ECABINET_TRUSTED_PROXIES): the
    client address decides login throttling, so a client must not be able to name its own."""
    if not settings.trusted_proxies:
        return app
    proxied: ASGIApp = ProxyHeadersMiddleware(app, trusted_hosts=list(settings.trusted_proxies))  # type: ignore[arg-type,assignment]
    return proxied


async def _housekeeping(live_ctx: Live, rounds: Opinions) -> None:
    """Each worker: close polls and opinion rounds whose time is up (rounds also after a restart:
    their deadlines are stored), and finish secret closes whose worker died before unsealing."""
    last_outage = last_unseal = 0.0
    while True:
        try:
            await polls.close_due(live_ctx)
            if time.monotonic() - last_unseal > UNSEAL_SWEEP_S:
                last_unseal = time.monotonic()
                await polls.unseal_left(live_ctx)
            await opinions.close_due(rounds)
            await rounds.remind_due()
        except Exception as exc:  # a database hiccup must not stop the loop
            if not is_unavailable(exc):
                log.exception("housekeeping failed")
            elif time.monotonic() - last_outage > 30:  # one line per outage, not two a second
                log.warning("housekeeping: the database is unavailable (%r); retrying", exc)
                last_outage = time.monotonic()
        await asyncio.sleep(SWEEP_INTERVAL_S)


async def _presence_heartbeat(live_ctx: Live, every: float) -> None:
    """Each worker renews its presence entries (a loop of its own: a slow database must not let them
    expire), and tells a meeting's room when others' entries expired (a worker died)."""
    while True:
        await asyncio.sleep(every)
        try:
            for meeting_id in await live_ctx.presence.refresh():
                await live.publish_presence(live_ctx, meeting_id)
        except Exception as exc:  # Redis away: the entries are written again at the next beat
            log.warning("presence not renewed (%s: %s)", type(exc).__name__, exc)


RELAY_ROUTE_INTERVAL_S = 0.5  # how late a separate relay follows a floor given on a web worker


def create_relay_app(settings: Settings, *, db: Database | None = None, name: str = "main",
                     address: str = "") -> ASGIApp:
    """`ecabinet relay`: the video bridge as its own process. Sites reach its signalling (namespace /media)
    at ECABINET_RELAY_PATH on the same origin (the reverse proxy routes that path here), authenticated
    against the same database. The speaker queue runs on the web workers: the relay reads the floor
    from the database twice a second; with REDIS_URL its news for the control rooms reach the staff
    through the web workers' Redis channel."""
    database = db or Database(settings.effective_database_url)
    metrics = Metrics()
    link = link_for(settings.redis_url, settings.redis_prefix, settings.redis_max_connections, role="relay")
    manager = LinkedRedisManager(link, write_only=True, metrics=metrics) if link is not None else None
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=None, max_http_buffer_size=1_000_000,
                               logger=logging.getLogger("socketio.server"),
                               engineio_logger=logging.getLogger("engineio.server"))
    # The relay holds /media sockets: it follows revocations like a web worker (its Socket.IO manager
    # only writes, so they come through their own channel).
    sessions = SessionCache(database, settings)
    revocations = Revocations(link, sessions)
    bus: Any = SioBus(manager, revocations) if manager is not None else NullBus()
    bridge = Bridge(database, settings, bus, relay_name=relays.check_name(name))
    path = relays.signalling_path(settings, name)
    live_ctx = Live(db=database, bus=bus, presence=presence_store(None), progress=Coalescer(PROGRESS_INTERVAL_S),
                    bridge=bridge)
    media = MediaNamespace(live_ctx, settings, sessions, bridge)
    media.metrics = metrics
    sio.register_namespace(media)
    metrics.registry.register(LiveFigures(
        rooms=lambda: None, pool=lambda: database.engine.sync_engine.pool, sandboxes=lambda: {},
        relays=lambda: bridge.relays))

    async def before_scrape() -> None:
        await refresh(metrics, check_database=lambda: health.check(database, None), check_redis=None,
                      bridge=bridge)
    revocations.listen(media.revoked)

    async def follow_the_floor() -> None:
        last_beat = 0.0
        while True:
            await asyncio.sleep(RELAY_ROUTE_INTERVAL_S)
            try:
                if time.monotonic() - last_beat > relays.HEARTBEAT_SECONDS:
                    await relays.heartbeat(database, name)
                    last_beat = time.monotonic()
            except Exception as exc:
                (log.warning if is_unavailable(exc) else log.exception)("relay: heartbeat failed: %r", exc)
            for meeting_id in list(bridge.relays):
                try:
                    if await relays.assigned(database, meeting_id) not in (None, name):
                        log.info("relay %s: meeting %s moved to another relay; its connections close", name, meeting_id)
                        await bridge.meeting_closed(meeting_id)
                        continue
                    if not await bridge.route(meeting_id):
                        continue
                    if not await bridge.still_running(meeting_id):
                        await bridge.meeting_closed(meeting_id)
                except Exception as exc:  # one meeting's trouble must not stop the others
                    if is_unavailable(exc):
                        log.warning("relay: meeting %s: database unavailable (%r)", meeting_id, exc)
                    else:
                        log.exception("relay: following the floor of meeting %s failed", meeting_id)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await relays.register(database, name, address, path)  # its meetings stay assigned across restarts
        await revocations.start()
        task = asyncio.create_task(follow_the_floor())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await revocations.close()
        await bridge.close()
        if link is not None:
            await link.close()
        await database.dispose()

    async def relay_health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "name": name, "meetings": sorted(bridge.relays)})

    # Its health also under its own prefix, which the reverse proxy routes to it.
    health_paths = {"/relay/health", path.removesuffix("/socket.io") + "/health"}
    routes = [Route(p, relay_health, methods=["GET"]) for p in sorted(health_paths)]
    routes.append(Route("/metrics", metrics_endpoint(metrics, before_scrape), methods=["GET"]))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    return behind_proxies(SecurityHeaders(socketio.ASGIApp(sio, other_asgi_app=RequestObserver(app, metrics),
                                                          socketio_path=path.strip("/")),
                                          hsts_seconds=settings.hsts_seconds), settings)
