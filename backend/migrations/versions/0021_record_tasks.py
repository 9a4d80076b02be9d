"""Tasks a resolution assigns to agencies, and each agency's delivery and status

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 16:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "record_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("article", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lead_code", sqlmodel.sql.sqltypes.AutoString(length=13), nullable=False),
        sa.Column("cooperating", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("document_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("sent_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"]),
        sa.ForeignKeyConstraint(["record_id"], ["resolutions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id"),
    )
    with op.batch_alter_table("record_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_tasks_record_id"), ["record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_record_tasks_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_record_tasks_lead_code"), ["lead_code"], unique=False)
    op.create_table(
        "task_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("agency_code", sqlmodel.sql.sqltypes.AutoString(length=13), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("outgoing_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["outgoing_id"], ["outgoing_packages.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["record_tasks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "agency_code", name="uq_task_delivery"),
    )
    with op.batch_alter_table("task_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_deliveries_task_id"), ["task_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_deliveries_agency_code"), ["agency_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_deliveries_agency_code"))
        batch_op.drop_index(batch_op.f("ix_task_deliveries_task_id"))
    op.drop_table("task_deliveries")
    with op.batch_alter_table("record_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_tasks_lead_code"))
        batch_op.drop_index(batch_op.f("ix_record_tasks_meeting_id"))
        batch_op.drop_index(batch_op.f("ix_record_tasks_record_id"))
    op.drop_table("record_tasks")
