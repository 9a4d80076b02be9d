"""Document exchange: the outbox of packages sent to other agencies

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 19:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outgoing_packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("recipient_code", sqlmodel.sql.sqltypes.AutoString(length=13), nullable=False),
        sa.Column("document_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("package_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["record_id"], ["resolutions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id", "recipient_code", name="uq_outgoing_package"),
    )
    with op.batch_alter_table("outgoing_packages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outgoing_packages_record_id"), ["record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outgoing_packages_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outgoing_packages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outgoing_packages_state"))
        batch_op.drop_index(batch_op.f("ix_outgoing_packages_record_id"))
    op.drop_table("outgoing_packages")
