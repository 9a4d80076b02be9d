"""Participants removed softly (the record stays for the minutes) and bounded login throttling

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_at", backend.models.base.UTCDateTime(timezone=True), nullable=True))

    # Accounts are no longer locked, only slowed down; unknown usernames keep no row.
    op.execute("DELETE FROM login_throttle WHERE username NOT IN (SELECT username FROM users)")
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.create_index(batch_op.f("ix_login_throttle_last_failure_at"), ["last_failure_at"], unique=False)

    op.create_table("login_address_throttle",
                    sa.Column("address", sa.String(length=64), nullable=False),
                    sa.Column("failures", sa.Integer(), nullable=False),
                    sa.Column("last_failure_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
                    sa.Column("blocked_until", backend.models.base.UTCDateTime(timezone=True), nullable=True),
                    sa.PrimaryKeyConstraint("address"))
    with op.batch_alter_table("login_address_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_address_throttle_last_failure_at"), ["last_failure_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_address_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_address_throttle_last_failure_at"))
    op.drop_table("login_address_throttle")

    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_last_failure_at"))
        batch_op.add_column(sa.Column("locked_until", backend.models.base.UTCDateTime(timezone=True), nullable=True))

    # The old schema has nowhere to keep a removed participant: they go, with what points at them kept
    # only if the foreign keys allow it (they do not once the person has attendance, ballots or turns).
    op.execute("DELETE FROM participants WHERE removed_at IS NOT NULL AND id NOT IN ("
               "SELECT participant_id FROM attendance UNION SELECT participant_id FROM ballots "
               "UNION SELECT participant_id FROM poll_voters UNION SELECT participant_id FROM speaker_turns "
               "UNION SELECT participant_id FROM agenda_positions UNION SELECT participant_id FROM opinion_ballots)")
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
