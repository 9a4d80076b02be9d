"""`ecabinet serve | relay | migrate | demo | user add|passwd|list | pki init|issue|import|token|list |
verify | trace | backup | restore | agencies import|list`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import pathlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from backend import logs
from backend.config import Settings
from backend.db import Database
from backend.exceptions import AppError, ConfigError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        sys.exit(f"ecabinet: {exc}")


def _with_db(settings: Settings, work: Callable[[Database], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        db = Database(settings.effective_database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()
    try:
        return asyncio.run(go())
    except AppError as exc:
        sys.exit(f"ecabinet: {exc.message} ({exc.code})")


def cmd_migrate(args: argparse.Namespace) -> None:
    from backend import migrate

    settings = _settings()
    if args.new:
        migrate.make_revision(settings.effective_database_url, args.new)
        return
    migrate.upgrade(settings.effective_database_url)
    print(f"database is up to date ({_redacted(settings.effective_database_url)})")


def cmd_backup(args: argparse.Namespace) -> None:
    """A consistent archive of the database and the data directory's files, taken while serving.
    Exit 0: written; 1: refused (a secret poll is open) or failed, nothing written."""
    from pathlib import Path

    from backend import backup

    settings = _settings()
    try:
        summary = backup.backup(settings, Path(args.file))
    except backup.BackupError as exc:
        sys.exit(f"ecabinet: backup refused: {exc.message} ({exc.code})")
    print(f"backup written to {args.file}: schema revision {summary.revision}, "
          f"{sum(summary.rows.values())} rows in {len(summary.rows)} tables, {summary.files} files")


def cmd_restore(args: argparse.Namespace) -> None:
    """Restore an archive into an empty instance. Exit 0: restored; 1: refused or a bad archive."""
    from pathlib import Path

    from backend import backup

    settings = _settings()
    try:
        summary = backup.restore(settings, Path(args.file))
    except backup.BackupError as exc:
        sys.exit(f"ecabinet: restore refused: {exc.message} ({exc.code})")
    print(f"restored {args.file} into {_redacted(settings.effective_database_url)}: schema revision "
          f"{summary.revision}, {sum(summary.rows.values())} rows, {summary.files} files "
          "(now migrated to the current revision)")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from backend import gc_policy, migrate
    from backend.app import create_app

    settings = _settings()
    host = args.host or settings.host
    port = args.port or settings.port
    logs.configure(settings.log_level, settings.log_format)
    if not args.no_migrate:
        migrate.upgrade(settings.effective_database_url)
    if args.workers > 1:
        from backend import supervisor

        if not settings.redis_url:
            sys.exit("ecabinet: several workers need REDIS_URL (events and presence are shared through Redis)")
        sys.exit(supervisor.run(args.workers, host, port))
    print(f"e-Cabinet ({settings.mode} mode) on http://{host}:{port}  database: "
          f"{_redacted(settings.effective_database_url)}", flush=True)
    # X-Forwarded-* are believed by the application itself, from ECABINET_TRUSTED_PROXIES only.
    # uvicorn's loggers go through the process's one handler (log_config=None: JSON, secrets withheld);
    # its access log is off: the application logs one line per request itself (backend/monitoring.py).
    app = create_app(settings)
    gc_policy.apply(settings.gc_thresholds)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level, proxy_headers=False,
                log_config=None, access_log=False)


def cmd_nginx_config(args: argparse.Namespace) -> None:
    from backend.deploy import NginxOptions, render_nginx

    settings = _settings()
    print(render_nginx(NginxOptions(
        server_name=args.server_name, listen=args.listen, listen_http=args.listen_http or None,
        certificate=args.cert, certificate_key=args.key, frontend_dir=args.frontend_dir,
        workers=tuple(f"127.0.0.1:{args.port + i}" for i in range(args.workers)),
        relays=_relays_option(args), relay_prefix=settings.relay_path or "/relay",
        max_upload_bytes=settings.max_document_bytes,
        extra=tuple(args.extra))), end="")


def _relays_option(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """--relay NAME=HOST:PORT (repeatable), else --relay-port P: one relay named main (0: none)."""
    from backend.services.relays import NAME

    if not args.relay:
        return (("main", f"127.0.0.1:{args.relay_port}"),) if args.relay_port else ()
    out = []
    for spec in args.relay:
        name, _, address = spec.partition("=")
        if not NAME.match(name) or not address:
            sys.exit(f"ecabinet: --relay wants NAME=HOST:PORT (name: lowercase letters, digits, '-'), not {spec!r}")
        out.append((name, address))
    return tuple(out)


def cmd_exchange_gateway(args: argparse.Namespace) -> None:
    """A local exchange gateway (backend/exchange_gateway.py): for development and tests only."""
    import uvicorn

    from backend.exceptions import ConfigError
    from backend.exchange_gateway import create_gateway_app, load_config

    try:
        config = load_config(pathlib.Path(args.config))
    except ConfigError as exc:
        sys.exit(f"ecabinet: {exc}")
    print(f"e-Cabinet exchange gateway (development only) on http://{args.host}:{args.port}/packages", flush=True)
    uvicorn.run(create_gateway_app(config), host=args.host, port=args.port, log_level="warning",
                proxy_headers=False, access_log=False)


def cmd_relay(args: argparse.Namespace) -> None:
    """The video bridge's relay as its own process (see create_relay_app)."""
    import uvicorn

    from backend.app import create_relay_app
    from backend.services import relays

    settings = _settings()
    host, port = args.host or settings.host, args.port
    logs.configure(settings.log_level, settings.log_format)
    if not relays.NAME.match(args.name):
        sys.exit("ecabinet: a relay's name is 1 to 32 lowercase letters, digits or '-'")
    path = relays.signalling_path(settings, args.name)
    print(f"e-Cabinet relay {args.name} on http://{host}:{port}{path} (namespace /media)", flush=True)
    app = create_relay_app(settings, name=args.name, address=f"{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level, proxy_headers=False,
                log_config=None, access_log=False)


def cmd_relays(args: argparse.Namespace) -> None:
    """The operator's view of the relays and their meetings: list, assign, unassign."""
    import json

    from backend.services import relays

    settings = _settings()
    if args.relays_command == "list":
        rows = _with_db(settings, relays.listing)
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            print("no relay has registered yet (start one: ecabinet relay --name NAME --port PORT)")
        for row in rows:
            meetings = ", ".join(str(m["meeting_id"]) + ("" if m["by_operator"] else " (auto)")
                                 for m in row["meetings"]) or "-"
            print(f"{row['name']}\t{'alive' if row['alive'] else 'silent'}\t{row['address']}\t{row['path']}\t"
                  f"last seen {row['last_seen']}\tmeetings: {meetings}")
    elif args.relays_command == "assign":
        done = _with_db(settings, lambda db: relays.assign(db, args.meeting_id, args.relay))
        print(f"meeting {done['meeting_id']}: its video bridge runs on relay {done['relay']}")
    else:
        if _with_db(settings, lambda db: relays.unassign(db, args.meeting_id)):
            print(f"meeting {args.meeting_id}: no relay assigned (the next site to join chooses the least busy)")
        else:
            print(f"meeting {args.meeting_id} had no relay assigned")


def cmd_demo(args: argparse.Namespace) -> None:
    from backend import migrate
    from backend.services import demo
    from backend.services.exchange import agencies

    settings = _settings()
    if settings.mode == "production" and not args.force:
        sys.exit("ecabinet: refusing to load demo accounts with known passwords in production mode "
                 "(use --force on a test system)")
    migrate.upgrade(settings.effective_database_url)
    accounts = _with_db(settings, demo.load)
    signers = _with_db(settings, lambda db: demo.load_signing(db, settings))
    if _with_db(settings, lambda db: demo.load_documents(db, settings)):
        print("demo meeting documents uploaded")
    if _with_db(settings, agencies.load_demo):
        print("example agency directory loaded (examples, not the official list: see docs/exchange.md)")
    if signers:
        print(f"signing certificates issued to {', '.join(signers)} (key passphrase {demo.SIGNING_PASSPHRASE})")
    if accounts is None:
        print("demo data already loaded (passwords: see README.md)")
        return
    print("Demo data loaded. Accounts (shown once; also listed in README.md):")
    for a in accounts:
        print(f"  {a.username:16} {a.password:18} {a.full_name} — {a.title}")


def cmd_agencies(args: argparse.Namespace) -> None:
    """The directory of agencies we exchange documents with: import a CSV file (all or nothing), list it."""
    import json
    from pathlib import Path

    from backend.services.exchange import agencies

    settings = _settings()
    if args.agencies_command == "import":
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            sys.exit(f"ecabinet: cannot read {args.file} as UTF-8 text: {exc}")
        try:
            done = _with_db(settings, lambda db: agencies.import_csv(db, text))
        except agencies.DirectoryRefused as exc:
            print(f"ecabinet: {args.file}: nothing was imported:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            sys.exit(1)
        print(f"{done['added']} agencies added, {done['updated']} updated")
        return
    rows = _with_db(settings, agencies.listing)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        print("the directory is empty (import one: ecabinet agencies import FILE.csv)")
    for a in rows:
        print(f"{a['code']}\t{a['level']}\t{a['parent_code'] or '-'}\t{'' if a['active'] else '(inactive) '}"
              f"{a['name']}")


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    env = os.environ.get("ECABINET_NEW_PASSWORD")
    if env:
        return env
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        sys.exit("ecabinet: the passwords differ")
    return first


def cmd_user_add(args: argparse.Namespace) -> None:
    from backend.api.schemas import UserCreate
    from backend.services import users

    settings = _settings()
    password = _read_password(args)
    try:
        data = UserCreate.model_validate({
            "username": args.username, "full_name": args.full_name, "title": args.title, "password": password,
            "language": args.language, "is_admin": args.admin, "is_secretariat": args.secretariat,
            "body_id": args.body_id}, strict=False)
    except ValueError as exc:
        sys.exit(f"ecabinet: {exc}")
    user = _with_db(settings, lambda db: users.create(db, None, data.model_dump()))
    print(f"created user {user.username} (id {user.id})")


def cmd_user_passwd(args: argparse.Namespace) -> None:
    from backend.services import users
    from backend.services.events import NullBus

    settings = _settings()
    password = _read_password(args)

    async def work(db: Database) -> None:
        user = await users.by_username(db, args.username)
        if user is None or user.id is None:
            sys.exit(f"ecabinet: no user {args.username!r}")
        # No bus here: the workers' open sockets of the account notice at their next check
        # (ECABINET_SESSION_RECHECK_MS).
        await users.reset_password(db, None, user.id, password, NullBus())

    _with_db(settings, work)
    print(f"password of {args.username} changed; its sessions have ended")


def cmd_user_list(args: argparse.Namespace) -> None:
    from backend.services import users

    settings = _settings()
    rows = _with_db(settings, lambda db: users.listing(db, None))
    for u in rows:
        flags = ",".join(f for f, on in (("admin", u.is_admin), ("secretariat", u.is_secretariat),
                                         ("inactive", not u.is_active)) if on)
        print(f"{u.id:5} {u.username:20} {u.full_name:30} {u.title:40} {flags}")


def _read_secret(args: argparse.Namespace, prompt: str, env: str, *, confirm: bool = False) -> str:
    """A passphrase or PIN: from stdin (--secret-stdin), the environment variable `env`, or a prompt."""
    if getattr(args, "secret_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get(env):
        return os.environ[env]
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat it: ") != first:
        sys.exit("ecabinet: the two entries differ")
    return first


def cmd_pki_init(args: argparse.Namespace) -> None:
    from backend.services import credentials

    settings = _settings()
    try:
        paths = credentials.init_ca(settings, force=args.force)
    except AppError as exc:
        sys.exit(f"ecabinet: {exc.message} ({exc.code})")
    print(f"development CA created in {settings.effective_pki_dir} (root: {paths.root_cert})")
    print("signatures from it are trusted in demo mode; in production list real roots in ECABINET_TRUST_ROOTS")


def cmd_pki_issue(args: argparse.Namespace) -> None:
    from backend.services import credentials

    settings = _settings()
    passphrase = _read_secret(args, "Passphrase for the new key: ", "ECABINET_KEY_PASSPHRASE", confirm=True)
    out = _with_db(settings, lambda db: credentials.issue(db, settings, args.username, passphrase))
    print(f"issued certificate {out['serial']} for {args.username}: {out['subject']} "
          f"(valid until {out['not_after']:%Y-%m-%d}, credential id {out['id']})")


def cmd_pki_import(args: argparse.Namespace) -> None:
    from backend.services import credentials

    settings = _settings()
    try:
        data = open(args.file, "rb").read()  # noqa: SIM115 (a CLI reads one small file)
    except OSError as exc:
        sys.exit(f"ecabinet: cannot read {args.file}: {exc.strerror}")
    passphrase = _read_secret(args, "Passphrase of the .p12 file: ", "ECABINET_KEY_PASSPHRASE")
    out = _with_db(settings, lambda db: credentials.import_pkcs12(db, args.username, data, passphrase))
    print(f"attached {out['subject']} (issuer {out['issuer']}) to {args.username}, credential id {out['id']}")


def cmd_pki_token(args: argparse.Namespace) -> None:
    import signing
    from backend.services import credentials

    settings = _settings()
    pin = _read_secret(args, "Token PIN: ", "ECABINET_TOKEN_PIN")
    config = signing.TokenConfig(module_path=args.module, token_label=args.token, key_label=args.key,
                                 cert_label=args.cert or args.key, user_pin=pin)
    out = _with_db(settings, lambda db: credentials.register_token(db, args.username, config))
    print(f"registered the token key {args.key!r} ({out['subject']}) for {args.username}, credential id {out['id']}")


def cmd_pki_list(args: argparse.Namespace) -> None:
    from backend.services import credentials

    settings = _settings()
    for c in _with_db(settings, lambda db: credentials.list_for(db, args.username)):
        state = "usable" if c["usable"] else "NOT usable"
        print(f"{c['id']:5} {c['kind']:6} {c['subject']}  until {c['not_after']:%Y-%m-%d}  {state}")


def _read_or_exit(path: str) -> bytes:
    """A file named on the command line, or exit 2 (the commands' "could not check" code) saying why."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        print(f"ecabinet: cannot read {path}: {exc.strerror}", file=sys.stderr)
        sys.exit(2)


def cmd_verify(args: argparse.Namespace) -> None:
    """Exit 0: every signature valid; 1: not signed or a signature is invalid; 2: could not verify."""
    from backend.services import verification

    settings = _settings()
    logs.configure(settings.log_level)
    data = _read_or_exit(args.file)
    try:
        report = asyncio.run(verification.verify(settings, data))
    except (AppError, ConfigError) as exc:
        print(f"ecabinet: {getattr(exc, 'message', exc)}", file=sys.stderr)
        sys.exit(2)
    if args.json:
        import json

        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(_verification_text(args.file, report))
    sys.exit(0 if report.get("valid") else 1)


def cmd_seal(args: argparse.Namespace) -> None:
    """A body's seal image (PNG), drawn over its head's signatures. Exit 0 stored; 1 refused."""
    from backend.services import signature_images

    settings = _settings()
    data = _read_or_exit(args.file)
    out = _with_db(settings, lambda db: signature_images.set_seal(db, settings, None, args.body_id, data))
    print(f"seal of body {args.body_id} stored (sha256 {out['sha256']})")


def cmd_trace(args: argparse.Namespace) -> None:
    """Whose copy a leaked PDF is. Exit 0: named its holder; 1: no copy of ours found; 2: could not read."""
    from backend.services.copies import Copies
    from backend.services.files import FileStore

    settings = _settings()
    data = _read_or_exit(args.file)
    result = _with_db(settings, lambda db: Copies(db, FileStore.for_settings(settings), settings).trace(None, data))
    if args.json:
        import json

        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    elif not result["copies"]:
        print(f"{args.file}: no copy of this system found" + (f" (unknown tokens: {', '.join(result['tokens'])})"
                                                               if result["tokens"] else ""))
    else:
        print(f"{args.file}: a copy handed out by e-Cabinet")
        for c in result["copies"]:
            what = f"document {c['document_id']} version {c['version']}" if c["document_id"] else "meeting book"
            print(f"  {c['user_name']} ({c['username']}): {c['kind']} of {what} in meeting {c['meeting_id']}, "
                  f"{c['created_at'].isoformat()} (copy {c['token']})")
    sys.exit(0 if result["copies"] else 1)


def _verification_text(name: str, report: dict[str, Any]) -> str:
    lines = [f"{name}: {'VALID' if report.get('valid') else 'NOT VALID'}"]
    sigs = report.get("signatures") or []
    if not sigs:
        lines.append("  no signatures")
    for sig in sigs:
        verdict = "valid" if sig.get("valid") else "INVALID"
        lines.append(f"  [{sig.get('field_name')}] {verdict}: {sig.get('signer_common_name')} "
                     f"({sig.get('pades_level') or 'not PAdES'}), signed {sig.get('signing_time')}")
        lines.append(f"    intact={sig.get('intact')} trusted={sig.get('trusted')} "
                     f"revocation={sig.get('revocation')} coverage={sig.get('coverage')}")
        for reason in sig.get("reasons") or []:
            lines.append(f"    - {reason}")
    for ts in report.get("document_timestamps") or []:
        ok = ts.get("intact") and ts.get("trusted")
        lines.append(f"  document timestamp {ts.get('time')}: {'valid' if ok else 'INVALID'}")
    return "\n".join(lines)


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecabinet", description="e-Cabinet: paperless government sessions")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate the database, then serve the app")
    serve.add_argument("--host", help="default: ECABINET_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: ECABINET_PORT or 8000")
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="run N worker processes on PORT..PORT+N-1 behind a reverse proxy (needs REDIS_URL); "
                            "a worker that dies is started again")
    serve.set_defaults(func=cmd_serve)

    seal = sub.add_parser("seal", help="set a body's seal image (PNG), drawn over its head's signatures")
    seal.add_argument("body_id", type=int)
    seal.add_argument("file", help="the seal as a PNG (transparent background)")
    seal.set_defaults(func=cmd_seal)

    ngx = sub.add_parser("nginx-config", help="print the nginx site configuration for N workers and a relay")
    ngx.add_argument("--server-name", default="ecabinet.example.gov.vn")
    ngx.add_argument("--listen", default="443", help="HTTPS listen address (default 443)")
    ngx.add_argument("--listen-http", default="80", help="HTTP listen that redirects to HTTPS ('' for none)")
    ngx.add_argument("--cert", default="/etc/ssl/ecabinet/fullchain.pem")
    ngx.add_argument("--key", default="/etc/ssl/ecabinet/privkey.pem")
    ngx.add_argument("--frontend-dir", default="/opt/ecabinet/frontend")
    ngx.add_argument("--workers", type=int, default=3)
    ngx.add_argument("--port", type=int, default=8001, help="the first worker's port")
    ngx.add_argument("--relay-port", type=int, default=8090, help="one relay named main on this port (0: none)")
    ngx.add_argument("--relay", action="append", default=[], metavar="NAME=HOST:PORT",
                     help="a relay process (repeatable; replaces --relay-port)")
    ngx.add_argument("--extra", action="append", default=[], help="an extra http-level line (repeatable)")
    ngx.set_defaults(func=cmd_nginx_config)

    bak = sub.add_parser("backup", help="write a consistent archive of the database and files (while serving; "
                                        "refused while a secret poll is open)")
    bak.add_argument("file")
    bak.set_defaults(func=cmd_backup)
    res = sub.add_parser("restore", help="restore an archive made by `ecabinet backup` into an empty instance")
    res.add_argument("file")
    res.set_defaults(func=cmd_restore)

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.add_argument("--new", metavar="MESSAGE", help="(developers) autogenerate a new migration")
    mig.set_defaults(func=cmd_migrate)

    demo = sub.add_parser("demo", help="load the Vietnamese demo data once")
    demo.add_argument("--force", action="store_true", help="allow in production mode")
    demo.set_defaults(func=cmd_demo)

    user = sub.add_parser("user", help="manage accounts").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="create an account (password from prompt, ECABINET_NEW_PASSWORD or stdin)")
    add.add_argument("username")
    add.add_argument("--full-name", required=True)
    add.add_argument("--title", default="")
    add.add_argument("--language", default="vi", choices=["vi", "en"])
    add.add_argument("--admin", action="store_true")
    add.add_argument("--secretariat", action="store_true")
    add.add_argument("--body-id", type=int)
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(func=cmd_user_add)
    pw = user.add_parser("passwd", help="set an account's password")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    pw.set_defaults(func=cmd_user_passwd)
    ls = user.add_parser("list", help="list accounts")
    ls.set_defaults(func=cmd_user_list)

    pki = sub.add_parser("pki", help="signing certificates").add_subparsers(dest="pki_command", required=True)
    init = pki.add_parser("init", help="create the development root and issuing CA (data dir/pki)")
    init.add_argument("--force", action="store_true", help="replace an existing development CA")
    init.set_defaults(func=cmd_pki_init)
    issue = pki.add_parser("issue", help="issue a signing certificate from the development CA to a user "
                                         "(passphrase from prompt, ECABINET_KEY_PASSPHRASE or stdin)")
    issue.add_argument("username")
    issue.add_argument("--secret-stdin", action="store_true")
    issue.set_defaults(func=cmd_pki_issue)
    imp = pki.add_parser("import", help="attach a certificate and key from a real CA (.p12 file)")
    imp.add_argument("username")
    imp.add_argument("file")
    imp.add_argument("--secret-stdin", action="store_true")
    imp.set_defaults(func=cmd_pki_import)
    token = pki.add_parser("token", help="attach a key on a PKCS#11 token (USB token, HSM)")
    token.add_argument("username")
    token.add_argument("--module", default="/usr/lib/softhsm/libsofthsm2.so", help="the PKCS#11 module (.so)")
    token.add_argument("--token", required=True, help="token label")
    token.add_argument("--key", required=True, help="label of the private key")
    token.add_argument("--cert", help="label of the certificate (default: the key's label)")
    token.add_argument("--secret-stdin", action="store_true")
    token.set_defaults(func=cmd_pki_token)
    pls = pki.add_parser("list", help="a user's signing credentials")
    pls.add_argument("username")
    pls.set_defaults(func=cmd_pki_list)

    verify = sub.add_parser("verify", help="verify a PDF's signatures (exit 0 valid, 1 invalid, 2 error)")
    verify.add_argument("file")
    verify.add_argument("--json", action="store_true", help="print the whole report as JSON")
    verify.set_defaults(func=cmd_verify)
    gw = sub.add_parser("exchange-gateway", help="FOR DEVELOPMENT AND TESTS ONLY: a local document exchange "
                        "gateway forwarding edXML packages between e-Cabinet instances (see docs/exchange.md)")
    gw.add_argument("--config", required=True, help="JSON: trust_anchors, agencies {code: {url, secret}}, "
                                                    "senders {code: bearer}")
    gw.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    gw.add_argument("--port", type=int, default=8700, help="default: 8700")
    gw.set_defaults(func=cmd_exchange_gateway)
    relay = sub.add_parser("relay", help="run the video bridge's relay as its own process")
    relay.add_argument("--host", help="default: ECABINET_HOST or 127.0.0.1")
    relay.add_argument("--port", type=int, default=8100, help="default: 8100")
    relay.add_argument("--name", default="main",
                       help="this relay's name (its signalling path: /relay/NAME/socket.io); default: main")
    relay.set_defaults(func=cmd_relay)
    rel = sub.add_parser("relays", help="the relays and the meetings assigned to them").add_subparsers(
        dest="relays_command", required=True)
    rls = rel.add_parser("list", help="every relay that registered: alive or not, its meetings")
    rls.add_argument("--json", action="store_true")
    rls.set_defaults(func=cmd_relays)
    ras = rel.add_parser("assign", help="put a meeting's video bridge on a relay (kept across restarts)")
    ras.add_argument("meeting_id", type=int)
    ras.add_argument("relay", help="the relay's name")
    ras.set_defaults(func=cmd_relays)
    run = rel.add_parser("unassign", help="forget a meeting's relay (the next join chooses the least busy)")
    run.add_argument("meeting_id", type=int)
    run.set_defaults(func=cmd_relays)
    ag = sub.add_parser("agencies", help="the directory of agencies documents are exchanged with").add_subparsers(
        dest="agencies_command", required=True)
    agi = ag.add_parser("import", help="add or update agencies from a CSV file (code,name,level,parent_code); "
                                       "any invalid row and nothing is imported")
    agi.add_argument("file")
    agi.set_defaults(func=cmd_agencies)
    agl = ag.add_parser("list", help="every agency in the directory")
    agl.add_argument("--json", action="store_true")
    agl.set_defaults(func=cmd_agencies)
    trace = sub.add_parser("trace", help="name whose copy a leaked PDF is (exit 0 found, 1 not ours, 2 error)")
    trace.add_argument("file")
    trace.add_argument("--json", action="store_true", help="print the copies found as JSON")
    trace.set_defaults(func=cmd_trace)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
