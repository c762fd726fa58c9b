"""A statistic's period in SQL: a column within [since, until), and a period split into the
whole UTC months the monthly tallies count and the edges counted from the rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col


def between(column: Any, since: Any, until: Any) -> list[ColumnElement[bool]]:
    """``column`` in [since, until), a None bound unbounded (instants, or "YYYY-MM" months)."""
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(col(column) >= since)
    if until is not None:
        conditions.append(col(column) < until)
    return conditions


Bounds = tuple[datetime | None, datetime | None]  # [since, until), None unbounded


@dataclass(frozen=True)
class Split:
    """A period as the whole UTC months the tallies count (``months``: [first, end) as "YYYY-MM",
    None unbounded; None if there are none) and the rest, counted from the rows (``edges``)."""

    months: tuple[str | None, str | None] | None
    edges: list[Bounds]


def split_period(since: datetime | None, until: datetime | None) -> Split:
    first = since if since is None or since == _month_of(since) else _next_month(since)
    end = None if until is None else _month_of(until)
    if first is not None and end is not None and first >= end:
        return Split(None, [(since, until)])
    edges: list[Bounds] = []
    if since is not None and first is not None and since < first:
        edges.append((since, first))
    if until is not None and end is not None and end < until:
        edges.append((end, until))
    return Split((_month_text(first), _month_text(end)), edges)


def _month_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(moment: datetime) -> datetime:
    start = _month_of(moment)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _month_text(moment: datetime | None) -> str | None:
    return None if moment is None else f"{moment.year:04d}-{moment.month:02d}"
