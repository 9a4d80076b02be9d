"""In-app notifications, and when an opinion round's "closes soon" notice went out

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("params", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("link", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_user_read", ["user_id", "read_at", "id"], unique=False)
    with op.batch_alter_table("opinion_rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closing_notified_at", backend.models.base.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("opinion_rounds", schema=None) as batch_op:
        batch_op.drop_column("closing_notified_at")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_read")
    op.drop_table("notifications")
