"""The outbox of notices, and deliveries scheduled by the dispatcher instead of the workflow.

The recorder writes an issue's notices into ``outbox`` in the read model's transaction; the
dispatcher on each worker fans them out into ``notification`` rows and attempts the external ones
when ``next_attempt_at`` has passed, holding a row by its lease ``claimed_until`` (both tables).
Deliveries left pending by the workflow's own activities before this revision are due at once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "status = 'pending'"
UNDISPATCHED = "dispatched_at IS NULL"


def upgrade() -> None:
    op.create_table(
        'outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('notice', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
        sa.UniqueConstraint('issue_id', 'seq', 'kind', name='uq_outbox_notice'),
    )
    op.create_index(
        'ix_outbox_undispatched',
        'outbox',
        ['id'],
        unique=False,
        sqlite_where=sa.text(UNDISPATCHED),
        postgresql_where=sa.text(UNDISPATCHED),
    )
    # Plain ADD COLUMN: a batch copy of the table is not needed and would be slow on a big one.
    op.add_column('notification', sa.Column('next_attempt_at', sa.DateTime(timezone=True)))
    op.add_column('notification', sa.Column('claimed_until', sa.DateTime(timezone=True)))
    op.create_index(
        'ix_notification_due',
        'notification',
        ['next_attempt_at'],
        unique=False,
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )
    op.execute(
        "UPDATE notification SET next_attempt_at = created_at "
        f"WHERE {PENDING} AND channel <> 'inbox'"
    )


def downgrade() -> None:
    # SQLite drops a column only once no index names it.
    op.drop_index('ix_notification_due', table_name='notification')
    op.drop_column('notification', 'claimed_until')
    op.drop_column('notification', 'next_attempt_at')
    op.drop_index('ix_outbox_undispatched', table_name='outbox')
    op.drop_table('outbox')
