"""What every table of the read model is built with: its naming convention, an aware UTC datetime
column type, JSON columns, prefix indexes, and the typed Core table of a model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    Index,
    Table,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Stable constraint names: SQLite batch migrations can only drop or alter what has a name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    SQLite has no time zone type and returns naive values; PostgreSQL returns them in the
    session's zone. Both come back as UTC here, and SQLite stores UTC text so that string order is
    time order. Naive values are refused rather than guessed: "local" is ambiguous in a system that
    runs in Asia/Shanghai and stores UTC.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_column(default: Any = None) -> Any:
    """A JSON column; each table needs its own ``Column`` object.

    Plain JSON does not track in-place changes: assign a new list or dict to save an edit.
    """
    return Column(JSON, nullable=False, default=default)


def prefix_index(name: str, column: str) -> Index:
    """An index that serves ``column LIKE 'prefix%'`` (PostgreSQL needs pattern ops outside C)."""
    return Index(name, column, postgresql_ops={column: "varchar_pattern_ops"})


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table, typed (SQLModel leaves ``__table__`` untyped)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table
