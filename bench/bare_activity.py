"""The bare baseline's activity and its one table in the read model's database.

The activity inserts one row (key, the instant it was due, when the timer's task ran, when it was
written) in one transaction, through the worker's engine (same pragmas, same pool) and the same
``session_scope`` the recorder writes through: the least a recorded escalation costs in SQL. The
issue workflow's ``record`` writes more (the issue row, its levels, the events, the outbox), and
the comparison is meant to show what that costs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select
from temporalio import activity

from bench.bare import ACTIVITY_NAME, BareRow
from store.db import session_scope
from store.tables import UTCDateTime

metadata = MetaData()
rows = Table(
    "bench_bare_row",
    metadata,
    # A plain insert: a retried attempt may add a second row for a key, so readers count keys.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("due", UTCDateTime(), nullable=False),
    Column("fired_at", UTCDateTime(), nullable=False),
    Column("written_at", UTCDateTime(), nullable=False),
)


class BareWriter:
    """Holds the engine; register ``BareWriter(engine).write`` with the worker's thread pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name=ACTIVITY_NAME)
    def write(self, row: BareRow) -> None:
        """Insert the row (synchronous, like ``record``: runs on the worker's executor)."""
        with session_scope(self.engine) as session:
            session.execute(
                insert(rows).values(
                    key=row.key,
                    due=datetime.fromtimestamp(row.due, UTC),
                    fired_at=datetime.fromtimestamp(row.fired_at, UTC),
                    written_at=datetime.now(UTC),
                )
            )


def reset(engine: Engine) -> None:
    """An empty table (created if missing)."""
    metadata.drop_all(engine)
    metadata.create_all(engine)


def drop(engine: Engine) -> None:
    metadata.drop_all(engine)


def written_keys(engine: Engine, prefix: str) -> list[str]:
    """Keys starting with ``prefix`` that have their row."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(rows.c.key).where(rows.c.key.startswith(prefix)).distinct()
            ).scalars()
        )


def instants(engine: Engine, prefix: str) -> dict[str, tuple[datetime, datetime, datetime]]:
    """Per key: (due, timer task ran, written), from the key's first row."""
    with engine.connect() as connection:
        first = (
            select(rows.c.key, func.min(rows.c.id).label("id"))
            .where(rows.c.key.startswith(prefix))
            .group_by(rows.c.key)
            .subquery()
        )
        found = connection.execute(
            select(rows.c.key, rows.c.due, rows.c.fired_at, rows.c.written_at).join(
                first, first.c.id == rows.c.id
            )
        ).all()
    return {key: (due, fired, written) for key, due, fired, written in found}
