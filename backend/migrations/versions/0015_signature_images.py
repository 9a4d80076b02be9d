"""Signature and seal images: the signer's handwritten signature and the body's seal, drawn in the
visible signature box

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 09:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature_image_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("bodies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seal_image_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bodies", schema=None) as batch_op:
        batch_op.drop_column("seal_image_sha256")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("signature_image_sha256")
