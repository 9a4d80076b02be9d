"""The video bridge's relays (processes of their own) and which relay carries each meeting's bridge

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 13:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_relays",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("started_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "relay_assignments",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("relay_name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("by_operator", sa.Boolean(), nullable=False),
        sa.Column("assigned_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["relay_name"], ["media_relays.name"]),
        sa.PrimaryKeyConstraint("meeting_id"),
    )
    with op.batch_alter_table("relay_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_relay_assignments_relay_name"), ["relay_name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("relay_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relay_assignments_relay_name"))
    op.drop_table("relay_assignments")
    op.drop_table("media_relays")
