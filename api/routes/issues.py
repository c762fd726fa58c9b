"""Issues: register, read, list, and every action of the lifecycle (one workflow update each)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from sqlmodel import Session
from temporalio.client import Client

from api import issue_detail, issue_list, issues, registration
from api.deps import (
    API_PREFIX,
    CurrentPrincipal,
    OptionalPrincipal,
    Principal,
    SessionDep,
    SettingsDep,
    TemporalDep,
    citizen_access,
    in_thread,
)
from api.inputs import Instant
from api.problems import forbidden, invalid, responses, unauthorized
from api.schemas import (
    AcceptIn,
    ActionOut,
    EscalateIn,
    ExtensionDecisionIn,
    ExtensionIn,
    FeedbackIn,
    IssueCreate,
    IssueCreated,
    IssueDetail,
    IssueSummary,
    Page,
    ProgressIn,
    ReportIn,
    ResolveIn,
    SuperviseIn,
    TermIn,
    TrackIn,
    TransferIn,
    WhistleIn,
    WithdrawIn,
)
from domain.models import (
    Accept,
    Action,
    Actor,
    Escalate,
    ExtensionDecision,
    ExtensionRequest,
    Feedback,
    Level,
    Progress,
    Report,
    Resolve,
    Role,
    Status,
    Supervise,
    Term,
    Transfer,
    Urgency,
    Whistle,
    Withdraw,
)
from domain.policy import parse_iso_duration
from settings import Settings

router = APIRouter(prefix=f"{API_PREFIX}/issues", tags=["issues"])
LIVE_READERS = frozenset({Role.SUPERVISOR, Role.ADMIN})

IssueId = Annotated[str, Path(description="事项 id（32位十六进制）", max_length=64)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="同一键的重复请求只生效一次（网络重试安全）",
    ),
]


# ---- register, read, list -----------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=IssueCreated,
    responses=responses(401, 403, 422, 503),
)
async def register_issue(
    body: IssueCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> IssueCreated:
    """登记事项（受理）：在村（社区）或网格登记，返回查询码和查询密码，并进入村级办理。"""
    prepared = await in_thread(
        registration.prepare_registration, session, principal, body, settings, idempotency_key
    )
    created = await registration.register(temporal, settings, prepared)
    response.headers["Location"] = f"{API_PREFIX}/issues/{created.id}"
    return created


@router.get("", response_model=Page[IssueSummary], responses=responses(401, 403, 422))
def list_issues(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    status: Status | None = None,
    level: Level | None = None,
    unit: Annotated[str | None, Query(description="单位代码：只列其辖区内的事项")] = None,
    category: str | None = None,
    urgency: Urgency | None = None,
    overdue: bool | None = None,
    since: Annotated[Instant | None, Query(description="登记时间下限（含）")] = None,
    until: Annotated[Instant | None, Query(description="登记时间上限（不含）")] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[IssueSummary]:
    """事项列表（读模型），按登记时间倒序，游标分页。"""
    filters = issue_list.IssueFilters(
        status=status,
        level=level,
        unit=unit,
        category=category,
        urgency=urgency,
        overdue=overdue,
        since=issue_list.aware(since, settings.timezone),
        until=issue_list.aware(until, settings.timezone),
    )
    return issue_list.list_issues(session, principal, filters, cursor, limit)


@router.post("/track", response_model=IssueDetail, responses=responses(401, 422, 429))
async def track_issue(
    body: TrackIn, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> IssueDetail:
    """群众凭查询码和查询密码查看本人事项的办理情况。"""
    citizen = await citizen_access(session, settings, body.tracking_code, body.pin)
    assert citizen is not None and citizen.issue_id is not None
    loaded = await issue_detail.load(session, citizen, citizen.issue_id)
    return await in_thread(issue_detail.detail, session, citizen, loaded)


@router.get("/{issue_id}", response_model=IssueDetail, responses=responses(401, 404))
async def read_issue(
    issue_id: IssueId, principal: CurrentPrincipal, session: SessionDep
) -> IssueDetail:
    """事项详情（读模型）：办理操作在记录写入后才应答，操作后即可读到；辖区外一律 404。"""
    loaded = await issue_detail.load(session, principal, issue_id)
    return await in_thread(issue_detail.detail, session, principal, loaded)


@router.get("/{issue_id}/live", response_model=IssueDetail, responses=responses(401, 403, 404, 503))
async def read_issue_live(
    issue_id: IssueId,
    principal: CurrentPrincipal,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> IssueDetail:
    """督查：直接查询运行中的流程的实时状态（与详情同一结构；已结束的事项来自读模型）。"""
    if principal.role not in LIVE_READERS:
        raise forbidden("只有督查人员和管理员可以查询流程实时状态")
    loaded = await issue_detail.load_live(session, temporal, settings, principal, issue_id)
    return await in_thread(issue_detail.detail, session, principal, loaded)


# ---- actions ------------------------------------------------------------------------------------


@dataclass
class Acting:
    """One action request: who, on which issue, under which idempotency key."""

    session: Session
    temporal: Client
    settings: Settings
    principal: Principal | None
    issue_id: str
    idempotency_key: str | None

    async def citizen(self, tracking_code: str | None, pin: str | None) -> Principal | None:
        """The citizen a tracking code and PIN in the body open, if the body carries them."""
        return await citizen_access(self.session, self.settings, tracking_code, pin)

    async def run(
        self,
        update: str,
        build: Callable[[Actor, str], Action],
        principal: Principal | None = None,
    ) -> ActionOut:
        who = principal or self.principal
        if who is None:
            raise unauthorized()
        loaded = await issue_detail.load(self.session, who, self.issue_id)
        issue_detail.authorise(who, update, loaded, self.settings.callback_roles)
        rid = issues.request_id(who, self.issue_id, update, self.idempotency_key)
        return await issues.execute(
            self.temporal,
            self.issue_id,
            update,
            build(who.actor(), rid),
            answer_within=self.settings.answer_timeout_seconds,
        )


def _acting(
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
    issue_id: IssueId,
    idempotency_key: IdempotencyKey = None,
) -> Acting:
    return Acting(session, temporal, settings, principal, issue_id, idempotency_key)


def _staff_acting(
    principal: CurrentPrincipal, acting: Annotated[Acting, Depends(_acting)]
) -> Acting:
    # CurrentPrincipal first: an anonymous caller hears 401 before any complaint about the body.
    return acting


StaffActing = Annotated[Acting, Depends(_staff_acting)]
AnyoneActing = Annotated[Acting, Depends(_acting)]
_ACTION_STATUSES = (401, 403, 404, 409, 422, 503)
_ACTION_ERRORS = responses(*_ACTION_STATUSES)


def _term(body: TermIn, request: Request, *, required: bool) -> Term | None:
    """The extension term of a body: working days or an ISO 8601 duration, never both."""
    if body.working_days is not None and body.duration is not None:
        raise invalid("duration", "working_days 与 duration 只能填一个")
    if body.working_days is not None:
        request.state.field_aliases = {"term": "working_days"}
        return Term(working_days=body.working_days)
    if body.duration is not None:
        request.state.field_aliases = {"term": "duration"}
        try:
            seconds = parse_iso_duration(body.duration)
        except ValueError:
            raise invalid("duration", "须为 ISO 8601 时长，如 PT4H、P1DT12H") from None
        if seconds <= 0:
            raise invalid("duration", "须大于零")
        return Term(seconds=seconds)
    if required:
        raise invalid("working_days", "请填写 working_days 或 duration")
    return None


@router.post("/{issue_id}/accept", response_model=ActionOut, responses=_ACTION_ERRORS)
async def accept(acting: StaffActing, body: Annotated[AcceptIn | None, Body()] = None) -> ActionOut:
    """签收：当前承办单位确认接手。"""
    note = body.note if body else None
    return await acting.run("accept", lambda actor, rid: Accept(actor, rid, note=note))


@router.post("/{issue_id}/progress", response_model=ActionOut, responses=_ACTION_ERRORS)
async def progress(acting: StaffActing, body: ProgressIn) -> ActionOut:
    """报送办理进展。"""
    return await acting.run("progress", lambda actor, rid: Progress(actor, rid, note=body.note))


@router.post("/{issue_id}/resolve", response_model=ActionOut, responses=_ACTION_ERRORS)
async def resolve(acting: StaffActing, body: ResolveIn) -> ActionOut:
    """办结：写明处理结果，进入回访评价。"""
    return await acting.run("resolve", lambda actor, rid: Resolve(actor, rid, summary=body.summary))


@router.post("/{issue_id}/escalate", response_model=ActionOut, responses=_ACTION_ERRORS)
async def escalate(acting: StaffActing, body: EscalateIn) -> ActionOut:
    """上报：超出本级处置权限，提交上一级。"""
    return await acting.run("escalate", lambda actor, rid: Escalate(actor, rid, reason=body.reason))


@router.post("/{issue_id}/whistle", response_model=ActionOut, responses=_ACTION_ERRORS)
async def whistle(acting: StaffActing, body: WhistleIn) -> ActionOut:
    """吹哨：召集部门，部门须在时限内报到。"""
    names = await in_thread(issues.department_names, acting.session, body.departments)
    return await acting.run(
        "whistle",
        lambda actor, rid: Whistle(
            actor,
            rid,
            departments=list(body.departments),
            department_names=names,
            reason=body.reason,
        ),
    )


@router.post("/{issue_id}/report", response_model=ActionOut, responses=_ACTION_ERRORS)
async def report(acting: StaffActing, body: Annotated[ReportIn | None, Body()] = None) -> ActionOut:
    """报到：被吹哨的部门到场并提交意见。"""
    contribution = body.contribution if body else None
    return await acting.run(
        "report", lambda actor, rid: Report(actor, rid, contribution=contribution)
    )


@router.post("/{issue_id}/extension", response_model=ActionOut, responses=_ACTION_ERRORS)
async def extension(acting: StaffActing, body: ExtensionIn, request: Request) -> ActionOut:
    """申请延期（每层级一次，不超过本层级时限），由上级单位审批。"""
    term = _term(body, request, required=True)
    assert term is not None
    return await acting.run(
        "extension",
        lambda actor, rid: ExtensionRequest(actor, rid, term=term, reason=body.reason),
    )


@router.post("/{issue_id}/extension/decision", response_model=ActionOut, responses=_ACTION_ERRORS)
async def extension_decision(
    acting: StaffActing, body: ExtensionDecisionIn, request: Request
) -> ActionOut:
    """审批延期：上级单位负责人批准（可少于申请时长）或不批准。"""
    term = _term(body, request, required=False)
    return await acting.run(
        "extension_decision",
        lambda actor, rid: ExtensionDecision(
            actor, rid, approve=body.approve, term=term, comment=body.comment
        ),
    )


@router.post("/{issue_id}/transfer", response_model=ActionOut, responses=_ACTION_ERRORS)
async def transfer(acting: StaffActing, body: TransferIn) -> ActionOut:
    """转派：误派的事项转给同级的正确单位（到达后限时内本单位可转，之后由上级决定）。"""
    target = await in_thread(issues.transfer_ladder, acting.session, body.unit)
    return await acting.run(
        "transfer", lambda actor, rid: Transfer(actor, rid, ladder=target, reason=body.reason)
    )


@router.post("/{issue_id}/supervise", response_model=ActionOut, responses=_ACTION_ERRORS)
async def supervise(acting: StaffActing, body: SuperviseIn) -> ActionOut:
    """督办：督查人员或上级负责人催办。"""
    return await acting.run("supervise", lambda actor, rid: Supervise(actor, rid, note=body.note))


@router.post(
    "/{issue_id}/feedback", response_model=ActionOut, responses=responses(*_ACTION_STATUSES, 429)
)
async def feedback(acting: AnyoneActing, body: FeedbackIn) -> ActionOut:
    """回访评价：群众凭查询码和查询密码（或工作人员电话回访录入）评价是否解决、是否满意。"""
    citizen = await acting.citizen(body.tracking_code, body.pin)
    return await acting.run(
        "feedback",
        lambda actor, rid: Feedback(
            actor, rid, solved=body.solved, satisfaction=body.satisfaction, comment=body.comment
        ),
        principal=citizen,
    )


@router.post(
    "/{issue_id}/withdraw", response_model=ActionOut, responses=responses(*_ACTION_STATUSES, 429)
)
async def withdraw(
    acting: AnyoneActing, body: Annotated[WithdrawIn | None, Body()] = None
) -> ActionOut:
    """撤回：办结前群众可撤回诉求。"""
    body = body or WithdrawIn()
    citizen = await acting.citizen(body.tracking_code, body.pin)
    reason = body.reason
    return await acting.run(
        "withdraw", lambda actor, rid: Withdraw(actor, rid, reason=reason), principal=citizen
    )
