"""Who recorded each feedback, counted for /stats: the citizen, or staff on a phone 回访.

- ``feedback_tally`` counts the issues with a feedback per registering unit, status, recorder
  (``issue.feedback_by_role``; a row without one counts as the citizen's, as the API reads it),
  category and UTC month of registration, kept by triggers like the tallies of revision 0002 and
  filled here from the existing rows.
- ``ix_issue_stats_counts`` gains ``feedback_by_role``: the partial months /stats counts from
  the rows still read that one index and never the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision_0002() -> ModuleType:
    # The tally and its triggers as revision 0002 wrote them (a migration is frozen, so this
    # one can build on it): one way of keeping a tally, not two.
    path = Path(__file__).with_name('0002_stats_columns_and_indexes.py')
    spec = importlib.util.spec_from_file_location('linkage_revision_0002', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_0002 = _revision_0002()
_RECORDER = "COALESCE({r}.feedback_by_role, 'citizen')"
FEEDBACK_TALLY = _0002._Tally(
    'feedback_tally',
    'issue',
    {
        'registered_unit_path': _0002._column('registered_unit_path'),
        'status': _0002._column('status'),
        'feedback_by': {'postgresql': _RECORDER, 'sqlite': _RECORDER},
        'category': _0002._column('category'),
        'month': _0002._month('registered_at'),
    },
    {'feedback': 'TRUE'},
    only='{r}.feedback_satisfaction IS NOT NULL',
)
WATCHED = [
    'registered_at', 'registered_unit_path', 'category', 'status',
    'feedback_satisfaction', 'feedback_by_role',
]
COUNTS_INDEX = 'ix_issue_stats_counts'
COUNTS_COLUMNS = [
    'registered_at', 'registered_unit_path', 'category', 'status', 'overdue', 'warnings_sent',
    'resolution_level', 'level', 'feedback_satisfaction', 'feedback_solved',
]


def upgrade() -> None:
    tally = FEEDBACK_TALLY
    op.create_table(
        tally.name,
        *(sa.Column(key, sa.String(), nullable=False) for key in tally.keys),
        sa.Column('feedback', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*tally.keys, name=op.f(f'pk_{tally.name}')),
        sqlite_with_rowid=False,  # rows kept in key order: the order /stats reads them in
    )
    dialect = op.get_bind().dialect.name
    op.execute(tally.fill(dialect))
    for statement in tally.create_triggers(dialect, WATCHED):
        op.execute(statement)
    # Plain DROP and CREATE INDEX: a batch copy of the table would drop the tally triggers.
    op.drop_index(COUNTS_INDEX, table_name='issue')
    op.create_index(COUNTS_INDEX, 'issue', [*COUNTS_COLUMNS, 'feedback_by_role'])


def downgrade() -> None:
    op.drop_index(COUNTS_INDEX, table_name='issue')
    op.create_index(COUNTS_INDEX, 'issue', COUNTS_COLUMNS)
    dialect = op.get_bind().dialect.name
    for statement in FEEDBACK_TALLY.drop_triggers(dialect):
        op.execute(statement)
    op.drop_table(FEEDBACK_TALLY.name)
