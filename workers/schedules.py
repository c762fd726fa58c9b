"""``linkage schedules sync|list``: the duties' Temporal Schedules kept in step with the tree.

One schedule per unit and duty (``domain.duties.schedules``), each starting a ``DutyWorkflow`` on
its cadence (``domain.duties.calendar``) in the county's time zone. Sync is idempotent: a schedule
whose content is unchanged is left alone (its fingerprint rides in the action's memo), so an
operator's pause in the Temporal UI survives a sync; a changed one is rewritten; one of ours that
no active unit asks for any more is deleted. Schedules it did not name are never touched.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import TypeAdapter
from sqlmodel import Session, col, select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from domain import search_attributes as sa
from domain.duties.calendar import CADENCES
from domain.duties.models import DUTY_LABELS, DutyStart
from domain.duties.schedules import DutySchedule, TreeUnit, is_ours, wanted
from domain.models import UnitKind
from domain.payloads import PAYLOADS
from store.tables import Unit
from workflows.duty import DutyWorkflow, action_id

CONCURRENCY = 16  # schedule RPCs in flight: the dev server on SQLite takes about this many well
# A run missed while the server was down still starts when it comes back within this window.
CATCHUP = timedelta(days=7)
_START = TypeAdapter(DutyStart)


@dataclass
class SyncReport:
    wanted: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return self.wanted - len(self.created) - len(self.updated)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def __str__(self) -> str:
        return (
            f"schedules: {self.wanted} wanted, {len(self.created)} created, "
            f"{len(self.updated)} updated, {len(self.deleted)} deleted, {self.unchanged} unchanged"
        )


def tree_units(session: Session) -> list[TreeUnit]:
    """The active units of the read model's tree (a unit removed from it is inactive or gone)."""
    rows = session.exec(select(Unit).where(col(Unit.active))).all()
    return [TreeUnit(u.code, u.name, UnitKind(u.kind), u.parent_code, u.path) for u in rows]


def fingerprint(ds: DutySchedule, task_queue: str, timezone: str) -> str:
    content = {
        "start": _START.dump_python(ds.start, mode="json"),
        "cadence": repr(CADENCES[ds.start.kind]),
        "task_queue": task_queue,
        "timezone": timezone,
        "catchup": CATCHUP.total_seconds(),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]


def schedule_of(ds: DutySchedule, task_queue: str, timezone: str) -> Schedule:
    kind, unit = ds.start.kind, ds.start.unit
    cadence = CADENCES[kind]
    calendar = ScheduleCalendarSpec(
        second=[ScheduleRange(0)],
        minute=[ScheduleRange(cadence.at.minute)],
        hour=[ScheduleRange(cadence.at.hour)],
        day_of_month=[ScheduleRange(cadence.day)] if cadence.day else [ScheduleRange(1, 31)],
        month=[ScheduleRange(m) for m in cadence.months] or [ScheduleRange(1, 12)],
        comment=DUTY_LABELS[kind],
    )
    attributes = [
        SearchAttributePair(sa.UNIT, unit.code),
        SearchAttributePair(sa.LEVEL, unit.kind.value),
    ]
    if ds.start.county:
        attributes.append(SearchAttributePair(sa.COUNTY, ds.start.county))
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DutyWorkflow.run,
            ds.start,
            id=action_id(ds.schedule_id),
            task_queue=task_queue,
            memo={"fingerprint": fingerprint(ds, task_queue, timezone)},
            typed_search_attributes=TypedSearchAttributes(attributes),
        ),
        spec=ScheduleSpec(calendars=[calendar], time_zone_name=timezone),
        # A month's 村务公开 may still be reminding when the next month's run starts: both run.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL, catchup_window=CATCHUP),
        state=ScheduleState(note=f"{unit.name}{DUTY_LABELS[kind]}"),
    )


async def sync(
    client: Client, units: Sequence[TreeUnit], task_queue: str, timezone: str
) -> SyncReport:
    """Create, rewrite and delete schedules until Temporal holds exactly what the tree asks for."""
    want = {ds.schedule_id: ds for ds in wanted(units)}
    report = SyncReport(wanted=len(want))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def keep(ds: DutySchedule) -> None:
        async with gate:
            await _keep(client, ds, task_queue, timezone, report)

    async def drop(schedule_id: str) -> None:
        async with gate:
            try:
                await client.get_schedule_handle(schedule_id).delete()
            except RPCError as error:
                if error.status is not RPCStatusCode.NOT_FOUND:
                    raise
                return
            report.deleted.append(schedule_id)

    stale = [sid for sid in await listed_ids(client) if sid not in want]
    await asyncio.gather(*(keep(ds) for ds in want.values()), *(drop(sid) for sid in stale))
    for names in (report.created, report.updated, report.deleted):
        names.sort()
    return report


async def _keep(
    client: Client, ds: DutySchedule, task_queue: str, timezone: str, report: SyncReport
) -> None:
    schedule = schedule_of(ds, task_queue, timezone)
    handle = client.get_schedule_handle(ds.schedule_id)
    try:
        described = await handle.describe()
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
        await client.create_schedule(ds.schedule_id, schedule)
        report.created.append(ds.schedule_id)
        return
    action = described.schedule.action
    memo = getattr(action, "memo", None) or {}
    held = memo.get("fingerprint")
    if held is not None and PAYLOADS.from_payload(held, str) == _fingerprint_of(schedule):
        return

    def rewrite(update: ScheduleUpdateInput) -> ScheduleUpdate:
        # An operator's pause (and its note) outlives a rewrite of the spec and the action.
        schedule.state = update.description.schedule.state
        return ScheduleUpdate(schedule=schedule)

    await handle.update(rewrite)
    report.updated.append(ds.schedule_id)


def _fingerprint_of(schedule: Schedule) -> str:
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.memo is not None
    return str(action.memo["fingerprint"])


async def listed_ids(client: Client) -> list[str]:
    """Our schedules as the server lists them (visibility: a very new one may be missing)."""
    found: list[str] = []
    async for listed in await client.list_schedules():
        if is_ours(listed.id):
            found.append(listed.id)
    return sorted(found)


@dataclass(frozen=True)
class Listed:
    schedule_id: str
    note: str
    paused: bool
    next_run: str


async def paused_ids(client: Client) -> frozenset[str]:
    """Our schedules an operator has paused: the server's own ``TemporalSchedulePaused`` search
    attribute (a few ms, against ~0.4 s to list all 637 of the demo county's); a server that does
    not know it is asked for every schedule."""
    try:
        listed = await client.list_schedules(query="TemporalSchedulePaused = true")
        return frozenset([d.id async for d in listed if is_ours(d.id)])
    except RPCError as error:
        if error.status is not RPCStatusCode.INVALID_ARGUMENT:
            raise
    return frozenset(d.schedule_id for d in await list_duties(client) if d.paused)


async def list_duties(client: Client) -> list[Listed]:
    found: list[Listed] = []
    async for listed in await client.list_schedules():
        if not is_ours(listed.id):
            continue
        info = listed.info
        times = info.next_action_times if info else []
        upcoming = times[0].isoformat() if times else "—"
        state = listed.schedule.state if listed.schedule else None
        found.append(
            Listed(
                listed.id, state.note or "" if state else "", bool(state and state.paused), upcoming
            )
        )
    return sorted(found, key=lambda x: x.schedule_id)
