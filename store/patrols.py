"""Patrols a grid had, from the patrol check-ins (``POST /api/v1/duties/patrol-checkins``): the one
rule the patrol duty and the dashboard's coverage count by."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from store.duty_tables import PatrolCheckin


@dataclass(frozen=True)
class Patrol:
    grid: str
    started_at: datetime
    ended_at: datetime
    by: str  # username
    reference: str  # "checkin-<id>"


def patrols(
    session: Session, grids: Collection[str], start: datetime, end: datetime
) -> list[Patrol]:
    """The grids' patrols that started in [start, end), earliest first."""
    if not grids:
        return []
    rows = session.exec(
        select(PatrolCheckin).where(
            col(PatrolCheckin.grid_code).in_(list(grids)),
            col(PatrolCheckin.started_at) >= start,
            col(PatrolCheckin.started_at) < end,
        )
    ).all()
    found = [
        Patrol(r.grid_code, r.started_at, r.ended_at, r.checked_in_by, f"checkin-{r.id}")
        for r in rows
    ]
    return sorted(found, key=lambda p: (p.started_at, p.reference))
