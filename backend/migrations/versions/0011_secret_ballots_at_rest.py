"""Secret ballots that cannot be linked to their voters at rest

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:00:00

While a secret poll is open its ballots are sealed (`sealed_ballots`); at close they become anonymous
choices (`secret_ballots`, without the receipt) and, apart, receipts (`ballot_receipts`).
"""
import random
import secrets
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _secret_ballots(with_receipt: bool) -> None:
    """SQLite cannot drop or add a constrained column in place: the table is made again, WITHOUT ROWID."""
    columns = [sa.Column('id', sa.String(length=32), nullable=False),
               sa.Column('poll_id', sa.Integer(), nullable=False)]
    if with_receipt:
        columns.append(sa.Column('receipt', sa.String(length=32), nullable=False))
    columns.append(sa.Column('choice', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False))
    constraints: list[sa.schema.SchemaItem] = [sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], ),
                                               sa.PrimaryKeyConstraint('id')]
    if with_receipt:
        constraints.append(sa.UniqueConstraint('receipt'))
    op.create_table('secret_ballots_new', *columns, *constraints, sqlite_with_rowid=False)


def upgrade() -> None:
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seal_key_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))

    op.create_table('sealed_ballots',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sealed_ballots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sealed_ballots_poll_id'), ['poll_id'], unique=False)

    op.create_table('ballot_receipts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('receipt', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('receipt'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('ballot_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_receipts_poll_id'), ['poll_id'], unique=False)

    # The receipts of polls closed before: new random ids, shuffled, so no id or order pairs them again.
    bind = op.get_bind()
    rows = [dict(poll_id=p, receipt=r) for p, r in bind.execute(sa.text("SELECT poll_id, receipt FROM secret_ballots"))]
    random.SystemRandom().shuffle(rows)
    if rows:
        receipts = sa.table('ballot_receipts', sa.column('id', sa.String), sa.column('poll_id', sa.Integer),
                            sa.column('receipt', sa.String))
        op.bulk_insert(receipts, [{"id": uuid.uuid4().hex, **row} for row in rows])

    if _is_sqlite():
        _secret_ballots(with_receipt=False)
        op.execute("INSERT INTO secret_ballots_new (id, poll_id, choice) "
                   "SELECT id, poll_id, choice FROM secret_ballots")
        op.drop_index('ix_secret_ballots_poll_id', table_name='secret_ballots')
        op.drop_table('secret_ballots')
        op.rename_table('secret_ballots_new', 'secret_ballots')
        op.create_index('ix_secret_ballots_poll_id', 'secret_ballots', ['poll_id'], unique=False)
    else:
        op.drop_column('secret_ballots', 'receipt')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM sealed_ballots")).scalar():
        raise RuntimeError("close every open secret poll before downgrading: its sealed ballots would be lost")
    # Receipts were never stored with choices: each ballot gets a fresh one (the published ones are gone).
    fresh = {bid: "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))
             for (bid,) in bind.execute(sa.text("SELECT id FROM secret_ballots"))}
    if _is_sqlite():
        _secret_ballots(with_receipt=True)
        new = sa.table('secret_ballots_new', sa.column('id', sa.String), sa.column('poll_id', sa.Integer),
                       sa.column('receipt', sa.String), sa.column('choice', sa.String))
        rows = [dict(id=i, poll_id=p, receipt=fresh[i], choice=c)
                for i, p, c in bind.execute(sa.text("SELECT id, poll_id, choice FROM secret_ballots"))]
        if rows:
            op.bulk_insert(new, rows)
        op.drop_index('ix_secret_ballots_poll_id', table_name='secret_ballots')
        op.drop_table('secret_ballots')
        op.rename_table('secret_ballots_new', 'secret_ballots')
        op.create_index('ix_secret_ballots_poll_id', 'secret_ballots', ['poll_id'], unique=False)
    else:
        op.add_column('secret_ballots', sa.Column('receipt', sa.String(length=32), nullable=True))
        for bid, receipt in fresh.items():
            bind.execute(sa.text("UPDATE secret_ballots SET receipt = :r WHERE id = :i"), {"r": receipt, "i": bid})
        op.alter_column('secret_ballots', 'receipt', nullable=False)
        op.create_unique_constraint('secret_ballots_receipt_key', 'secret_ballots', ['receipt'])

    with op.batch_alter_table('ballot_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_receipts_poll_id'))
    op.drop_table('ballot_receipts')
    with op.batch_alter_table('sealed_ballots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sealed_ballots_poll_id'))
    op.drop_table('sealed_ballots')
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_column('seal_key_id')
