"""The dashboard's 值班职责 view, from the read model: on-time shares per child unit, each village's
村务公开 for the current month and quarter, patrol coverage yesterday and this week, and the
meetings coming up (from the schedules' cadences on the working-day calendar)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, time, timedelta

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.duty_stats import DutyShareOut, duty_shares_by_child
from api.schemas import UnitOut
from domain.calendar import WorkCalendar
from domain.duties.calendar import cycle_nominal, fires_between, plan
from domain.duties.models import DUTY_LABELS, DutyKind
from domain.duties.schedules import DUTIES_OF, schedule_id
from domain.models import UnitKind
from store.duty_tables import DisclosurePublication, DutyRun
from store.patrols import patrols
from store.tables import Unit

MEETINGS_AHEAD = timedelta(days=100)  # every meeting's next sitting: the quarterly ones too
NAMES_SHOWN = 12  # units named beside an upcoming meeting; the count says how many in all
UPCOMING = (DutyKind.VILLAGE_COUNCIL, DutyKind.REPRESENTATIVES_MEETING, DutyKind.JOINT_MEETING)
DISCLOSURE_STATUS = {
    "published": "已按期公开",
    "late": "逾期后公开",
    "overdue": "逾期未公开",
    "pending": "待公开",
    "untracked": "无本期职责记录",
}


class DutyKindOut(BaseModel):
    kind: str
    label: str


class DutyRowOut(BaseModel):
    unit: UnitOut
    unit_kind: str
    duties: list[DutyShareOut] = Field(description="此单位（含下辖）各项职责的按时率")


class DisclosureOut(BaseModel):
    kind: str
    period: str = Field(description="公开的期间：2026-01 或 2026-Q1")
    due: datetime
    status: str = Field(description="published | late | overdue | pending | untracked")
    status_label: str
    published_at: datetime | None = None
    reminders: int = 0
    duty_id: str | None = None


class VillageDisclosureOut(BaseModel):
    village: UnitOut
    township: UnitOut | None
    monthly: DisclosureOut
    quarterly: DisclosureOut


class PatrolWindowOut(BaseModel):
    village: UnitOut
    grids: int
    yesterday: int = Field(description="昨日有巡查记录的片区数")
    week_due: int = Field(description="本周（周一至今日）应巡查的片区·日")
    week_patrolled: int


class MeetingOut(BaseModel):
    kind: str
    label: str
    due: datetime
    moved_from: datetime | None = Field(default=None, description="遇节假日顺延前的时间")
    units: int
    names: list[str]
    duty_ids: list[str] = Field(default_factory=list, description="已开始等待的职责运行")
    paused: int = Field(
        default=0, description="日程已被暂停（Temporal 中运维暂停）、本次不召开的单位数"
    )


class DutyOverviewOut(BaseModel):
    unit: UnitOut
    kinds: list[DutyKindOut]
    total: list[DutyShareOut]
    rows: list[DutyRowOut]
    disclosures: list[VillageDisclosureOut]
    patrols: list[PatrolWindowOut]
    upcoming: list[MeetingOut]


def overview(
    session: Session,
    cal: WorkCalendar,
    scope: Unit,
    now: datetime,
    paused: frozenset[str] = frozenset(),
) -> DutyOverviewOut:
    """The duties page of ``scope``; ``paused`` names the schedules an operator has paused (their
    meetings are not coming up: a paused schedule stops the runs it started)."""
    units = session.exec(
        select(Unit).where(col(Unit.path).startswith(scope.path, autoescape=True), Unit.active)
    ).all()
    by_code = {u.code: u for u in units}
    shares = duty_shares_by_child(session, scope.path)
    per_child: dict[str, list[DutyShareOut]] = defaultdict(list)
    for share in shares:
        if share.unit is not None:
            per_child[share.unit].append(share)
    rows = [
        DutyRowOut(unit=_ref(by_code[code]), unit_kind=by_code[code].kind, duties=per_child[code])
        for code in sorted(per_child, key=lambda c: (c != scope.code, c))
        if code in by_code
    ]
    villages = sorted((u for u in units if u.kind == UnitKind.VILLAGE), key=lambda u: u.code)
    local = cal.to_local(now)
    return DutyOverviewOut(
        unit=_ref(scope),
        kinds=[DutyKindOut(kind=k.value, label=DUTY_LABELS[k]) for k in DutyKind],
        total=[s for s in shares if s.unit is None],
        rows=rows,
        disclosures=_disclosures(session, cal, villages, by_code, local),
        patrols=_patrol_windows(session, units, local),
        upcoming=_upcoming(session, cal, scope, units, now, paused),
    )


def _ref(unit: Unit) -> UnitOut:
    return UnitOut(code=unit.code, name=unit.name)


# ---- 村务公开 for the current month and quarter ------------------------------------------------


def _disclosures(
    session: Session,
    cal: WorkCalendar,
    villages: list[Unit],
    by_code: dict[str, Unit],
    local: datetime,
) -> list[VillageDisclosureOut]:
    plans = {
        kind: plan(cal, kind, cycle_nominal(kind, local))
        for kind in (DutyKind.DISCLOSURE_MONTHLY, DutyKind.DISCLOSURE_QUARTERLY)
    }
    codes = [v.code for v in villages]
    periods = [p.period for p in plans.values()]
    published = {
        (r.unit_code, r.period): r
        for r in session.exec(
            select(DisclosurePublication).where(
                col(DisclosurePublication.unit_code).in_(codes),
                col(DisclosurePublication.period).in_(periods),
            )
        )
    }
    runs = {
        (r.unit_code, r.kind, r.period): r
        for r in session.exec(
            select(DutyRun)
            .where(
                col(DutyRun.unit_code).in_(codes),
                col(DutyRun.period).in_(periods),
                col(DutyRun.kind).in_([k.value for k in plans]),
            )
            .order_by(col(DutyRun.nominal_at))
        )
    }
    out = []
    for v in villages:
        state = {}
        for kind, p in plans.items():
            row = published.get((v.code, p.period))
            run = runs.get((v.code, kind.value, p.period))
            reminding = False
            if row is not None:
                status = "published" if row.published_at <= p.due else "late"
            elif run is not None:
                # The run's word first: it is reminding; else the clock.
                reminding = run.status == "overdue"
                status = "overdue" if reminding or local >= p.due else "pending"
            else:
                # No run for a period already due: nobody tracked it (a period before the county
                # started, a schedule paused or missing), which is not the village's delay.
                status = "untracked" if local >= p.due else "pending"
            state[kind] = DisclosureOut(
                kind=kind.value,
                period=p.period,
                due=p.due,
                status=status,
                status_label=DISCLOSURE_STATUS[status] + ("，督促中" if reminding else ""),
                published_at=row.published_at if row else None,
                reminders=run.reminders if run else 0,
                duty_id=run.id if run else None,
            )
        township = by_code.get(v.parent_code or "")
        out.append(
            VillageDisclosureOut(
                village=_ref(v),
                township=_ref(township) if township else None,
                monthly=state[DutyKind.DISCLOSURE_MONTHLY],
                quarterly=state[DutyKind.DISCLOSURE_QUARTERLY],
            )
        )
    return out


# ---- patrol coverage ----------------------------------------------------------------------------


def _patrol_windows(
    session: Session, units: Sequence[Unit], local: datetime
) -> list[PatrolWindowOut]:
    """Per village with grids: grids patrolled yesterday, grid-days patrolled since Monday."""
    grids: dict[str, list[str]] = defaultdict(list)
    for u in units:
        if u.kind == UnitKind.GRID and u.parent_code:
            grids[u.parent_code].append(u.code)
    if not grids:
        return []
    today = local.date()
    monday = today - timedelta(days=today.weekday())
    first = min(monday, today - timedelta(days=1))
    start = datetime.combine(first, time(0), tzinfo=local.tzinfo)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=local.tzinfo)
    all_grids = [g for gs in grids.values() for g in gs]
    days = {
        (p.grid, p.started_at.astimezone(local.tzinfo).date())
        for p in patrols(session, all_grids, start, end)
    }
    names = {u.code: u for u in units}
    elapsed = (today - monday).days + 1
    return [
        PatrolWindowOut(
            village=_ref(names[village]),
            grids=len(gs),
            yesterday=sum((g, today - timedelta(days=1)) in days for g in gs),
            week_due=len(gs) * elapsed,
            week_patrolled=sum(1 for g, d in days if g in gs and d >= monday),
        )
        for village, gs in sorted(grids.items())
        if village in names
    ]


# ---- meetings coming up -------------------------------------------------------------------------


def _upcoming(
    session: Session,
    cal: WorkCalendar,
    scope: Unit,
    units: Sequence[Unit],
    now: datetime,
    paused: frozenset[str],
) -> list[MeetingOut]:
    """Each meeting's next sitting for the units in scope that hold it, and runs already waiting
    for a sitting the calendar moved past a holiday; a unit whose schedule is paused is counted
    as paused, not as coming."""
    local = cal.to_local(now)
    meetings: dict[tuple[DutyKind, datetime], MeetingOut] = {}
    waiting = session.exec(
        select(DutyRun).where(
            col(DutyRun.unit_path).startswith(scope.path, autoescape=True),
            col(DutyRun.kind).in_([k.value for k in UPCOMING]),
            col(DutyRun.status).in_(("planning", "waiting")),
            col(DutyRun.due_at) >= now,
        )
    ).all()
    names = {u.code: u.name for u in units}
    for run in waiting:
        assert run.due_at is not None
        kind = DutyKind(run.kind)
        m = _meeting(meetings, kind, run.due_at, run.moved_from)
        if schedule_id(kind, run.unit_code) in paused:
            m.paused += 1
            continue
        _add(m, names.get(run.unit_code, run.unit_code))
        m.duty_ids.append(run.id)
    for kind in UPCOMING:
        holders = [u for u in units if kind in DUTIES_OF.get(UnitKind(u.kind), ())]
        nominal = next(fires_between(kind, local, local + MEETINGS_AHEAD), None)
        if not holders or nominal is None:
            continue
        p = plan(cal, kind, nominal)
        m = _meeting(meetings, kind, p.due, p.moved_from)
        for u in sorted(holders, key=lambda u: u.code):
            if schedule_id(kind, u.code) in paused:
                m.paused += 1
            else:
                _add(m, u.name)
    return sorted(meetings.values(), key=lambda m: (m.due, m.kind))


def _meeting(
    meetings: dict[tuple[DutyKind, datetime], MeetingOut],
    kind: DutyKind,
    due: datetime,
    moved_from: datetime | None,
) -> MeetingOut:
    key = (kind, due)
    if key not in meetings:
        label = DUTY_LABELS[kind]
        meetings[key] = MeetingOut(
            kind=kind.value, label=label, due=due, moved_from=moved_from, units=0, names=[]
        )
    return meetings[key]


def _add(m: MeetingOut, name: str) -> None:
    m.units += 1
    if len(m.names) < NAMES_SHOWN:
        m.names.append(name)
