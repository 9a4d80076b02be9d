"""user search key (folded username and name, for diacritic-insensitive search)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.domain.text import fold

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_key", sa.String(length=300), nullable=False, server_default=""))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String),
                     sa.column("full_name", sa.String), sa.column("search_key", sa.String))
    conn = op.get_bind()
    for row in conn.execute(sa.select(users.c.id, users.c.username, users.c.full_name)).all():
        conn.execute(users.update().where(users.c.id == row.id)
                     .values(search_key=fold(f"{row.username} {row.full_name}")[:300]))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("search_key")
