"""Invalid marks (无效): the columns on ``issue``, and the tallies that leave such issues out.

- ``issue.invalid_kind`` (spam | duplicate | not_governance), ``invalid_reason``,
  ``duplicate_of`` (the issue it repeats) and its ``duplicate_code`` (the tracking code the
  citizen is told), ``invalid_at``, ``invalid_review_until`` (supervisors may overturn it until
  then). Null while no mark stands; an overturned mark clears them.
- ``stay_tally`` and ``registered_hour_tally`` are rebuilt to leave invalid issues out: a stay
  that ended in an invalid mark is no stay of the unit's (its response and on-time rates), and an
  invalid submission is no registration of the county's trend. The issue tallies are keyed by
  status already; /stats leaves the ``invalid`` cells out.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision_0002() -> ModuleType:
    # The tallies and their triggers as revision 0002 wrote them: one way of keeping a tally.
    path = Path(__file__).with_name('0002_stats_columns_and_indexes.py')
    spec = importlib.util.spec_from_file_location('linkage_revision_0002', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_0002 = _revision_0002()
_VALID_STAY = "({r}.outcome IS NULL OR {r}.outcome <> 'invalid')"
_VALID_ISSUE = "{r}.status <> 'invalid'"
STAY_TALLY = _0002._Tally(
    'stay_tally', 'issue_level', _0002.STAY_TALLY.keys, _0002.STAY_COUNTS, only=_VALID_STAY
)
REGISTERED_HOURS = _0002._Tally(
    'registered_hour_tally',
    'issue',
    _0002.REGISTERED_HOURS.keys,
    _0002.REGISTERED_HOURS.counts,
    only=f'({_0002.REGISTERED_HOURS.only} AND {_VALID_ISSUE})',
)
COLUMNS = [
    ('invalid_kind', sqlmodel.sql.sqltypes.AutoString()),
    ('invalid_reason', sqlmodel.sql.sqltypes.AutoString()),
    ('duplicate_of', sqlmodel.sql.sqltypes.AutoString()),
    ('duplicate_code', sqlmodel.sql.sqltypes.AutoString()),
    ('invalid_at', sa.DateTime(timezone=True)),
    ('invalid_review_until', sa.DateTime(timezone=True)),
]


def _rebuild(pairs: list[tuple[object, object]], watched: dict[str, list[str]]) -> None:
    """Replace each tally's triggers and refill it, old definition → new."""
    dialect = op.get_bind().dialect.name
    for old, new in pairs:
        for statement in old.drop_triggers(dialect):  # type: ignore[attr-defined]
            op.execute(statement)
        op.execute(f'DELETE FROM {new.name}')  # type: ignore[attr-defined]
        op.execute(new.fill(dialect))  # type: ignore[attr-defined]
        for statement in new.create_triggers(dialect, watched[new.name]):  # type: ignore[attr-defined]
            op.execute(statement)


_WATCHED = {'stay_tally': _0002.STAY_WATCHED, 'registered_hour_tally': _0002.ISSUE_WATCHED}


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch rebuild: SQLite would drop the issue table's tally triggers.
    for name, type_ in COLUMNS:
        op.add_column('issue', sa.Column(name, type_, nullable=True))
    op.create_index('ix_issue_duplicate_of', 'issue', ['duplicate_of'])
    _rebuild([(_0002.STAY_TALLY, STAY_TALLY), (_0002.REGISTERED_HOURS, REGISTERED_HOURS)], _WATCHED)


def downgrade() -> None:
    _rebuild([(STAY_TALLY, _0002.STAY_TALLY), (REGISTERED_HOURS, _0002.REGISTERED_HOURS)], _WATCHED)
    op.drop_index('ix_issue_duplicate_of', table_name='issue')
    for name, _type in reversed(COLUMNS):
        op.drop_column('issue', name)
