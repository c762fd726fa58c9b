"""Issues as the benchmarks make them: raw workflow starts, and what the read model says of them."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from api.security import tracking_code_for
from bench.common import say
from domain.models import (
    OPEN_STATUSES,
    Actor,
    Channel,
    IssueStart,
    NewIssue,
    Reporter,
    Role,
    UnitKind,
    UnitRef,
    Urgency,
)
from settings import Settings
from store.tables import Issue, IssueLevel, Unit
from store.units_import import ladder
from workflows.issue import WORKFLOW_NAME, workflow_id

INTAKE_CATEGORY = "sanitation"  # a seeded category, so the API accepts it too


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    ladder: list[UnitRef]

    @property
    def clerk(self) -> str:
        return f"village-{self.code}"


def villages(engine: Engine, county: str) -> list[Village]:
    """Every village of the county with its escalation ladder, from the read model."""
    with Session(engine) as session:
        county_path = session.exec(select(Unit.path).where(Unit.code == county)).one()
        rows = session.exec(
            select(Unit)
            .where(col(Unit.path).startswith(county_path), Unit.kind == UnitKind.VILLAGE.value)
            .order_by(col(Unit.code))
        ).all()
        return [Village(u.code, u.name, ladder(session, u.code)) for u in rows]


class IssueMaker:
    """Builds ``IssueStart`` inputs the way the API does, round-robin over the villages."""

    def __init__(self, settings: Settings, all_villages: list[Village]) -> None:
        self.settings = settings
        self._villages: Iterator[Village] = itertools.cycle(all_villages)

    def make(self, category: str, title: str = "基准测试事项") -> NewIssue:
        village = next(self._villages)
        issue_id = uuid.uuid4().hex
        return NewIssue(
            issue_id=issue_id,
            tracking_code=tracking_code_for(issue_id, self.settings),
            category=category,
            title=title,
            description=f"{village.name}：基准测试登记的事项",
            urgency=Urgency.NORMAL,
            ladder=list(village.ladder),
            registered_by=Actor(
                user=village.clerk, role=Role.CLERK, unit_code=village.code, name=village.name
            ),
            registered_at=datetime.now(UTC),
            reporter=Reporter(name="测试", phone="13800001234"),
            channel=Channel.WALK_IN,
        )


async def start(client: Client, settings: Settings, issue: NewIssue) -> None:
    """``client.start_workflow`` with the options ``api.registration.start_and_handshake``
    starts with (without the handshake the API waits for): the raw baseline of the intake
    benchmark."""
    await client.start_workflow(
        WORKFLOW_NAME,
        IssueStart(issue=issue),
        id=workflow_id(issue.issue_id),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


# ---- the read model ---------------------------------------------------------------------------


def count_recorded(engine: Engine, category: str, since: datetime) -> int:
    """Issues of ``category`` registered since ``since`` that have reached the read model."""
    with Session(engine) as session:
        return session.exec(
            select(func.count())
            .select_from(Issue)
            .where(Issue.category == category, col(Issue.registered_at) >= since)
        ).one()


def count_open(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count())
            .select_from(Issue)
            .where(col(Issue.status).in_([s.value for s in OPEN_STATUSES]))
        ).one()


def escalated_ids(engine: Engine, category: str, since: datetime) -> list[str]:
    """Ids of the issues of ``category`` (since ``since``) now past their village level."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(Issue.id).where(
                    Issue.category == category,
                    col(Issue.registered_at) >= since,
                    Issue.level != UnitKind.VILLAGE.value,
                )
            ).all()
        )


def escalations(
    engine: Engine, category: str, since: datetime
) -> dict[str, tuple[datetime, datetime]]:
    """Per issue: (village deadline, the next level's ``entered_at``) as the read model has them."""
    with Session(engine) as session:
        first = IssueLevel.__table__.alias("first")  # type: ignore[attr-defined]
        second = IssueLevel.__table__.alias("second")  # type: ignore[attr-defined]
        rows = session.exec(
            select(first.c.issue_id, first.c.deadline, second.c.entered_at)
            .join(second, (second.c.issue_id == first.c.issue_id) & (second.c.idx == 1))
            .join(Issue, col(Issue.id) == first.c.issue_id)
            .where(
                first.c.idx == 0,
                Issue.category == category,
                col(Issue.registered_at) >= since,
            )
        ).all()
        return {issue_id: (deadline, entered) for issue_id, deadline, entered in rows}


def count_due_at(engine: Engine, category: str, since: datetime, at: datetime) -> int:
    """Issues of ``category`` whose village deadline is ``at`` (within a second)."""
    with Session(engine) as session:
        return session.exec(
            select(func.count())
            .select_from(IssueLevel)
            .join(Issue, col(Issue.id) == col(IssueLevel.issue_id))
            .where(
                IssueLevel.idx == 0,
                Issue.category == category,
                col(Issue.registered_at) >= since,
                col(IssueLevel.deadline) >= at - timedelta(seconds=1),
                col(IssueLevel.deadline) <= at + timedelta(seconds=1),
            )
        ).one()


async def wait_recorded(
    engine: Engine, category: str, since: datetime, count: int, within_s: float
) -> float:
    """Wait until ``count`` issues of ``category`` are in the read model; seconds waited."""
    began = time.monotonic()
    last_report = began
    while True:
        done = await asyncio.to_thread(count_recorded, engine, category, since)
        if done >= count:
            return time.monotonic() - began
        now = time.monotonic()
        if now - began > within_s:
            raise TimeoutError(f"only {done}/{count} {category} issues recorded after {within_s} s")
        if now - last_report > 15:
            say(f"  … {done}/{count} {category} issues recorded")
            last_report = now
        await asyncio.sleep(0.25)
