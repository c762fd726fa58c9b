"""What the issue routes do: register, read (live workflow or read model), list, and act.

Synchronous helpers take a ``Session`` and run in a worker thread (``in_thread``): SQL and argon2
block. The async functions talk to Temporal. Routes stay thin and only wire the two together.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, func, or_, true
from sqlmodel import Session, col, select
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api import answers, metrics
from api.cursors import after, encode_cursor
from api.deps import Principal
from api.idempotency import check_same, fingerprint, key_reused
from api.issue_detail import invalid_out
from api.problems import ProblemError, forbidden, invalid
from api.schemas import (
    ActionOut,
    IssueCreate,
    IssueCreated,
    IssueSummary,
    Page,
    UnitOut,
)
from api.security import hash_pin, pin_for, tracking_code_for
from api.updates import admitted
from domain import labels
from domain.lifecycle.trail import deadline_now
from domain.models import (
    OPEN_STATUSES,
    Action,
    ActionResult,
    Channel,
    IssueStart,
    IssueState,
    Level,
    NewIssue,
    Reporter,
    Role,
    Status,
    UnitKind,
    UnitRef,
    Urgency,
)
from settings import Settings
from store.issue_state import invalid_mark
from store.tables import Category, Department, Issue, IssueDepartment, Unit
from store.units_import import UnitNotFound, ladder
from workflows.issue import WORKFLOW_NAME, workflow_id

# Namespaces of the uuid5 ids: a retried request (same caller, same key) maps to the same id.
_REGISTRATION_NS = uuid.UUID("5d0a3c1e-6f1b-4d8e-9b7a-2c4e8f9a1b3d")
_ACTION_NS = uuid.UUID("a6f0c2d4-1e3b-4c5a-8d7e-9f0a1b2c3d4e")
REGISTRABLE_KINDS = frozenset({UnitKind.VILLAGE.value, UnitKind.GRID.value})
# How long a request waits on Temporal before answering 503: a worker that is down must not hang
# the caller, who retries with the same Idempotency-Key.
RPC_TIMEOUT = timedelta(seconds=30)


def handle_of(temporal: Client, issue_id: str) -> WorkflowHandle[Any, Any]:
    # By id only: the handle follows the latest run across continue-as-new.
    return temporal.get_workflow_handle(workflow_id(issue_id))


# ---- registration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    issue: NewIssue
    pin: str
    existing: Issue | None  # an Idempotency-Key retry whose issue is already in the read model


def registration_id(principal: Principal, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return uuid.uuid4().hex
    return uuid.uuid5(_REGISTRATION_NS, f"{principal.username}\n{idempotency_key}").hex


def prepare_registration(
    session: Session,
    principal: Principal,
    body: IssueCreate,
    settings: Settings,
    idempotency_key: str | None,
) -> Registration:
    """Check the request against the tree and the caller's jurisdiction; build the workflow input.

    Nothing is written: a refused registration leaves no trace.
    """
    unit = session.get(Unit, body.village_code)
    if unit is None or not unit.active:
        raise invalid("village_code", "未知的村（社区）代码")
    if unit.kind not in REGISTRABLE_KINDS:
        raise invalid("village_code", "须为村（社区）或网格代码")
    if not _may_register_at(principal, unit):
        raise forbidden(f"{unit.name}不在您的辖区内", field="village_code")
    # Whether the caller named the category by code or by name, the issue holds its code (and a
    # retry that names it the other way is the same request).
    body = body.model_copy(update={"category": category_for(session, body.category).code})
    try:
        rungs = ladder(session, unit.code)
    except (UnitNotFound, ValueError):
        raise invalid("village_code", "该单位之上没有县级单位，无法流转") from None

    issue_id = registration_id(principal, idempotency_key)
    offered = fingerprint(body)
    existing = session.get(Issue, issue_id)
    if existing is not None and not _same_request(existing, body, offered):
        raise key_reused()
    pin = pin_for(issue_id, settings)
    channel = body.channel or (
        Channel.DEPARTMENT if principal.role is Role.DEPARTMENT else Channel.WALK_IN
    )
    reporter = body.reporter
    issue = NewIssue(
        issue_id=issue_id,
        tracking_code=tracking_code_for(issue_id, settings),
        category=body.category,
        title=body.title,
        description=body.description,
        urgency=body.urgency,
        ladder=rungs,
        registered_by=principal.actor(),
        registered_at=datetime.now(UTC),
        reporter=Reporter(
            name=reporter.name if reporter else None, phone=reporter.phone if reporter else None
        ),
        location=body.location,
        attachments=[str(url) for url in body.attachments],
        channel=channel,
        pin_hash=None if existing is not None else hash_pin(issue_id, pin, settings),
        idempotency_key=(
            f"{principal.username}:{idempotency_key}" if idempotency_key is not None else None
        ),
        request_fingerprint=offered,
    )
    return Registration(issue=issue, pin=pin, existing=existing)


def category_for(session: Session, given: str) -> Category:
    """The open category a registration names by its code or its Chinese name (422 otherwise)."""
    category = (
        session.get(Category, given)
        or session.exec(
            select(Category).where(Category.name == given).order_by(col(Category.active).desc())
        ).first()
    )
    if category is None:
        raise invalid("category", "未知的事项类别（填类别代码或中文名称，见 GET /categories）")
    if not category.active:
        raise invalid("category", f"事项类别「{category.name}」已停用")
    return category


def _may_register_at(principal: Principal, unit: Unit) -> bool:
    if principal.role is Role.CITIZEN and principal.issue_id is None:
        # Open reporting (api.public): anyone may report at any village, throttled there.
        return True
    if principal.role in (Role.CLERK, Role.LEADER, Role.SUPERVISOR, Role.ADMIN):
        return principal.within(unit.path)
    if principal.role is Role.DEPARTMENT:
        return principal.county_path is not None and unit.path.startswith(principal.county_path)
    return False


def _same_request(row: Issue, body: IssueCreate, offered: str) -> bool:
    """Whether a retry asks what the first request asked: its whole body when the row keeps the
    fingerprint; for a row registered before fingerprints were kept, the fields it holds."""
    if row.request_fingerprint is not None:
        return row.request_fingerprint == offered
    registered_at = [code for code in row.registered_unit_path.split("/") if code]
    return (registered_at[-1:], row.category, row.title, row.description) == (
        [body.village_code],
        body.category,
        body.title,
        body.description,
    )


async def register(temporal: Client, settings: Settings, reg: Registration) -> IssueCreated:
    """Start the issue's workflow (or find the one a retry already started) and wait until the
    first level is entered, so the answer carries the real deadline.

    The wait is bounded (``api.answers``): past it, a running workflow is answered from its input
    (201), no workflow with a 503. A retry with the key must be the same request as the one that
    started the workflow (422 naming ``Idempotency-Key`` otherwise).
    """
    issue = reg.issue
    if reg.existing is not None:
        return _created_from_row(reg, reg.existing)
    budget = answers.Budget.of(settings)
    try:
        result = await answers.within(budget.wait, start_and_handshake(temporal, settings, issue))
    except TimeoutError:
        return await _registered_meanwhile(temporal, settings, reg, budget.lookup)
    except (WorkflowAlreadyStartedError, RPCError) as refused:
        # The issue's run has closed (the read model has not got its row): answer from it.
        # Servers tell this as WorkflowAlreadyStartedError, or as ALREADY_EXISTS on the start.
        if isinstance(refused, RPCError) and refused.status is not RPCStatusCode.ALREADY_EXISTS:
            raise
        try:
            state: IssueState = await answers.within(
                budget.wait,
                handle_of(temporal, issue.issue_id).query(
                    "state", result_type=IssueState, rpc_timeout=RPC_TIMEOUT
                ),
            )
        except TimeoutError:
            raise answers.workers_unavailable("办理系统暂未响应，请稍后重试") from None
        check_same(state.issue.request_fingerprint, issue.request_fingerprint)
        return _created(reg, _result_of(state))
    if issue.idempotency_key is not None:
        # The handshake may have joined a run that another body started under the same key
        # while its row was not yet recorded: the run's input is the first request.
        started = await answers.started_with(temporal, issue.issue_id, budget.lookup)
        if started is not None:
            check_same(started.issue.request_fingerprint, issue.request_fingerprint)
    metrics.ISSUES_REGISTERED.labels(issue.channel.value, issue.urgency.value).inc()
    return _created(reg, result)


async def _registered_meanwhile(
    temporal: Client, settings: Settings, reg: Registration, seconds: float
) -> IssueCreated:
    """The answer when no worker took the registration in time: a running workflow is the issue,
    registered, at its first level with the deadline the worker will compute; else a 503."""
    try:
        run = await answers.within(seconds, answers.running(temporal, reg.issue.issue_id, seconds))
    except TimeoutError:
        run = None
    if run is None:
        raise answers.workers_unavailable(
            "事项尚未登记（办理系统暂未响应），请稍后用同一 Idempotency-Key 重试"
        )
    check_same(run.start.issue.request_fingerprint, reg.issue.request_fingerprint)
    metrics.ISSUES_REGISTERED.labels(reg.issue.channel.value, reg.issue.urgency.value).inc()
    return _created(reg, _result_of(answers.first_state(settings, run)))


async def start_and_handshake(
    temporal: Client, settings: Settings, issue: NewIssue
) -> ActionResult:
    """Start the issue's workflow and wait for its ``registered`` handshake, in one request to
    the server (update-with-start): a retry while the run is open joins it."""
    return await admitted(lambda: _update_with_start(temporal, settings, issue))


async def _update_with_start(temporal: Client, settings: Settings, issue: NewIssue) -> ActionResult:
    starting: WithStartWorkflowOperation[Any, IssueState] = WithStartWorkflowOperation(
        WORKFLOW_NAME,
        IssueStart(issue=issue),
        id=workflow_id(issue.issue_id),
        task_queue=settings.task_queue,
        # A retry while the first is running joins it; one that finds it closed must not
        # start the issue again.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        result_type=IssueState,
    )
    try:
        result: ActionResult = await temporal.execute_update_with_start_workflow(
            "registered",
            start_workflow_operation=starting,
            result_type=ActionResult,
            rpc_timeout=RPC_TIMEOUT,
        )
    except BaseException:
        # A refused start is also set on the operation's handle: read it there too, or asyncio
        # logs "Future exception was never retrieved" on every retry of a closed issue.
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(starting.workflow_handle(), timeout=1)
        raise
    return result


def _result_of(state: IssueState) -> ActionResult:
    return ActionResult(
        issue_id=state.issue.issue_id,
        seq=state.next_seq - 1,
        status=state.status,
        level=state.current.level if state.levels else state.unit.kind.value,
        unit=state.unit.code,
        deadline=state.current.deadline if state.status in OPEN_STATUSES else None,
    )


def _created(reg: Registration, result: ActionResult) -> IssueCreated:
    names = {u.code: u.name for u in reg.issue.ladder}
    return IssueCreated(
        id=reg.issue.issue_id,
        tracking_code=reg.issue.tracking_code,
        pin=reg.pin,
        status=result.status,
        level=result.level,
        unit=UnitOut(code=result.unit, name=names.get(result.unit, result.unit)),
        deadline=result.deadline,
    )


def _created_from_row(reg: Registration, row: Issue) -> IssueCreated:
    names = {u.code: u.name for u in reg.issue.ladder}
    return IssueCreated(
        id=row.id,
        tracking_code=row.tracking_code,
        pin=reg.pin,
        status=Status(row.status),
        level=row.level,
        unit=UnitOut(code=row.unit_code, name=names.get(row.unit_code, row.unit_code)),
        deadline=row.deadline,
    )


# ---- lists --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueFilters:
    status: Status | None = None
    level: Level | None = None
    unit: str | None = None
    category: str | None = None
    urgency: Urgency | None = None
    overdue: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


def aware(value: datetime | None, timezone: str) -> datetime | None:
    """A naive query time is read in the county's zone (people type local times)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(timezone))


def _subtree(path: str) -> ColumnElement[bool]:
    return or_(
        col(Issue.registered_unit_path).startswith(path, autoescape=True),
        col(Issue.unit_path).startswith(path, autoescape=True),
    )


def readable(session: Session, principal: Principal) -> ColumnElement[bool]:
    """The SQL twin of ``Principal.can_read``: the issues a caller may see in a list."""
    if principal.role is Role.DEPARTMENT and principal.department_code:
        code = principal.department_code
        categories = [
            c.code
            for c in session.exec(select(Category)).all()
            if c.notify_departments and code in c.departments
        ]
        called = select(IssueDepartment.issue_id).where(IssueDepartment.department_code == code)
        return or_(col(Issue.id).in_(called), col(Issue.category).in_(categories))
    if principal.role is Role.CITIZEN and principal.issue_id:
        return col(Issue.id) == principal.issue_id
    if principal.role is Role.ADMIN and principal.unit_path is None:
        return true()
    if principal.unit_path:
        return _subtree(principal.unit_path)
    return false()


def unit_filter_path(session: Session, principal: Principal, code: str) -> str:
    """The path of the ``unit`` filter; it must be a unit the caller oversees."""
    unit = session.get(Unit, code)
    if unit is None:
        raise invalid("unit", "未知的单位代码")
    if principal.role is not Role.DEPARTMENT and not principal.within(unit.path):
        raise forbidden(f"{unit.name}不在您的辖区内", field="unit")
    return unit.path


def list_issues(
    session: Session,
    principal: Principal,
    filters: IssueFilters,
    cursor: str | None,
    limit: int,
) -> Page[IssueSummary]:
    """A page of issues, newest registration first, keyset-paginated on (registered_at, id) so a
    page never repeats or skips rows while new issues arrive."""
    conditions: list[ColumnElement[bool]] = [readable(session, principal)]
    if filters.unit:
        conditions.append(_subtree(unit_filter_path(session, principal, filters.unit)))
    if filters.status:
        conditions.append(col(Issue.status) == filters.status.value)
    if filters.level:
        conditions.append(col(Issue.level) == filters.level.value)
    if filters.category:
        conditions.append(col(Issue.category) == filters.category)
    if filters.urgency:
        conditions.append(col(Issue.urgency) == filters.urgency.value)
    if filters.overdue is not None:
        conditions.append(col(Issue.overdue).is_(true() if filters.overdue else false()))
    if filters.since:
        conditions.append(col(Issue.registered_at) >= filters.since)
    if filters.until:
        conditions.append(col(Issue.registered_at) < filters.until)
    where = and_(*conditions)
    total = session.exec(select(func.count()).select_from(Issue).where(where)).one()

    page = select(Issue, Unit.name).join(Unit, col(Unit.code) == col(Issue.unit_code), isouter=True)
    page = page.where(where)
    if cursor:
        page = page.where(after(cursor, Issue.registered_at, Issue.id))
    page = page.order_by(col(Issue.registered_at).desc(), col(Issue.id).desc()).limit(limit + 1)
    rows = session.exec(page).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1][0] if more and rows else None
    return Page[IssueSummary](
        data=[_summary(row, name) for row, name in rows],
        count=total,
        next_cursor=encode_cursor(last.registered_at, last.id) if last else None,
    )


def _summary(row: Issue, unit_name: str | None) -> IssueSummary:
    return IssueSummary(
        id=row.id,
        tracking_code=row.tracking_code,
        category=row.category,
        title=row.title,
        urgency=row.urgency,
        status=Status(row.status),
        status_label=labels.STATUS.get(row.status, row.status),
        level=row.level,
        unit=UnitOut(code=row.unit_code, name=unit_name or row.unit_code),
        deadline=deadline_now(Status(row.status), row.deadline, row.feedback_deadline),
        overdue=row.overdue,
        registered_at=row.registered_at,
        closed_at=row.closed_at,
        invalid=invalid_out(invalid_mark(row)),
    )


# ---- actions ------------------------------------------------------------------------------------


def request_id(
    principal: Principal, issue_id: str, action: str, idempotency_key: str | None
) -> str:
    """The update id: a retried request (same caller, issue, action and key) applies once."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    name = f"{principal.username}\n{issue_id}\n{action}\n{idempotency_key}"
    return uuid.uuid5(_ACTION_NS, name).hex


async def execute(
    temporal: Client,
    issue_id: str,
    update: str,
    action: Action,
    *,
    answer_within: float = answers.DEFAULT_ANSWER_SECONDS,
) -> ActionOut:
    """Send the action to the issue's workflow; its validators are the last word (409).

    A worker that does not answer within ``answer_within`` seconds is a 503 with Retry-After:
    the action may still apply when a worker comes back, and the retry with the same
    Idempotency-Key is the same update id, applied at most once.
    """
    try:
        result: ActionResult = await answers.within(
            answer_within,
            admitted(
                lambda: handle_of(temporal, issue_id).execute_update(
                    update,
                    action,
                    id=action.request_id,
                    result_type=ActionResult,
                    rpc_timeout=RPC_TIMEOUT,
                )
            ),
        )
    except TimeoutError:
        metrics.ISSUE_ACTIONS.labels(update, "unanswered").inc()
        raise answers.workers_unavailable(
            "办理系统暂未响应，本次操作尚未确认生效；请稍后用同一 Idempotency-Key 重试"
        ) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            # Closed since we looked, and gone from Temporal.
            raise ProblemError(409, "事项已结束", slug="rejected") from exc
        raise
    except Exception:
        metrics.ISSUE_ACTIONS.labels(update, "rejected").inc()
        raise
    metrics.ISSUE_ACTIONS.labels(update, "duplicate" if result.duplicate else "applied").inc()
    return ActionOut(
        issue_id=result.issue_id,
        seq=result.seq,
        status=result.status,
        status_label=labels.STATUS[result.status.value],
        level=result.level,
        unit=result.unit,
        deadline=result.deadline,
        duplicate=result.duplicate,
    )


def department_names(session: Session, codes: Sequence[str]) -> dict[str, str]:
    """Names of the whistled departments; an unknown or retired one is a 422 naming
    ``departments`` (a retired department takes no new work)."""
    rows = session.exec(select(Department).where(col(Department.code).in_(codes))).all()
    names = {d.code: d.name for d in rows}
    unknown = [c for c in codes if c not in names]
    if unknown:
        raise invalid("departments", f"未知的部门代码：{', '.join(unknown)}")
    retired = [d.name for d in rows if not d.active]
    if retired:
        raise invalid("departments", f"部门已停用，不能吹哨：{', '.join(retired)}")
    return names


def transfer_ladder(session: Session, code: str) -> list[UnitRef]:
    try:
        return ladder(session, code)
    except UnitNotFound:
        raise invalid("unit", "未知的单位代码") from None
    except ValueError:
        raise invalid("unit", "该单位之上没有县级单位") from None
