"""Document exchange: tracking each document's status (our steps on what we receive, the statuses reported
on what we send); the outbox also carries status packages

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows are documents (kind "document", no status code): the server defaults fill them, then go.
    with op.batch_alter_table("outgoing_packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False,
                                      server_default="document"))
        batch_op.add_column(sa.Column("incoming_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("due_date", sa.Date(), nullable=True))
        batch_op.alter_column("record_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("created_by", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint("uq_outgoing_package", type_="unique")
        batch_op.create_unique_constraint("uq_outgoing_package",
                                          ["kind", "document_id", "recipient_code", "status_code"])
        batch_op.create_foreign_key("fk_outgoing_packages_incoming_id", "incoming_documents",
                                    ["incoming_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_outgoing_packages_incoming_id"), ["incoming_id"], unique=False)
    with op.batch_alter_table("outgoing_packages", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sqlmodel.sql.sqltypes.AutoString(length=8), server_default=None)
        batch_op.alter_column("status_code", existing_type=sqlmodel.sql.sqltypes.AutoString(length=2),
                              server_default=None)

    op.create_table(
        "incoming_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incoming_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("person", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outgoing_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["incoming_id"], ["incoming_documents.id"]),
        sa.ForeignKeyConstraint(["outgoing_id"], ["outgoing_packages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incoming_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incoming_steps_incoming_id"), ["incoming_id"], unique=False)

    op.create_table(
        "received_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outgoing_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("staff", sa.Text(), nullable=False),
        sa.Column("status_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("package_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["outgoing_id"], ["outgoing_packages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("received_statuses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_received_statuses_outgoing_id"), ["outgoing_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_received_statuses_package_sha256"), ["package_sha256"], unique=True)

    # Documents already in the inbox get their 01 step (they arrived; no status package was sent then).
    op.execute("INSERT INTO incoming_steps (incoming_id, code, description, department, person, at) "
               "SELECT id, '01', '', '', '', received_at FROM incoming_documents")


def downgrade() -> None:
    with op.batch_alter_table("received_statuses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_received_statuses_package_sha256"))
        batch_op.drop_index(batch_op.f("ix_received_statuses_outgoing_id"))
    op.drop_table("received_statuses")
    with op.batch_alter_table("incoming_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incoming_steps_incoming_id"))
    op.drop_table("incoming_steps")
    # Status packages have no place in the old outbox.
    op.execute("DELETE FROM outgoing_packages WHERE kind <> 'document'")
    with op.batch_alter_table("outgoing_packages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outgoing_packages_incoming_id"))
        batch_op.drop_constraint("fk_outgoing_packages_incoming_id", type_="foreignkey")
        batch_op.drop_constraint("uq_outgoing_package", type_="unique")
        batch_op.create_unique_constraint("uq_outgoing_package", ["document_id", "recipient_code"])
        batch_op.alter_column("created_by", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("record_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("due_date")
        batch_op.drop_column("status_code")
        batch_op.drop_column("incoming_id")
        batch_op.drop_column("kind")
