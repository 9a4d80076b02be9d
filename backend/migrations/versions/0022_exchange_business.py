"""Document exchange: recall, update and replacement of documents received (their history) and sent

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incoming_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaced_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_incoming_documents_replaced_by_id", "incoming_documents",
                                    ["replaced_by_id"], ["id"])
    op.create_table(
        "incoming_document_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incoming_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.Column("package_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("received_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incoming_id"], ["incoming_documents.id"]),
        sa.ForeignKeyConstraint(["replaced_by_id"], ["incoming_documents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incoming_id", "package_sha256", name="uq_incoming_change"),
    )
    with op.batch_alter_table("incoming_document_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incoming_document_changes_incoming_id"), ["incoming_id"], unique=False)
    with op.batch_alter_table("outgoing_packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("business", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_constraint("uq_outgoing_package", type_="unique")
        batch_op.create_unique_constraint("uq_outgoing_package",
                                          ["kind", "document_id", "recipient_code", "status_code", "business"])


def downgrade() -> None:
    with op.batch_alter_table("outgoing_packages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_outgoing_package", type_="unique")
        batch_op.create_unique_constraint("uq_outgoing_package",
                                          ["kind", "document_id", "recipient_code", "status_code"])
        batch_op.drop_column("business")
    with op.batch_alter_table("incoming_document_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incoming_document_changes_incoming_id"))
    op.drop_table("incoming_document_changes")
    with op.batch_alter_table("incoming_documents", schema=None) as batch_op:
        batch_op.drop_constraint("fk_incoming_documents_replaced_by_id", type_="foreignkey")
        batch_op.drop_column("replaced_by_id")
