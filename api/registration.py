"""Registering an issue: the checks, the ids that make a retry land on the same issue, and the
workflow's start with its ``registered`` handshake (update-with-start), bounded in time.

Synchronous helpers take a ``Session`` and run in a worker thread; the async ones talk to Temporal.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api import answers, metrics
from api.deps import Principal
from api.idempotency import check_same, fingerprint, key_reused

# Namespaces of the uuid5 ids: a retried request (same caller, same key) maps to the same id.
from api.issues import RPC_TIMEOUT, handle_of
from api.problems import forbidden, invalid
from api.schemas import (
    IssueCreate,
    IssueCreated,
    UnitOut,
)
from api.security import hash_pin, pin_for, tracking_code_for
from api.updates import admitted
from domain.models import (
    OPEN_STATUSES,
    ActionResult,
    Channel,
    IssueStart,
    IssueState,
    NewIssue,
    Reporter,
    Role,
    Status,
    UnitKind,
)
from settings import Settings
from store.tables import Category, Issue, Unit
from store.units_import import UnitNotFound, ladder
from workflows.issue import WORKFLOW_NAME, workflow_id

_REGISTRATION_NS = uuid.UUID("5d0a3c1e-6f1b-4d8e-9b7a-2c4e8f9a1b3d")
REGISTRABLE_KINDS = frozenset({UnitKind.VILLAGE.value, UnitKind.GRID.value})


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
