"""Administration: lockout and forced password change on users, a key's last use, retired
categories and departments, households for polls, and the audit record of admin actions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN with a server default: existing rows get the value, no table copy.
    op.add_column(
        'user_account',
        sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        'user_account',
        sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'),
    )
    op.add_column('user_account', sa.Column('locked_until', sa.DateTime(timezone=True)))
    op.add_column('api_key', sa.Column('last_used_at', sa.DateTime(timezone=True)))
    op.add_column(
        'category', sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.add_column(
        'department', sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.create_table(
        'household',
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('village_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ['village_code'], ['unit.code'], name=op.f('fk_household_village_code_unit')
        ),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_household')),
        sa.UniqueConstraint('village_code', 'number', name='uq_household_number'),
    )
    op.create_index(op.f('ix_household_village_code'), 'household', ['village_code'])
    op.create_table(
        'audit_record',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('actor_role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('action', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('target_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('target', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('scope_path', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_record')),
    )
    op.create_index(op.f('ix_audit_record_at'), 'audit_record', ['at'])
    op.create_index(op.f('ix_audit_record_action'), 'audit_record', ['action'])
    op.create_index(
        'ix_audit_record_scope_path',
        'audit_record',
        ['scope_path'],
        postgresql_ops={'scope_path': 'varchar_pattern_ops'},
    )


def downgrade() -> None:
    op.drop_index('ix_audit_record_scope_path', table_name='audit_record')
    op.drop_index(op.f('ix_audit_record_action'), table_name='audit_record')
    op.drop_index(op.f('ix_audit_record_at'), table_name='audit_record')
    op.drop_table('audit_record')
    op.drop_index(op.f('ix_household_village_code'), table_name='household')
    op.drop_table('household')
    op.drop_column('department', 'active')
    op.drop_column('category', 'active')
    op.drop_column('api_key', 'last_used_at')
    op.drop_column('user_account', 'locked_until')
    op.drop_column('user_account', 'failed_logins')
    op.drop_column('user_account', 'must_change_password')
