"""What the deliberation routes do: open, read, list and act, scoped like issues.

A unit acts on its own deliberations (the pure rules, ``domain.deliberation.rules``); a supervisor
reads its subtree; a participant (an invited unit or department, the responsible unit) reads what
it was invited to. Refusals by the workflow's rules that name a field are 422s naming it.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError

from api import answers
from api.deliberation_schemas import DeliberationCreate, DeliberationOut, Due, WorkingDays
from api.deps import Principal
from api.issues import department_names
from api.problems import (
    REJECTED,
    forbidden,
    invalid,
    not_found,
    rejection_field,
    rejection_reason,
)
from api.updates import admitted
from domain.deliberation.models import (
    PARTICIPANT_ROLES,
    DecisionSpec,
    DeliberationResult,
    DeliberationStart,
    DeliberationState,
    Kind,
    NewDeliberation,
    Participant,
)
from domain.deliberation.rules import STAFF_READERS, DeliberationView, refusal
from domain.models import Action, Role, Term, UnitKind
from domain.policy import parse_iso_duration
from settings import Settings
from store.deliberation_tables import Deliberation
from store.tables import Household, Issue, Unit
from store.units_import import UnitNotFound, ladder
from workflows.deliberation import WORKFLOW_NAME, workflow_id

OPENING_KINDS = frozenset({UnitKind.VILLAGE.value, UnitKind.TOWNSHIP.value, UnitKind.COUNTY.value})


def handle_of(temporal: Client, deliberation_id: str) -> WorkflowHandle[Any, Any]:
    return temporal.get_workflow_handle(workflow_id(deliberation_id))


# ---- reading rights -----------------------------------------------------------------------------


def can_read(principal: Principal, row: Deliberation) -> bool:
    if principal.role is Role.DEPARTMENT:
        return principal.department_code in (row.departments or [])
    if principal.role not in STAFF_READERS:
        return False
    if principal.within(row.opened_unit_path) or principal.within(row.unit_path):
        return True
    invited = set(row.participant_units or []) | {row.responsible_unit}
    return principal.unit_code in invited


def view_of(row: Deliberation) -> DeliberationView:
    return DeliberationView(
        unit_code=row.unit_code,
        participant_units=frozenset(row.participant_units or []),
        departments=frozenset(row.departments or []),
        responsible_unit=row.responsible_unit,
    )


def load(session: Session, principal: Principal, deliberation_id: str) -> Deliberation:
    row = session.get(Deliberation, deliberation_id)
    if row is None or not can_read(principal, row):
        raise not_found("议事不存在或不在您的辖区内")
    return row


def authorise(principal: Principal, row: Deliberation, action: str) -> None:
    """A 403 naming why, before anything is sent: nothing is changed by a refusal."""
    why = refusal(principal.actor(), action, view_of(row))
    if why is not None:
        raise forbidden(why, field="unit")


# ---- opening ------------------------------------------------------------------------------------


def prepare_open(
    session: Session, principal: Principal, body: DeliberationCreate, key: str | None
) -> NewDeliberation:
    unit = session.get(Unit, body.unit)
    if unit is None or not unit.active or unit.kind not in OPENING_KINDS:
        raise invalid("unit", "须为村（社区）、乡镇（街道）或县级单位代码")
    staff = principal.role in (Role.CLERK, Role.LEADER) and principal.unit_code == unit.code
    if not (staff or (principal.role is Role.ADMIN and principal.within(unit.path))):
        raise forbidden(f"只有{unit.name}的工作人员可以发起议事", field="unit")
    if body.kind is Kind.FOUR_DELIBERATIONS and unit.kind != UnitKind.VILLAGE.value:
        raise invalid("kind", "四议两公开是村级重大事项的程序，须由村发起")
    if body.kind is Kind.POLL and len(set(body.options)) < 2:
        raise invalid("options", "民意调查须有至少两个不同的选项")
    for p in body.participants:
        if p.role not in PARTICIPANT_ROLES:
            raise invalid("participants", f"未知的参与人角色：{p.role}")
        if p.unit is not None and not ((there := session.get(Unit, p.unit)) and there.active):
            raise invalid("participants", f"未知或已撤销的单位代码：{p.unit}")
    departments = list(dict.fromkeys(body.departments))
    department_names(session, departments, doing="不能邀请参加议事")
    if body.issue_id is not None:
        issue = session.get(Issue, body.issue_id)
        if issue is None or not principal.within(issue.unit_path or issue.registered_unit_path):
            raise invalid("issue_id", "未知的事项，或不在您的辖区内")
    ident = (
        uuid.uuid5(uuid.NAMESPACE_URL, f"deliberation\n{principal.username}\n{key}").hex
        if key
        else uuid.uuid4().hex
    )
    return NewDeliberation(
        deliberation_id=ident,
        topic=body.topic,
        kind=body.kind,
        ladder=_ladder(session, unit.code),
        opened_by=principal.actor(),
        opened_at=datetime.now(ZoneInfo("UTC")),
        description=body.description or "",
        issue_id=body.issue_id,
        participants=[Participant(p.role, p.name, p.unit) for p in body.participants],
        departments=departments,
        meeting_at=body.meeting_at,
        options=list(dict.fromkeys(body.options)),
        idempotency_key=f"{principal.username}\n{key}" if key else None,
    )


def _ladder(session: Session, code: str) -> list[Any]:
    try:
        return ladder(session, code)
    except (UnitNotFound, ValueError):
        raise invalid("unit", "该单位之上没有县级单位") from None


async def open_deliberation(
    temporal: Client, settings: Settings, d: NewDeliberation
) -> DeliberationOut:
    starting: WithStartWorkflowOperation[Any, DeliberationState] = WithStartWorkflowOperation(
        WORKFLOW_NAME,
        DeliberationStart(d=d),
        id=workflow_id(d.deliberation_id),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        result_type=DeliberationState,
    )

    async def send() -> DeliberationResult:
        result: DeliberationResult = await temporal.execute_update_with_start_workflow(
            "opened", start_workflow_operation=starting, result_type=DeliberationResult
        )
        return result

    try:
        result = await answers.within(answers.Budget.of(settings).wait, admitted(send))
    except TimeoutError:
        raise answers.workers_unavailable(
            "议事系统暂未响应，请稍后用同一 Idempotency-Key 重试"
        ) from None
    return _out(result)


def _out(result: DeliberationResult) -> DeliberationOut:
    return DeliberationOut(
        id=result.deliberation_id,
        status=result.status.value,
        unit=result.unit,
        round=result.round,
        deadline=result.deadline,
        duplicate=result.duplicate,
    )


# ---- actions ------------------------------------------------------------------------------------


def decision_spec(
    session: Session, text: str | None, unit: str | None, due: Due | None, tz: str, where: str
) -> DecisionSpec:
    if not text:
        raise invalid(f"{where}.text", "须填写决定内容")
    row = session.get(Unit, unit) if unit else None
    if row is None:
        raise invalid(f"{where}.responsible_unit", "未知的责任单位代码")
    spec = DecisionSpec(text, row.code, row.name, row.parent_code)
    if isinstance(due, WorkingDays):
        spec.due_term = Term(working_days=due.working_days)
    elif isinstance(due, datetime):
        spec.due_at = due if due.tzinfo else due.replace(tzinfo=ZoneInfo(tz))
    elif isinstance(due, str):
        try:
            spec.due_term = Term(seconds=parse_iso_duration(due))
        except ValueError as error:
            raise invalid(f"{where}.due", str(error)) from None
    return spec


def household_token(session: Session, settings: Settings, row: Deliberation, code: str) -> str:
    """A keyed hash of the household code, per deliberation: the workflow never sees the code."""
    household = session.get(Household, code.strip().upper()) or session.get(Household, code)
    village = session.get(Unit, household.village_code) if household else None
    if household is None or not household.active or village is None:
        raise invalid("household", "未知的户码")
    if not village.path.startswith(row.opened_unit_path):
        raise invalid("household", "该户不在本次调查的范围内")
    message = f"{row.id}\n{household.code}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()[:24]


async def execute(
    temporal: Client, deliberation_id: str, update: str, action: Action
) -> DeliberationOut:
    """Send the action; the workflow's validators are the last word: a refusal naming a field
    is a 422 naming it, any other a 409. Nothing was applied either way."""
    try:
        result: DeliberationResult = await answers.within(
            answers.DEFAULT_ANSWER_SECONDS,
            admitted(
                lambda: handle_of(temporal, deliberation_id).execute_update(
                    update, action, id=action.request_id, result_type=DeliberationResult
                )
            ),
        )
    except TimeoutError:
        raise answers.workers_unavailable(
            "议事系统暂未响应，请稍后用同一 Idempotency-Key 重试"
        ) from None
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == REJECTED:
            field = rejection_field(cause.message)
            if field is not None:
                raise invalid(field, rejection_reason(cause.message)) from None
        raise
    return _out(result)


def request_id(principal: Principal, deliberation_id: str, action: str, key: str | None) -> str:
    if key is None:
        return uuid.uuid4().hex
    name = f"{principal.username}\n{deliberation_id}\n{action}\n{key}"
    return uuid.uuid5(uuid.NAMESPACE_URL, name).hex
