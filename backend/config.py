"""Settings: every knob comes from the environment, with documented defaults.

Demo mode (the default, what `make run` uses) may generate a secret key; production mode
(`ECABINET_MODE=production`) refuses to start without one, or with a known default."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.exceptions import ConfigError
from media.ice import check_url, is_turn

_KNOWN_BAD_SECRETS = {"", "changeme", "secret", "change-me", "dev"}
_MIN_SECRET_LENGTH = 32
_ONE_YEAR = 31_536_000
PADES_LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


@dataclass(frozen=True)
class Settings:
    """What the application runs with. Build with `Settings.from_env()`."""

    mode: str = "demo"
    """`demo` (generated secret allowed, demo data may be loaded) or `production`."""
    data_dir: Path = Path("data")
    """Where the SQLite file and document files live (ECABINET_DATA_DIR)."""
    database_url: str = ""
    """SQLAlchemy async URL (DATABASE_URL); empty means SQLite under data_dir."""
    redis_url: str = ""
    """Redis URL (REDIS_URL); empty means the in-process Socket.IO manager."""
    redis_prefix: str = ""
    """Put in front of every Redis key and pub/sub channel of this deployment (ECABINET_REDIS_PREFIX;
    letters, digits, `.` `_` `:` `-`). Empty: `ecabinet:<db>` from REDIS_URL. Deployments sharing a Redis
    server must differ in it (pub/sub ignores the database number); every worker and relay of one
    deployment must have the same."""
    redis_max_connections: int = 16
    """Connections each process may open for Redis commands (ECABINET_REDIS_MAX_CONNECTIONS); a command
    waits for a free one. Pub/sub listening uses up to 4 more (docs/redis.md)."""
    presence_ttl_seconds: int = 30
    """How long a worker's presence entries outlive it (ECABINET_PRESENCE_TTL_SECONDS): each worker renews
    its own every third of it, so a killed worker's members stop counting as online after at most this."""
    secret_key: str = field(default="", repr=False)
    """Signs CSRF tokens (ECABINET_SECRET_KEY). Required in production. Also the root of the key that
    seals secret ballots while their poll is open (see `ballot_key_file`)."""
    ballot_key_file: Path | None = None
    """A file holding the key that seals secret ballots while their poll is open
    (ECABINET_BALLOT_KEY_FILE; created with a random key if missing). Unset: the key is derived from
    ECABINET_SECRET_KEY. Demo mode without ECABINET_SECRET_KEY uses data_dir/ballot-seal.key, next to
    the database, which protects nothing at rest (docs/security-notes/secret-ballots.md)."""
    host: str = "127.0.0.1"
    """Address to listen on (ECABINET_HOST)."""
    port: int = 8000
    """Port to listen on (ECABINET_PORT)."""
    log_level: str = "info"
    """Python log level name (ECABINET_LOG_LEVEL)."""
    log_format: str = "text"
    """`json` (one JSON object a line, for a log collector) or `text` (for people reading a terminal)
    (ECABINET_LOG_FORMAT); json by default in production, text in demo mode."""
    metrics_addresses: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    """Addresses or networks that may read `/metrics` without a token (ECABINET_METRICS_ADDRESSES,
    comma-separated; `none`: only with the token); loopback by default."""
    metrics_token: str = field(default="", repr=False)
    """A bearer token that opens `/metrics` from any address (ECABINET_METRICS_TOKEN, at least 24
    characters); empty: no token is accepted."""
    session_hours: int = 12
    """How long a login (cookie or bearer token) lasts without use (ECABINET_SESSION_HOURS)."""
    session_recheck_ms: int = 5_000
    """How long a worker trusts its cached check of an open socket's session before asking the database
    again (ECABINET_SESSION_RECHECK_MS). Logout, deactivation and password changes reach sockets at once;
    this bounds the delay only when that message is lost (Redis down) or comes from another process."""
    gc_thresholds: tuple[int, int, int] = (20_000, 10, 10)
    """The cycle collector's thresholds in a serving process (ECABINET_GC_THRESHOLDS: three whole numbers,
    comma-separated, or `python` for Python's own 700,10,10); see backend/gc_policy.py."""
    offline_hours: int = 72
    """How long a tablet keeps its offline copies (meeting documents, their annotations, unsent notes)
    without reaching the server (ECABINET_OFFLINE_HOURS): past it, the app erases them at its next
    start, even with no network. Sent to the app with who is logged in (docs/security-notes/devices.md)."""
    secure_cookies: bool = False
    """Mark cookies Secure (ECABINET_SECURE_COOKIES); on by default in production, which runs behind HTTPS."""
    hsts_seconds: int = 0
    """`Strict-Transport-Security: max-age` sent on every answer (ECABINET_HSTS_SECONDS); by default one
    year when cookies are Secure (production behind HTTPS), else 0: no header (plain-HTTP demo)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks of the reverse proxies whose `X-Forwarded-For`/`-Proto` are believed
    (ECABINET_TRUSTED_PROXIES, comma-separated, e.g. `127.0.0.1,10.0.0.0/24`); none by default: the
    client address is the TCP peer's."""
    login_slowdown_after: int = 3
    """Failed logins of one account before each further attempt at it waits (ECABINET_LOGIN_SLOWDOWN_AFTER).
    The wait doubles with each failure; the right password still gets in after it."""
    login_slowdown_max_ms: int = 2000
    """Upper bound of that wait (ECABINET_LOGIN_SLOWDOWN_MAX_MS)."""
    login_address_limit: int = 20
    """Failed logins from one client address (an IPv6 /64) before that address is refused with 429
    for `login_lock_seconds` (ECABINET_LOGIN_ADDRESS_LIMIT)."""
    login_lock_seconds: int = 900
    """How long failures are remembered, and how long a refused address stays refused
    (ECABINET_LOGIN_LOCK_SECONDS)."""
    max_json_bytes: int = 1_000_000
    """Largest JSON request body accepted (ECABINET_MAX_JSON_BYTES)."""
    frontend_dir: Path = Path(__file__).resolve().parent.parent / "frontend"
    """Where the static tablet app lives (ECABINET_FRONTEND_DIR)."""
    pki_dir: Path | None = None
    """The development CA made by `ecabinet pki init` (ECABINET_PKI_DIR); default data_dir/pki."""
    trust_roots: tuple[Path, ...] = ()
    """PEM files of the root certificates signatures are verified against, besides the development
    root when it exists (ECABINET_TRUST_ROOTS, separated by the OS path separator)."""
    timestamp_url: str = ""
    """RFC 3161 timestamp authority (ECABINET_TSA_URL); needed for PAdES B-T and above."""
    pades_level: str = "B-B"
    """The PAdES level of every signature: B-B, B-T, B-LT or B-LTA (ECABINET_PADES_LEVEL)."""
    max_verify_bytes: int = 50_000_000
    """Largest PDF accepted by POST /api/verify (ECABINET_MAX_VERIFY_BYTES)."""
    max_image_bytes: int = 2_000_000
    """Largest signature or seal image accepted, a PNG (ECABINET_MAX_IMAGE_BYTES)."""
    max_document_bytes: int = 100_000_000
    """Largest meeting document (PDF) the secretariat may upload (ECABINET_MAX_DOCUMENT_BYTES)."""
    max_document_pages: int = 5_000
    """Most pages a meeting document may have (ECABINET_MAX_DOCUMENT_PAGES)."""
    max_document_objects: int = 150_000
    """Most internal objects a meeting document may have (ECABINET_MAX_DOCUMENT_OBJECTS): 30 a page at the
    page limit; a file of 300,000 tiny objects took 31 s and 860 MB to stamp for each reader."""
    pdf_check_seconds: int = 60
    """Time limit of each sandboxed job on a meeting document: the check of an upload, a reader's copy, an
    annotated copy, the meeting book, a trace (ECABINET_PDF_CHECK_SECONDS). The child is killed at it."""
    pdf_check_memory_mb: int = 2_000
    """Memory limit (RLIMIT_AS) of each such child in MB (ECABINET_PDF_CHECK_MEMORY_MB)."""
    pdf_sandbox_slots: int = 3
    """Sandbox children that may run at once for meeting documents, per web worker
    (ECABINET_PDF_SANDBOX_SLOTS); each may use pdf_check_memory_mb, so slots × that must fit in memory."""
    pdf_sandbox_queue: int = 12
    """Requests that may wait for a free slot (ECABINET_PDF_SANDBOX_QUEUE); beyond it: 503 `busy`."""
    pdf_sandbox_wait_seconds: int = 30
    """How long a request waits for a slot before it gets 503 `busy` (ECABINET_PDF_SANDBOX_WAIT_SECONDS)."""
    verify_slots: int = 2
    """Sandbox children for POST /api/verify and `ecabinet verify`, a pool of their own so anonymous
    verification can never take the slots members' documents need (ECABINET_VERIFY_SLOTS)."""
    verify_queue: int = 4
    """Verifications that may wait for one of those slots (ECABINET_VERIFY_QUEUE); beyond it: 503 `busy`."""
    verify_seconds: int = 30
    """Time limit of one verification; the child is killed at it (ECABINET_VERIFY_SECONDS)."""
    verify_memory_mb: int = 1_000
    """Memory limit (RLIMIT_AS) of one verification child in MB (ECABINET_VERIFY_MEMORY_MB)."""
    verify_per_minute: int = 12
    """POST /api/verify calls one client address may make per minute (ECABINET_VERIFY_PER_MINUTE); more: 429."""
    book_builds_per_minute: int = 4
    """Meeting books one user may have built per minute (ECABINET_BOOK_BUILDS_PER_MINUTE), one at a time."""
    media_codec: str = "VP8"
    """The video codec every site of the bridge negotiates: VP8 or H264 (ECABINET_MEDIA_CODEC)."""
    media_ice_servers: tuple[str, ...] = ()
    """STUN/TURN URLs the relay and the sites use (ECABINET_MEDIA_ICE_SERVERS, comma-separated: `stun:`,
    `turn:` or `turns:` URLs, checked at start); none by default: a closed government network has no
    public STUN server."""
    turn_secret: str = field(default="", repr=False)
    """The secret shared with the TURN server (ECABINET_TURN_SECRET; coturn's `static-auth-secret` with
    `use-auth-secret`): every site and the relay get time-limited credentials made with it for each
    `turn:`/`turns:` URL. Needed when there is one (browsers refuse a TURN server without credentials);
    at least 16 characters."""
    turn_ttl_seconds: int = 3600
    """How long such a credential may open a TURN allocation (ECABINET_TURN_TTL_SECONDS, 60 to 86400); an
    allocation made in time lasts as long as its peer connection."""
    media_host_addresses: tuple[str, ...] = ()
    """Local addresses the relay offers media on (ECABINET_MEDIA_HOST_ADDRESSES, comma-separated); empty:
    every interface but loopback."""
    media_backend: str = "aiortc"
    """What carries the bridge's media (ECABINET_MEDIA_BACKEND): `aiortc` (the embedded relay, the default)
    or `janus` (a Janus VideoRoom at ECABINET_JANUS_URLS, driven by e-Cabinet's signalling)."""
    janus_urls: tuple[str, ...] = ()
    """Janus HTTP API URLs, e.g. http://10.0.0.5:8088/janus (ECABINET_JANUS_URLS, comma-separated; required
    with ECABINET_MEDIA_BACKEND=janus). A meeting goes to one of them (by its id)."""
    relay_path: str = ""
    """Where tablets find the video bridge's signalling when the relay runs as its own process
    (`ecabinet relay`, ECABINET_RELAY_PATH, e.g. /relay/socket.io, routed to it by the reverse proxy);
    empty: the relay runs inside `ecabinet serve` on /socket.io."""
    smtp_host: str = ""
    """SMTP server for e-mailed reminders (ECABINET_SMTP_HOST); empty: reminders only in the app."""
    smtp_port: int = 25
    """Its port (ECABINET_SMTP_PORT)."""
    smtp_from: str = "e-cabinet@localhost"
    """Sender address (ECABINET_SMTP_FROM)."""
    smtp_user: str = ""
    """Login, if the server wants one (ECABINET_SMTP_USER)."""
    smtp_password: str = field(default="", repr=False)
    """Its password (ECABINET_SMTP_PASSWORD)."""
    smtp_starttls: bool = False
    """Upgrade the connection with STARTTLS (ECABINET_SMTP_STARTTLS)."""
    signing_timezone: str = "Asia/Ho_Chi_Minh"
    """Time zone of the dates printed on resolutions, minutes and signatures (ECABINET_TIMEZONE)."""
    exchange_max_package_bytes: int = 64 * 1024 * 1024
    """Largest edXML package POST /api/exchange/inbound accepts, refused before it is read whole
    (ECABINET_EXCHANGE_MAX_PACKAGE_BYTES; at most the 64 MiB the exchange library allows)."""
    exchange_parse_seconds: int = 30
    """Time limit of reading one package in its sandbox child; the child is killed at it
    (ECABINET_EXCHANGE_PARSE_SECONDS). A 56 MB package takes about 4 s."""
    exchange_parse_memory_mb: int = 1_500
    """Memory limit (RLIMIT_AS) of that child in MB (ECABINET_EXCHANGE_PARSE_MEMORY_MB); a 56 MB package
    peaks at about 440 MiB."""
    exchange_slots: int = 1
    """Sandbox children reading packages at once, per web worker, a pool of their own so the gateway never
    takes the slots of meeting documents (ECABINET_EXCHANGE_SLOTS)."""
    exchange_queue: int = 4
    """Packages that may wait for a slot (ECABINET_EXCHANGE_QUEUE); beyond it: 503 `busy`."""
    exchange_wait_seconds: int = 60
    """How long a package waits for a slot before 503 `busy` (ECABINET_EXCHANGE_WAIT_SECONDS)."""
    exchange_gateway_secret: str = field(default="", repr=False)
    """The bearer secret the exchange gateway sends to POST /api/exchange/inbound
    (ECABINET_EXCHANGE_GATEWAY_SECRET, at least 24 characters); empty: the endpoint is disabled."""
    exchange_trust_anchors: Path | None = None
    """PEM file of the root certificates incoming packages must be signed under
    (ECABINET_EXCHANGE_TRUST_ANCHORS); unset: every package is refused `bad_signature`."""
    exchange_signing_key: Path | None = None
    """PEM private key that signs our status packages (ECABINET_EXCHANGE_SIGNING_KEY); unset: refusals
    carry no status package."""
    exchange_signing_cert: Path | None = None
    """PEM certificate of that key, followed by its issuing CAs (ECABINET_EXCHANGE_SIGNING_CERT)."""
    exchange_inbox_dir: Path | None = None
    """A folder watched for packages (ECABINET_EXCHANGE_INBOX_DIR): each file dropped there is received like a
    POST to /api/exchange/inbound, then moved to done/ or refused/ (with NAME.reason.txt). Unset: not watched."""
    exchange_inbox_seconds: int = 5
    """How often each worker looks into that folder (ECABINET_EXCHANGE_INBOX_SECONDS)."""
    exchange_agency_code: str = "000.00.00.G22"
    """Our own agency identifier, the sender of our status packages (ECABINET_EXCHANGE_AGENCY_CODE)."""
    exchange_agency_name: str = "Văn phòng Chính phủ"
    """Our own agency's name (ECABINET_EXCHANGE_AGENCY_NAME)."""
    exchange_gateway_url: str = ""
    """Where the outbox delivers packages we send (ECABINET_EXCHANGE_GATEWAY_URL, the gateway's POST
    endpoint, e.g. http://127.0.0.1:8700/packages); empty: packages stay queued."""
    exchange_outbox_secret: str = field(default="", repr=False)
    """Our bearer secret for that gateway (ECABINET_EXCHANGE_OUTBOX_SECRET)."""
    exchange_outbox_seconds: float = 5.0
    """How often each worker looks for packages due for delivery (ECABINET_EXCHANGE_OUTBOX_SECONDS)."""
    exchange_retry_seconds: float = 30.0
    """The first retry's delay after a failed delivery, doubled each time up to an hour
    (ECABINET_EXCHANGE_RETRY_SECONDS)."""
    exchange_max_attempts: int = 12
    """Deliveries tried before a package is marked failed (ECABINET_EXCHANGE_MAX_ATTEMPTS)."""
    exchange_lease_seconds: float = 120.0
    """How long a worker holds a package it is sending; a package still `sending` after that (its worker
    crashed) is taken again (ECABINET_EXCHANGE_LEASE_SECONDS)."""

    @property
    def effective_pki_dir(self) -> Path:
        return self.pki_dir if self.pki_dir is not None else self.data_dir / "pki"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ecabinet.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        mode = env.get("ECABINET_MODE", "demo").strip().lower()
        if mode not in {"demo", "production"}:
            raise ConfigError(f"ECABINET_MODE must be 'demo' or 'production', not {mode!r}")
        secret = env.get("ECABINET_SECRET_KEY", "")
        if mode == "production":
            if secret.strip().lower() in _KNOWN_BAD_SECRETS or len(secret) < _MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"ECABINET_SECRET_KEY must be set to a random value of at least {_MIN_SECRET_LENGTH} "
                    "characters in production mode (for example: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))')"
                )
        ballot_key_file = env.get("ECABINET_BALLOT_KEY_FILE", "").strip()
        if mode != "production" and not secret:
            secret = secrets.token_urlsafe(48)
            # A generated secret dies with the process; a sealed ballot must outlive it.
            ballot_key_file = ballot_key_file or str(Path(env.get("ECABINET_DATA_DIR", "data")) / "ballot-seal.key")
        try:
            port = int(env.get("ECABINET_PORT", "8000"))
        except ValueError as exc:
            raise ConfigError("ECABINET_PORT must be a number") from exc

        def number(name: str, default: int) -> int:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                return int(raw)
            except ValueError as exc:
                raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc

        def flag(name: str, default: bool) -> bool:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            return raw.strip().lower() in {"1", "true", "yes", "on"}

        defaults = cls()
        level = env.get("ECABINET_PADES_LEVEL", defaults.pades_level).strip().upper()
        if level not in PADES_LEVELS:
            raise ConfigError(f"ECABINET_PADES_LEVEL must be one of {', '.join(PADES_LEVELS)}, not {level!r}")
        if level != "B-B" and not env.get("ECABINET_TSA_URL", "").strip():
            raise ConfigError(f"PAdES {level} needs a timestamp authority: set ECABINET_TSA_URL")
        secure = flag("ECABINET_SECURE_COOKIES", mode == "production")
        ice_urls = _ice_urls(env.get("ECABINET_MEDIA_ICE_SERVERS", ""))
        turn_secret = _turn_secret(env.get("ECABINET_TURN_SECRET", ""))
        if not turn_secret and any(is_turn(url) for url in ice_urls):
            # Browsers refuse a TURN server without credentials: no site could join the bridge.
            raise ConfigError("ECABINET_MEDIA_ICE_SERVERS names a TURN server: set ECABINET_TURN_SECRET to its "
                              "static-auth-secret (docs/operator.md, 'TURN')")
        offline_hours = number("ECABINET_OFFLINE_HOURS", defaults.offline_hours)
        if offline_hours < 1:
            raise ConfigError("ECABINET_OFFLINE_HOURS must be at least 1")
        return cls(
            mode=mode,
            data_dir=Path(env.get("ECABINET_DATA_DIR", "data")),
            database_url=env.get("DATABASE_URL", ""),
            redis_url=env.get("REDIS_URL", ""),
            redis_prefix=_redis_prefix(env.get("ECABINET_REDIS_PREFIX", "").strip()),
            redis_max_connections=_at_least(1, "ECABINET_REDIS_MAX_CONNECTIONS",
                                            number("ECABINET_REDIS_MAX_CONNECTIONS", defaults.redis_max_connections)),
            presence_ttl_seconds=_at_least(3, "ECABINET_PRESENCE_TTL_SECONDS",
                                           number("ECABINET_PRESENCE_TTL_SECONDS", defaults.presence_ttl_seconds)),
            secret_key=secret,
            ballot_key_file=Path(ballot_key_file) if ballot_key_file else None,
            host=env.get("ECABINET_HOST", "127.0.0.1"),
            port=port,
            log_level=env.get("ECABINET_LOG_LEVEL", "info").lower(),
            log_format=_log_format(env.get("ECABINET_LOG_FORMAT", "json" if mode == "production" else "text")),
            metrics_addresses=_metrics_addresses(env.get("ECABINET_METRICS_ADDRESSES")),
            metrics_token=_metrics_token(env.get("ECABINET_METRICS_TOKEN", "")),
            session_hours=number("ECABINET_SESSION_HOURS", defaults.session_hours),
            session_recheck_ms=number("ECABINET_SESSION_RECHECK_MS", defaults.session_recheck_ms),
            gc_thresholds=_gc_thresholds(env.get("ECABINET_GC_THRESHOLDS"), defaults.gc_thresholds),
            offline_hours=offline_hours,
            secure_cookies=secure,
            hsts_seconds=number("ECABINET_HSTS_SECONDS", _ONE_YEAR if secure else 0),
            trusted_proxies=_networks(env.get("ECABINET_TRUSTED_PROXIES", "")),
            login_slowdown_after=number("ECABINET_LOGIN_SLOWDOWN_AFTER", defaults.login_slowdown_after),
            login_address_limit=number("ECABINET_LOGIN_ADDRESS_LIMIT", defaults.login_address_limit),
            login_lock_seconds=number("ECABINET_LOGIN_LOCK_SECONDS", defaults.login_lock_seconds),
            login_slowdown_max_ms=number("ECABINET_LOGIN_SLOWDOWN_MAX_MS", defaults.login_slowdown_max_ms),
            max_json_bytes=number("ECABINET_MAX_JSON_BYTES", defaults.max_json_bytes),
            frontend_dir=Path(env.get("ECABINET_FRONTEND_DIR", str(defaults.frontend_dir))),
            pki_dir=Path(env["ECABINET_PKI_DIR"]) if env.get("ECABINET_PKI_DIR") else None,
            trust_roots=tuple(Path(p) for p in env.get("ECABINET_TRUST_ROOTS", "").split(os.pathsep) if p.strip()),
            timestamp_url=env.get("ECABINET_TSA_URL", "").strip(),
            pades_level=level,
            max_verify_bytes=number("ECABINET_MAX_VERIFY_BYTES", defaults.max_verify_bytes),
            max_image_bytes=number("ECABINET_MAX_IMAGE_BYTES", defaults.max_image_bytes),
            signing_timezone=env.get("ECABINET_TIMEZONE", defaults.signing_timezone),
            max_document_bytes=number("ECABINET_MAX_DOCUMENT_BYTES", defaults.max_document_bytes),
            max_document_pages=number("ECABINET_MAX_DOCUMENT_PAGES", defaults.max_document_pages),
            pdf_check_seconds=number("ECABINET_PDF_CHECK_SECONDS", defaults.pdf_check_seconds),
            pdf_check_memory_mb=number("ECABINET_PDF_CHECK_MEMORY_MB", defaults.pdf_check_memory_mb),
            max_document_objects=number("ECABINET_MAX_DOCUMENT_OBJECTS", defaults.max_document_objects),
            pdf_sandbox_slots=number("ECABINET_PDF_SANDBOX_SLOTS", defaults.pdf_sandbox_slots),
            pdf_sandbox_queue=number("ECABINET_PDF_SANDBOX_QUEUE", defaults.pdf_sandbox_queue),
            pdf_sandbox_wait_seconds=number("ECABINET_PDF_SANDBOX_WAIT_SECONDS", defaults.pdf_sandbox_wait_seconds),
            verify_slots=number("ECABINET_VERIFY_SLOTS", defaults.verify_slots),
            verify_queue=number("ECABINET_VERIFY_QUEUE", defaults.verify_queue),
            verify_seconds=number("ECABINET_VERIFY_SECONDS", defaults.verify_seconds),
            verify_memory_mb=number("ECABINET_VERIFY_MEMORY_MB", defaults.verify_memory_mb),
            verify_per_minute=number("ECABINET_VERIFY_PER_MINUTE", defaults.verify_per_minute),
            book_builds_per_minute=number("ECABINET_BOOK_BUILDS_PER_MINUTE", defaults.book_builds_per_minute),
            media_codec=_media_codec(env.get("ECABINET_MEDIA_CODEC", defaults.media_codec)),
            media_ice_servers=ice_urls,
            turn_secret=turn_secret,
            turn_ttl_seconds=_between(60, 86_400, "ECABINET_TURN_TTL_SECONDS",
                                      number("ECABINET_TURN_TTL_SECONDS", defaults.turn_ttl_seconds)),
            media_host_addresses=_listed(env.get("ECABINET_MEDIA_HOST_ADDRESSES", "")),
            media_backend=_media_backend(env.get("ECABINET_MEDIA_BACKEND", defaults.media_backend),
                                         env.get("ECABINET_JANUS_URLS", "")),
            janus_urls=_janus_urls(env.get("ECABINET_JANUS_URLS", "")),
            relay_path=env.get("ECABINET_RELAY_PATH", "").strip(),
            smtp_host=env.get("ECABINET_SMTP_HOST", "").strip(),
            smtp_port=number("ECABINET_SMTP_PORT", defaults.smtp_port),
            smtp_from=env.get("ECABINET_SMTP_FROM", defaults.smtp_from),
            smtp_user=env.get("ECABINET_SMTP_USER", ""),
            smtp_password=env.get("ECABINET_SMTP_PASSWORD", ""),
            smtp_starttls=flag("ECABINET_SMTP_STARTTLS", False),
            **_exchange(env, number, defaults),
        )


def _exchange(env: Mapping[str, str], number: Callable[[str, int], int], defaults: Settings) -> dict[str, Any]:
    """The document exchange's settings (issue 17), checked now so a mistake stops the start."""
    from exchange import fields

    def path(name: str) -> Path | None:
        raw = env.get(name, "").strip()
        if raw and not Path(raw).is_file():
            raise ConfigError(f"{name}: {raw} is not a readable file")
        return Path(raw) if raw else None

    largest = number("ECABINET_EXCHANGE_MAX_PACKAGE_BYTES", defaults.exchange_max_package_bytes)
    if not 1_000 <= largest <= fields.MAX_PACKAGE_BYTES:
        raise ConfigError(f"ECABINET_EXCHANGE_MAX_PACKAGE_BYTES must be from 1000 to {fields.MAX_PACKAGE_BYTES} "
                          f"(the exchange library's limit), not {largest}")
    secret = env.get("ECABINET_EXCHANGE_GATEWAY_SECRET", "").strip()
    if secret and len(secret) < 24:
        raise ConfigError("ECABINET_EXCHANGE_GATEWAY_SECRET must be at least 24 characters (or unset: the "
                          "inbound endpoint is then disabled)")
    key, cert = path("ECABINET_EXCHANGE_SIGNING_KEY"), path("ECABINET_EXCHANGE_SIGNING_CERT")
    if (key is None) != (cert is None):
        raise ConfigError("set both ECABINET_EXCHANGE_SIGNING_KEY and ECABINET_EXCHANGE_SIGNING_CERT, or neither")
    code = env.get("ECABINET_EXCHANGE_AGENCY_CODE", defaults.exchange_agency_code).strip()
    try:
        fields.check_agency_id(code, "ECABINET_EXCHANGE_AGENCY_CODE")
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    inbox = env.get("ECABINET_EXCHANGE_INBOX_DIR", "").strip()
    if inbox and not Path(inbox).is_dir():
        raise ConfigError(f"ECABINET_EXCHANGE_INBOX_DIR: {inbox} is not a directory")
    return {
        "exchange_inbox_dir": Path(inbox) if inbox else None,
        "exchange_inbox_seconds": _at_least(1, "ECABINET_EXCHANGE_INBOX_SECONDS", number(
            "ECABINET_EXCHANGE_INBOX_SECONDS", defaults.exchange_inbox_seconds)),
        "exchange_max_package_bytes": largest,
        "exchange_parse_seconds": _at_least(1, "ECABINET_EXCHANGE_PARSE_SECONDS", number(
            "ECABINET_EXCHANGE_PARSE_SECONDS", defaults.exchange_parse_seconds)),
        "exchange_parse_memory_mb": _at_least(200, "ECABINET_EXCHANGE_PARSE_MEMORY_MB", number(
            "ECABINET_EXCHANGE_PARSE_MEMORY_MB", defaults.exchange_parse_memory_mb)),
        "exchange_slots": _at_least(1, "ECABINET_EXCHANGE_SLOTS", number("ECABINET_EXCHANGE_SLOTS",
                                                                         defaults.exchange_slots)),
        "exchange_queue": _at_least(0, "ECABINET_EXCHANGE_QUEUE", number("ECABINET_EXCHANGE_QUEUE",
                                                                         defaults.exchange_queue)),
        "exchange_wait_seconds": _at_least(1, "ECABINET_EXCHANGE_WAIT_SECONDS", number(
            "ECABINET_EXCHANGE_WAIT_SECONDS", defaults.exchange_wait_seconds)),
        "exchange_gateway_secret": secret,
        "exchange_trust_anchors": path("ECABINET_EXCHANGE_TRUST_ANCHORS"),
        "exchange_signing_key": key,
        "exchange_signing_cert": cert,
        "exchange_agency_code": code,
        "exchange_agency_name": env.get("ECABINET_EXCHANGE_AGENCY_NAME", defaults.exchange_agency_name).strip(),
        "exchange_gateway_url": env.get("ECABINET_EXCHANGE_GATEWAY_URL", "").strip(),
        "exchange_outbox_secret": env.get("ECABINET_EXCHANGE_OUTBOX_SECRET", "").strip(),
        "exchange_outbox_seconds": float(_at_least(1, "ECABINET_EXCHANGE_OUTBOX_SECONDS", number(
            "ECABINET_EXCHANGE_OUTBOX_SECONDS", int(defaults.exchange_outbox_seconds)))),
        "exchange_retry_seconds": float(_at_least(1, "ECABINET_EXCHANGE_RETRY_SECONDS", number(
            "ECABINET_EXCHANGE_RETRY_SECONDS", int(defaults.exchange_retry_seconds)))),
        "exchange_max_attempts": _at_least(1, "ECABINET_EXCHANGE_MAX_ATTEMPTS", number(
            "ECABINET_EXCHANGE_MAX_ATTEMPTS", defaults.exchange_max_attempts)),
        "exchange_lease_seconds": float(_at_least(10, "ECABINET_EXCHANGE_LEASE_SECONDS", number(
            "ECABINET_EXCHANGE_LEASE_SECONDS", int(defaults.exchange_lease_seconds)))),
    }


_REDIS_PREFIX = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _redis_prefix(raw: str) -> str:
    if raw and not _REDIS_PREFIX.match(raw):
        raise ConfigError(f"ECABINET_REDIS_PREFIX must be 1 to 64 letters, digits or . _ : -, not {raw!r}")
    return raw


def _at_least(low: int, name: str, value: int) -> int:
    if value < low:
        raise ConfigError(f"{name} must be at least {low}, not {value}")
    return value


def _between(low: int, high: int, name: str, value: int) -> int:
    if not low <= value <= high:
        raise ConfigError(f"{name} must be {low} to {high}, not {value}")
    return value


def _listed(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _networks(raw: str, setting: str = "ECABINET_TRUSTED_PROXIES") -> tuple[str, ...]:
    """Addresses or networks, checked now so a typo stops the start instead of trusting nobody."""
    out = []
    for part in _listed(raw):
        try:
            out.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError as exc:
            raise ConfigError(f"{setting}: {part!r} is not an IP address or network") from exc
    return tuple(out)


def _gc_thresholds(raw: str | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    if raw is None or not raw.strip():
        return default
    if raw.strip().lower() == "python":
        return (700, 10, 10)
    parts = [part.strip() for part in raw.split(",")]
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ConfigError(f"ECABINET_GC_THRESHOLDS must be three whole numbers above 0 (as 20000,10,10) or "
                          f"python, not {raw!r}")
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def _log_format(raw: str) -> str:
    fmt = raw.strip().lower()
    if fmt not in {"json", "text"}:
        raise ConfigError(f"ECABINET_LOG_FORMAT must be json or text, not {raw!r}")
    return fmt


def _metrics_addresses(raw: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return Settings.metrics_addresses
    if raw.strip().lower() == "none":
        return ()
    return _networks(raw, "ECABINET_METRICS_ADDRESSES")


def _metrics_token(raw: str) -> str:
    token = raw.strip()
    if token and len(token) < 24:
        raise ConfigError("ECABINET_METRICS_TOKEN must be at least 24 characters (or unset)")
    return token


def _media_codec(raw: str) -> str:
    codec = raw.strip().upper()
    if codec not in {"VP8", "H264"}:
        raise ConfigError(f"ECABINET_MEDIA_CODEC must be VP8 or H264, not {raw!r}")
    return codec


def _media_backend(raw: str, janus_urls: str) -> str:
    backend = raw.strip().lower()
    if backend not in {"aiortc", "janus"}:
        raise ConfigError(f"ECABINET_MEDIA_BACKEND must be aiortc or janus, not {raw!r}")
    if backend == "janus" and not _listed(janus_urls):
        raise ConfigError("ECABINET_MEDIA_BACKEND=janus needs ECABINET_JANUS_URLS (Janus's HTTP API, "
                          "e.g. http://10.0.0.5:8088/janus)")
    return backend


def _janus_urls(raw: str) -> tuple[str, ...]:
    urls = _listed(raw)
    for url in urls:
        if not re.match(r"^https?://[A-Za-z0-9.\[\]:-]+(:\d{1,5})?(/\S*)?$", url):
            raise ConfigError(f"ECABINET_JANUS_URLS: {url!r} is not an http:// or https:// URL of Janus's API")
    return urls


def _ice_urls(raw: str) -> tuple[str, ...]:
    """Checked now: a URL aiortc cannot read would fail every peer connection of the relay, in a meeting."""
    try:
        return tuple(check_url(url) for url in _listed(raw))
    except ValueError as exc:
        raise ConfigError(f"ECABINET_MEDIA_ICE_SERVERS: {exc}") from exc


def _turn_secret(raw: str) -> str:
    secret = raw.strip()
    if secret and len(secret) < 16:
        raise ConfigError("ECABINET_TURN_SECRET must be a random value of at least 16 characters (or unset), "
                          "the same as coturn's static-auth-secret")
    return secret


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings (postgres://, postgresql://, sqlite:///) and pick the async drivers."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://"):]
    return url
