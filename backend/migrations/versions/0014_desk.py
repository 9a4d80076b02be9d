"""Saved groups of invitees (the secretariat's desk)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('saved_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('user_ids', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['body_id'], ['bodies.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('body_id', 'name', name='uq_saved_group_body_name')
    )
    with op.batch_alter_table('saved_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_groups_body_id'), ['body_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('saved_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_groups_body_id'))
    op.drop_table('saved_groups')
