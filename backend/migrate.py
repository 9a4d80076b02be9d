"""Apply the Alembic migrations to the configured database (used by `ecabinet migrate` and at start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate leaves alone the full-text search objects that migration 0008 makes by hand
    (the FTS5 table and its shadow tables on SQLite; the tsvector column and its GIN index on PostgreSQL)."""
    return not (name or "").startswith(("document_pages_fts", "ix_document_pages_fts", "fts_vector"))


def upgrade(database_url: str, revision: str = "head") -> None:
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def make_revision(database_url: str, message: str) -> None:
    """Developers: autogenerate a new migration from the models (`ecabinet migrate --new MESSAGE`)."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
