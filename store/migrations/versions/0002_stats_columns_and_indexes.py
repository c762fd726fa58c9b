"""Statistics without reading every issue: monthly tallies kept by triggers, derived hour and
duration columns, covering indexes.

/stats used to count, compute local days and durations on every row of every request, reading the
wide issue rows; at 100,000 closed issues that took about a second on SQLite.

- ``unit_tally``, ``issue_tally`` and ``stay_tally`` count issues and level stays per UTC month
  as /stats counts them (api/routes/stats.py); ``registered_hour_tally`` and
  ``resolved_hour_tally`` count a tree's registrations and resolutions per UTC hour. Triggers keep
  them in the transaction of every write to ``issue`` and ``issue_level``, whoever writes. Filled
  here from the existing rows.
- The derived columns (``store.tables.stats_columns``) are filled here for existing rows, in
  Python, so that SQLite and PostgreSQL get exactly the values the recorder writes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 5_000

# What each tally column counts, per row ({r}: NEW, OLD, or the table when filling): the
# definitions of api/routes/stats.py, frozen here. {eq} is a NULL-safe equality.
ISSUE_COUNTS = {
    'total': 'TRUE',
    'overdue': '{r}.overdue IS TRUE',
    'warned': '({r}.warnings_sent <> 0 AND {r}.overdue IS NOT TRUE)',
    'resolved': '{r}.resolution_level IS NOT NULL',
    **{f'resolved_{x}': f"{{r}}.resolution_level {{eq}} '{x}'" for x in ('village', 'township', 'county')},
    **{f'at_{x}': f"{{r}}.level {{eq}} '{x}'" for x in ('grid', 'village', 'township', 'county')},
    'feedback': '{r}.feedback_satisfaction IS NOT NULL',
    'solved': '({r}.feedback_satisfaction IS NOT NULL AND {r}.feedback_solved IS TRUE)',
    'satisfied': "{r}.feedback_satisfaction {eq} 'satisfied'",
    'basically_satisfied': "{r}.feedback_satisfaction {eq} 'basically_satisfied'",
}
_LEFT = "({r}.outcome IS NOT NULL AND {r}.outcome <> 'withdrawn')"
STAY_COUNTS = {
    'settled': '{r}.accepted_on_time IS NOT NULL',
    'accepted_on_time': '{r}.accepted_on_time IS TRUE',
    'left_level': _LEFT,
    'left_on_time': f'({_LEFT} AND {{r}}.on_time IS TRUE)',
}


Dialects = dict[str, str]  # a template per dialect ({r}: the row)


def _month(moment: str) -> Dialects:
    return {
        'postgresql': f"to_char({{r}}.{moment} AT TIME ZONE 'UTC', 'YYYY-MM')",
        'sqlite': f'substr({{r}}.{moment}, 1, 7)',  # UTC text, 'YYYY-MM-DD HH:MM:SS…'
    }


def _column(name: str) -> Dialects:
    return {'postgresql': f'{{r}}.{name}', 'sqlite': f'{{r}}.{name}'}


# The first segment of the registering unit's path: the root of the tree it was registered in.
_ROOT = {
    'postgresql': "'/' || split_part({r}.registered_unit_path, '/', 2) || '/'",
    'sqlite': "substr({r}.registered_unit_path, 1, instr(substr({r}.registered_unit_path, 2), '/') + 1)",
}


class _Tally:
    """One tally table and the triggers that keep it, in either dialect: ``counts`` summed per
    ``keys``, over the rows of ``source`` that satisfy ``only``."""

    def __init__(
        self,
        name: str,
        source: str,
        keys: dict[str, Dialects],
        counts: dict[str, str],
        only: str = 'TRUE',
    ) -> None:
        self.name, self.source, self.keys, self.counts, self.only = name, source, keys, counts, only

    def values(self, r: str, dialect: str) -> list[str]:
        eq = 'IS NOT DISTINCT FROM' if dialect == 'postgresql' else 'IS'
        conditions = [c.format(r=r, eq=eq) for c in self.counts.values()]
        if dialect == 'postgresql':
            return [f'CAST({c} AS INTEGER)' for c in conditions]
        return [f'({c})' for c in conditions]  # 0 or 1 in SQLite

    def key_values(self, r: str, dialect: str) -> list[str]:
        return [key[dialect].format(r=r) for key in self.keys.values()]

    def add(self, r: str, dialect: str) -> str:
        columns = [*self.keys, *self.counts]
        sums = ', '.join(f'{c} = {self.name}.{c} + EXCLUDED.{c}' for c in self.counts)
        return (
            f'INSERT INTO {self.name} ({", ".join(columns)}) '
            f'SELECT {", ".join([*self.key_values(r, dialect), *self.values(r, dialect)])} '
            f'WHERE {self.only.format(r=r)} '
            f'ON CONFLICT ({", ".join(self.keys)}) DO UPDATE SET {sums}'
        )

    def subtract(self, r: str, dialect: str) -> str:
        changes = ', '.join(
            f'{c} = {c} - {v}' for c, v in zip(self.counts, self.values(r, dialect), strict=True)
        )
        match = ' AND '.join(
            f'{c} = {v}' for c, v in zip(self.keys, self.key_values(r, dialect), strict=True)
        )
        return f'UPDATE {self.name} SET {changes} WHERE {match} AND {self.only.format(r=r)}'

    def fill(self, dialect: str) -> str:
        keys = self.key_values(self.source, dialect)
        sums = [f'SUM({v})' for v in self.values(self.source, dialect)]
        return (
            f'INSERT INTO {self.name} ({", ".join(self.keys)}, {", ".join(self.counts)}) '
            f'SELECT {", ".join([*keys, *sums])} FROM {self.source} '
            f'WHERE {self.only.format(r=self.source)} GROUP BY {", ".join(keys)}'
        )

    def create_triggers(self, dialect: str, watched: list[str]) -> list[str]:
        of = ', '.join(watched)
        if dialect == 'postgresql':
            old_key = ', '.join(self.key_values('OLD', dialect))
            new_key = ', '.join(self.key_values('NEW', dialect))
            # Cells are touched in key order: two transactions moving issues between the same
            # two cells then wait for each other instead of deadlocking.
            function = f"""
CREATE FUNCTION {self.name}_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {self.add('NEW', dialect)};
    ELSIF TG_OP = 'DELETE' THEN
        {self.subtract('OLD', dialect)};
    ELSIF ROW({old_key}) < ROW({new_key}) THEN
        {self.subtract('OLD', dialect)};
        {self.add('NEW', dialect)};
    ELSE
        {self.add('NEW', dialect)};
        {self.subtract('OLD', dialect)};
    END IF;
    RETURN NULL;
END
$$"""
            old_row = ', '.join(f'OLD.{c}' for c in watched)
            new_row = ', '.join(f'NEW.{c}' for c in watched)
            return [
                function,
                f'CREATE TRIGGER {self.name}_keep AFTER INSERT OR DELETE '
                f'ON {self.source} FOR EACH ROW EXECUTE FUNCTION {self.name}_keep()',
                f'CREATE TRIGGER {self.name}_change AFTER UPDATE OF {of} ON {self.source} '
                f'FOR EACH ROW WHEN (ROW({old_row}) IS DISTINCT FROM ROW({new_row})) '
                f'EXECUTE FUNCTION {self.name}_keep()',
            ]
        # The recorder rewrites every row of an issue on each step, mostly unchanged: an update
        # that changes none of the watched columns moves no count and costs no write.
        changed = ' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in watched)
        return [
            f'CREATE TRIGGER {self.name}_insert AFTER INSERT ON {self.source} '
            f'BEGIN {self.add("NEW", dialect)}; END',
            f'CREATE TRIGGER {self.name}_update AFTER UPDATE OF {of} ON {self.source} '
            f'WHEN {changed} '
            f'BEGIN {self.subtract("OLD", dialect)}; {self.add("NEW", dialect)}; END',
            f'CREATE TRIGGER {self.name}_delete AFTER DELETE ON {self.source} '
            f'BEGIN {self.subtract("OLD", dialect)}; END',
        ]

    def drop_triggers(self, dialect: str) -> list[str]:
        if dialect == 'postgresql':
            return [
                f'DROP TRIGGER IF EXISTS {self.name}_keep ON {self.source}',
                f'DROP TRIGGER IF EXISTS {self.name}_change ON {self.source}',
                f'DROP FUNCTION IF EXISTS {self.name}_keep()',
            ]
        return [f'DROP TRIGGER IF EXISTS {self.name}_{op_}' for op_ in ('insert', 'update', 'delete')]


UNIT_TALLY = _Tally(
    'unit_tally',
    'issue',
    {
        'registered_unit_path': _column('registered_unit_path'),
        'status': _column('status'),
        'month': _month('registered_at'),
    },
    ISSUE_COUNTS,
)
ISSUE_TALLY = _Tally(
    'issue_tally',
    'issue',
    {
        'category': _column('category'),
        'status': _column('status'),
        'registered_unit_path': _column('registered_unit_path'),
        'month': _month('registered_at'),
    },
    ISSUE_COUNTS,
)
STAY_TALLY = _Tally(
    'stay_tally',
    'issue_level',
    {'unit_code': _column('unit_code'), 'level': _column('level'), 'month': _month('entered_at')},
    STAY_COUNTS,
)
REGISTERED_HOURS = _Tally(
    'registered_hour_tally',
    'issue',
    {'root': _ROOT, 'hour': _column('registered_hour')},
    {'registered': 'TRUE', 'registered_resolved': '{r}.resolve_us IS NOT NULL'},
    only='{r}.registered_hour IS NOT NULL',
)
RESOLVED_HOURS = _Tally(
    'resolved_hour_tally',
    'issue',
    {'root': _ROOT, 'hour': _column('resolved_hour')},
    {'resolved': 'TRUE'},
    only='{r}.resolved_hour IS NOT NULL',
)
TALLIES = [UNIT_TALLY, ISSUE_TALLY, STAY_TALLY, REGISTERED_HOURS, RESOLVED_HOURS]
# The columns the counts and keys read: an update of anything else (a PIN attempt) fires nothing.
ISSUE_WATCHED = [
    'registered_at', 'registered_unit_path', 'category', 'status', 'overdue', 'warnings_sent',
    'resolution_level', 'level', 'feedback_satisfaction', 'feedback_solved',
    'registered_hour', 'resolved_hour', 'resolve_us',
]
STAY_WATCHED = ['entered_at', 'unit_code', 'level', 'accepted_on_time', 'outcome', 'on_time']
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_issue = sa.table(
    'issue',
    sa.column('id', sa.String()),
    sa.column('registered_at', sa.DateTime(timezone=True)),
    sa.column('resolved_at', sa.DateTime(timezone=True)),
    sa.column('registered_hour', sa.Integer()),
    sa.column('resolved_hour', sa.Integer()),
    sa.column('resolve_us', sa.BigInteger()),
)


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back the stored UTC text as naive datetimes.
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _hour(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - EPOCH) // timedelta(hours=1)


def _backfill() -> None:
    # Frozen here on purpose (a migration must not follow later application code); the same
    # definitions as store.tables.stats_columns, which tests/store/test_tallies.py compares.
    connection = op.get_bind()
    last = ''
    while True:
        rows = connection.execute(
            sa.select(_issue.c.id, _issue.c.registered_at, _issue.c.resolved_at)
            .where(_issue.c.id > last)
            .order_by(_issue.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        updates = []
        for issue_id, registered, resolved in rows:
            registered, resolved = _utc(registered), _utc(resolved)
            updates.append(
                {
                    'key': issue_id,
                    'registered_hour': _hour(registered),
                    'resolved_hour': _hour(resolved),
                    'resolve_us': (
                        None
                        if resolved is None or registered is None
                        else (resolved - registered) // timedelta(microseconds=1)
                    ),
                }
            )
        connection.execute(
            _issue.update()
            .where(_issue.c.id == sa.bindparam('key'))
            .values(
                registered_hour=sa.bindparam('registered_hour'),
                resolved_hour=sa.bindparam('resolved_hour'),
                resolve_us=sa.bindparam('resolve_us'),
            ),
            updates,
        )
        last = rows[-1][0]


def _create_tallies() -> None:
    for tally in TALLIES:
        op.create_table(
            tally.name,
            *(
                sa.Column(key, sa.Integer() if key == 'hour' else sa.String(), nullable=False)
                for key in tally.keys
            ),
            *(sa.Column(name, sa.Integer(), nullable=False) for name in tally.counts),
            sa.PrimaryKeyConstraint(*tally.keys, name=op.f(f'pk_{tally.name}')),
            sqlite_with_rowid=False,  # rows kept in key order: the order /stats reads them in
        )
    dialect = op.get_bind().dialect.name
    for tally in TALLIES:
        op.execute(tally.fill(dialect))
        watched = STAY_WATCHED if tally.source == 'issue_level' else ISSUE_WATCHED
        for statement in tally.create_triggers(dialect, watched):
            op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registered_hour', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resolved_hour', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resolve_us', sa.BigInteger(), nullable=True))
    _backfill()  # before the tallies: the hour tallies count the derived columns
    _create_tallies()
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.create_index(
            'ix_issue_stats_counts',
            [
                'registered_at',
                'registered_unit_path',
                'category',
                'status',
                'overdue',
                'warnings_sent',
                'resolution_level',
                'level',
                'feedback_satisfaction',
                'feedback_solved',
            ],
            unique=False,
        )
        batch_op.create_index(
            'ix_issue_stats_registered',
            ['registered_hour', 'registered_unit_path', 'category', 'registered_at', 'resolve_us'],
            unique=False,
        )
        batch_op.create_index(
            'ix_issue_stats_resolve_us',
            ['resolve_us', 'registered_unit_path', 'category', 'registered_at'],
            unique=False,
        )
        batch_op.create_index(
            'ix_issue_stats_resolved',
            ['resolved_hour', 'registered_unit_path', 'category', 'resolved_at'],
            unique=False,
        )
    with op.batch_alter_table('issue_level', schema=None) as batch_op:
        batch_op.create_index(
            'ix_issue_level_stats',
            ['entered_at', 'unit_code', 'level', 'accepted_on_time', 'outcome', 'on_time'],
            unique=False,
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for tally in TALLIES:
        for statement in tally.drop_triggers(dialect):
            op.execute(statement)
        op.drop_table(tally.name)
    with op.batch_alter_table('issue_level', schema=None) as batch_op:
        batch_op.drop_index('ix_issue_level_stats')
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.drop_index('ix_issue_stats_resolved')
        batch_op.drop_index('ix_issue_stats_resolve_us')
        batch_op.drop_index('ix_issue_stats_registered')
        batch_op.drop_index('ix_issue_stats_counts')
        batch_op.drop_column('resolve_us')
        batch_op.drop_column('resolved_hour')
        batch_op.drop_column('registered_hour')
