"""Topics villagers propose for their village's next 议事会, and patrol logs of grid workers and
片长 (``store/public_tables.py``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'topic_proposal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('village_code', _TEXT(), nullable=False),
        sa.Column('title', _TEXT(), nullable=False),
        sa.Column('description', _TEXT(), nullable=False),
        sa.Column('phone', _TEXT(), nullable=True),
        sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('taken_up_by', _TEXT(), nullable=True),
        sa.Column('idempotency_key', _TEXT(), nullable=True),
        sa.ForeignKeyConstraint(['village_code'], ['unit.code'], name=op.f('fk_topic_proposal_village_code_unit')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_proposal')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_topic_proposal_idempotency_key')),
    )
    op.create_index(op.f('ix_topic_proposal_village_code'), 'topic_proposal', ['village_code'])
    op.create_index(op.f('ix_topic_proposal_proposed_at'), 'topic_proposal', ['proposed_at'])
    op.create_table(
        'patrol_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', _TEXT(), nullable=False),
        sa.Column('unit_code', _TEXT(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('place', _TEXT(), nullable=False),
        sa.Column('note', _TEXT(), nullable=False),
        sa.Column('issue_codes', _TEXT(), nullable=False),
        sa.Column('idempotency_key', _TEXT(), nullable=True),
        sa.ForeignKeyConstraint(['unit_code'], ['unit.code'], name=op.f('fk_patrol_log_unit_code_unit')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_log')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_patrol_log_idempotency_key')),
    )
    op.create_index(op.f('ix_patrol_log_username'), 'patrol_log', ['username'])
    op.create_index(op.f('ix_patrol_log_unit_code'), 'patrol_log', ['unit_code'])
    op.create_index(op.f('ix_patrol_log_started_at'), 'patrol_log', ['started_at'])


def downgrade() -> None:
    op.drop_table('patrol_log')
    op.drop_table('topic_proposal')
