"""Patrols a grid had: the one rule the patrol duty and the dashboard's coverage count by.

Two ways in write the patrol log: the duty's check-in (``POST /api/v1/duties/patrol-checkins``:
start, end, what was found, for a grid) and the phone's patrol log (``POST /api/v1/patrols``, the
field page's offline queue: an entry of the worker's own unit, or the unit they name). Either
counts for a grid's day when it was about that grid and started that day; an entry about a village
names no grid and counts for none.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from store.duty_tables import PatrolCheckin
from store.tables import PatrolLog


@dataclass(frozen=True)
class Patrol:
    grid: str
    started_at: datetime
    ended_at: datetime  # a phone entry's: when the phone wrote it
    by: str  # username
    reference: str  # "checkin-<id>" or "log-<id>"


def patrols(
    session: Session, grids: Collection[str], start: datetime, end: datetime
) -> list[Patrol]:
    """The grids' patrols that started in [start, end), from both ways in, earliest first."""
    if not grids:
        return []
    checkins = session.exec(
        select(PatrolCheckin).where(
            col(PatrolCheckin.grid_code).in_(list(grids)),
            col(PatrolCheckin.started_at) >= start,
            col(PatrolCheckin.started_at) < end,
        )
    ).all()
    logged = session.exec(
        select(PatrolLog).where(
            col(PatrolLog.unit_code).in_(list(grids)),
            col(PatrolLog.started_at) >= start,
            col(PatrolLog.started_at) < end,
        )
    ).all()
    found = [
        Patrol(r.grid_code, r.started_at, r.ended_at, r.checked_in_by, f"checkin-{r.id}")
        for r in checkins
    ]
    found += [
        Patrol(r.unit_code, r.started_at, r.recorded_at, r.username, f"log-{r.id}") for r in logged
    ]
    return sorted(found, key=lambda p: (p.started_at, p.reference))
