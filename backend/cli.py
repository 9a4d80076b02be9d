"""`ecabinet serve | migrate | demo | user add|passwd|list`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

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


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from backend import migrate
    from backend.app import create_app

    settings = _settings()
    host = args.host or settings.host
    port = args.port or settings.port
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not args.no_migrate:
        migrate.upgrade(settings.effective_database_url)
    print(f"e-Cabinet ({settings.mode} mode) on http://{host}:{port}  database: "
          f"{_redacted(settings.effective_database_url)}", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level,
                proxy_headers=True, forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"))


def cmd_demo(args: argparse.Namespace) -> None:
    from backend import migrate
    from backend.services import demo

    settings = _settings()
    if settings.mode == "production" and not args.force:
        sys.exit("ecabinet: refusing to load demo accounts with known passwords in production mode "
                 "(use --force on a test system)")
    migrate.upgrade(settings.effective_database_url)
    accounts = _with_db(settings, demo.load)
    if accounts is None:
        print("demo data already loaded (passwords: see README.md)")
        return
    print("Demo data loaded. Accounts (shown once; also listed in README.md):")
    for a in accounts:
        print(f"  {a.username:16} {a.password:18} {a.full_name} — {a.title}")


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

    settings = _settings()
    password = _read_password(args)

    async def work(db: Database) -> None:
        user = await users.by_username(db, args.username)
        if user is None or user.id is None:
            sys.exit(f"ecabinet: no user {args.username!r}")
        await users.reset_password(db, None, user.id, password)

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
    serve.set_defaults(func=cmd_serve)

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
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
