"""What the recorders share when they write a workflow's state into the read model: the main
row written only when newer, child rows upserted by their keys, the trail appended with its
notices, and event data made plain JSON.

Temporal retries activities, and a retried activity may overlap the attempt it replaces, so every
write is an upsert keyed by something the workflow fixed: the same snapshot written twice leaves
the same rows, and an older snapshot arriving after a newer one cannot roll the main row back.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from activities.outbox import enqueue
from domain.deliberation.models import DEvent
from domain.models import Event, Notice
from store.db import upsert_statement
from store.tables import table_of


def upsert(
    session: Session,
    model: type[SQLModel],
    rows: list[dict[str, Any]],
    keys: tuple[str, ...],
    update: bool = True,
) -> None:
    """Insert ``rows``; on a clash of ``keys`` overwrite the other columns, or keep the old row."""
    if not rows:
        return
    overwrite = tuple(name for name in rows[0] if name not in keys) if update else ()
    stmt = upsert_statement(session.get_bind().dialect.name, table_of(model), keys, overwrite)
    session.exec(stmt, params=rows)


def upsert_newest(
    session: Session,
    model: type[SQLModel],
    row: dict[str, Any],
    *,
    keep: tuple[str, ...] = (),
    owned: tuple[str, ...] = (),
) -> bool:
    """Write a workflow's main row (keyed by ``id``) unless the stored one has a later ``last_seq``.

    Args:
        session: the recorder's transaction.
        model: the main row's table.
        row: every column of the row.
        keep: columns whose stored value stays once set (a NULL one takes the new value).
        owned: columns someone else writes after the insert, never overwritten here.

    Returns:
        Whether the stored row is no newer than ``row``: the snapshot's child rows may be written.
    """
    fixed = ("id", *keep, *owned)
    overwrite = tuple(name for name in row if name not in fixed)
    table = table_of(model)
    dialect = session.get_bind().dialect.name
    # Concurrent attempts for one workflow must queue before the upsert. SQLite's first write
    # takes the database lock. On PostgreSQL the row lock is not enough: two first inserts race,
    # and the loser fails on another unique index (an idempotency key), which ON CONFLICT (id)
    # does not arbitrate. A transaction-scoped advisory lock on the row's id serialises them.
    if dialect == "postgresql":
        held = func.hashtextextended(f"{table.name}\n{row['id']}", 0)
        session.exec(select(func.pg_advisory_xact_lock(held)))
    stmt = upsert_statement(dialect, table, ("id",), overwrite, newer="last_seq", keep=keep)
    session.exec(stmt, params=[row])
    stored: int = session.exec(select(table.c.last_seq).where(table.c.id == row["id"])).one()
    return stored <= row["last_seq"]


def append_trail(
    session: Session,
    model: type[SQLModel],
    owner: str,
    events: list[dict[str, Any]],
    outbox: list[Notice],
) -> None:
    """Add the snapshot's new events, keyed by (``owner``, seq), and the notices they caused.

    Events are append-only, so even a stale snapshot may add the ones it has; the notices leave
    with the events that caused them, or not at all.
    """
    upsert(session, model, events, keys=(owner, "seq"), update=False)
    enqueue(session, outbox)


def event_row(owner: str, owner_id: str, event: Event | DEvent) -> dict[str, Any]:
    """An issue's or a deliberation's event as its trail table's row, ``owner`` the id column."""
    return {
        owner: owner_id,
        "seq": event.seq,
        "type": str(event.type),
        "at": event.at,
        "actor_user": event.actor.user,
        "actor_role": str(event.actor.role),
        "actor_name": event.actor.name,
        "actor_unit": event.actor.unit_code,
        "actor_department": event.actor.department_code,
        "unit_code": event.unit,
        "data": jsonable(event.data),
    }


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Event data as plain JSON: it is after Temporal; built in-process it may hold dates."""

    def default(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, Enum):
            return value.value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
        raise TypeError(f"event data value {value!r} is not JSON")

    result: dict[str, Any] = json.loads(json.dumps(data, default=default, ensure_ascii=False))
    return result
