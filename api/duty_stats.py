"""The duties' figures from the read model: on-time share of each duty per unit, and patrol
coverage per village (days each grid was checked in, of the days its patrol was due)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from domain.duties.models import DUTY_LABELS, DutyKind
from store.duty_tables import DutyRun
from store.tables import Unit

OPEN = ("waiting", "overdue", "planning")  # fell due, not yet fulfilled


class DutyShareOut(BaseModel):
    """One duty of one unit (or of the whole subtree when ``unit`` is null)."""

    kind: str
    label: str
    unit: str | None = Field(default=None, description="单位代码；null 为辖区合计")
    runs: int = Field(description="已到期的次数")
    on_time: int = Field(description="按时完成（会议召开、按期公开、当日巡查）")
    late: int = Field(description="逾期完成或未完成（巡查未打卡）")
    open: int = Field(description="尚未完成（逾期督促中）")
    share: float | None = Field(description="按时率：按时 ÷ 已到期；无到期为 null")


class PatrolCoverageOut(BaseModel):
    village: str
    name: str
    grids: int
    days_due: int = Field(description="各片区应巡查的天数之和")
    days_patrolled: int
    coverage: float | None


def _tallies(
    session: Session, path: str, since: datetime | None, until: datetime | None
) -> list[tuple[str, str, int, int]]:
    """(kind, unit path, slot, count) of the subtree's runs that fell due: slot 0 on time, 1 late
    or missed, 2 still open (overdue and being reminded)."""
    conditions = [col(DutyRun.unit_path).startswith(path, autoescape=True)]
    conditions.append(col(DutyRun.status) != "skipped")
    conditions.append(col(DutyRun.due_at).is_not(None))
    if since is not None:
        conditions.append(col(DutyRun.due_at) >= since)
    if until is not None:
        conditions.append(col(DutyRun.due_at) < until)
    grouped = (col(DutyRun.kind), col(DutyRun.unit_path), col(DutyRun.on_time), col(DutyRun.status))
    rows = session.connection().execute(
        sa_select(*grouped, func.count()).where(*conditions).group_by(*grouped)
    )
    return [
        (kind, unit_path, 0 if on_time else (2 if status in OPEN else 1), n)
        for kind, unit_path, on_time, status, n in rows
    ]


def _shares(counts: dict[tuple[str, str | None], list[int]]) -> list[DutyShareOut]:
    out = []
    for (duty, code), (good, bad, pending) in sorted(
        counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
    ):
        due = good + bad + pending
        out.append(
            DutyShareOut(
                kind=duty,
                label=DUTY_LABELS[DutyKind(duty)],
                unit=code,
                runs=due,
                on_time=good,
                late=bad,
                open=pending,
                share=round(good / due, 4) if due else None,
            )
        )
    return out


def _code(unit_path: str) -> str:
    return unit_path.rstrip("/").rsplit("/", 1)[-1]


def duty_shares(
    session: Session, path: str, since: datetime | None = None, until: datetime | None = None
) -> list[DutyShareOut]:
    """Per kind over the subtree (``unit`` null), then per kind and unit."""
    counts: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0, 0])
    for kind, unit_path, slot, n in _tallies(session, path, since, until):
        for key in ((kind, None), (kind, _code(unit_path))):
            counts[key][slot] += n
    return _shares(counts)


def duty_shares_by_child(
    session: Session, path: str, since: datetime | None = None, until: datetime | None = None
) -> list[DutyShareOut]:
    """Per kind over the subtree (``unit`` null), then per kind and child of the unit at
    ``path``: a county's townships, a township's villages (their grids' patrols rolled in); the
    unit's own duties (a county's joint meeting) under its own code."""
    own = _code(path)
    counts: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0, 0])
    for kind, unit_path, slot, n in _tallies(session, path, since, until):
        below = unit_path[len(path) :].strip("/")
        child = below.split("/", 1)[0] if below else own
        for key in ((kind, None), (kind, child)):
            counts[key][slot] += n
    return _shares(counts)


def patrol_coverage(session: Session, path: str) -> list[PatrolCoverageOut]:
    """Each village with grids: of its grids' patrol days due, how many were checked in."""
    grids = session.exec(
        select(Unit).where(col(Unit.path).startswith(path, autoescape=True), Unit.kind == "grid")
    ).all()
    village_of = {g.code: g.parent_code for g in grids}
    runs = session.exec(
        select(DutyRun.unit_code, DutyRun.on_time, func.count())
        .where(
            DutyRun.kind == DutyKind.PATROL.value,
            col(DutyRun.unit_code).in_(list(village_of)),
            col(DutyRun.on_time).is_not(None),
        )
        .group_by(col(DutyRun.unit_code), col(DutyRun.on_time))
    ).all()
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for grid, on_time, n in runs:
        tally[village_of[grid] or ""][0] += n
        if on_time:
            tally[village_of[grid] or ""][1] += n
    villages = {v for v in village_of.values() if v}
    names = {u.code: u.name for u in session.exec(select(Unit).where(col(Unit.code).in_(villages)))}
    return [
        PatrolCoverageOut(
            village=v,
            name=names.get(v, v),
            grids=sum(1 for g in village_of.values() if g == v),
            days_due=tally[v][0],
            days_patrolled=tally[v][1],
            coverage=round(tally[v][1] / tally[v][0], 4) if tally[v][0] else None,
        )
        for v in sorted(villages)
    ]
