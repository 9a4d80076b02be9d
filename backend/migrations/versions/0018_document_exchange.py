"""Document exchange: the agency directory and the inbox of documents received as edXML packages

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 18:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=13), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("parent_code", sqlmodel.sql.sqltypes.AutoString(length=13), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "incoming_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_code", sqlmodel.sql.sqltypes.AutoString(length=13), nullable=False),
        sa.Column("sender_name", sa.Text(), nullable=False),
        sa.Column("document_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("promulgation_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("received_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("package_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signer", sa.Text(), nullable=False),
        sa.Column("attachments", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender_code", "document_id", name="uq_incoming_document"),
    )
    with op.batch_alter_table("incoming_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incoming_documents_sender_code"), ["sender_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_incoming_documents_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incoming_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incoming_documents_received_at"))
        batch_op.drop_index(batch_op.f("ix_incoming_documents_sender_code"))
    op.drop_table("incoming_documents")
    op.drop_table("agencies")
