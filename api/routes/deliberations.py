"""Deliberations (协商议事): open, read, list, and every action (one workflow update each)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from sqlmodel import Session
from temporalio.client import Client

from api import deliberation_detail as detail_of
from api import deliberation_list as list_of
from api import deliberations as service
from api.deliberation_schemas import (
    BallotIn,
    CloseRoundIn,
    CompleteIn,
    DecideIn,
    DeliberationCreate,
    DeliberationOut,
    DeliberationPage,
    Due,
    EvaluateIn,
    OpinionIn,
    ProgressIn,
    WithdrawIn,
)
from api.deps import (
    API_PREFIX,
    CurrentPrincipal,
    Principal,
    SessionDep,
    SettingsDep,
    TemporalDep,
    in_thread,
)
from api.problems import invalid, responses
from domain.deliberation.models import (
    Attendance,
    Ballot,
    CloseRound,
    Complete,
    Decide,
    DecisionSpec,
    DStatus,
    DWithdraw,
    Evaluate,
    Opinion,
    ReportProgress,
    RoundOutcome,
    Step,
    Verdict,
    Votes,
)
from domain.models import Action, Actor
from settings import Settings
from store.deliberation_tables import Deliberation

router = APIRouter(prefix=f"{API_PREFIX}/deliberations", tags=["deliberations"])
public = APIRouter(prefix=f"{API_PREFIX}/public", tags=["public"])

DeliberationId = Annotated[str, Path(max_length=64)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
ACTED = responses(401, 403, 404, 409, 422, 503)


@router.post("", status_code=201, response_model=DeliberationOut, responses=ACTED)
async def open_deliberation(
    body: DeliberationCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DeliberationOut:
    """发起协商议事：议题、形式、参与人（按角色）和部门；按政策设定本轮截止时间并通知参与各方。"""
    d = await in_thread(service.prepare_open, session, principal, body, idempotency_key)
    opened = await service.open_deliberation(temporal, settings, d)
    response.headers["Location"] = f"{API_PREFIX}/deliberations/{opened.id}"
    return opened


@router.get("", response_model=DeliberationPage, responses=responses(401, 422))
def list_deliberations(
    principal: CurrentPrincipal,
    session: SessionDep,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    status: DStatus | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """议事列表（读模型）：本辖区的，以及受邀参与的；按发起时间倒序分页。"""
    chosen = status.value if status else None
    return list_of.listing(session, principal, unit, chosen, cursor, limit)


@router.get("/stats", responses=responses(401, 422))
def deliberation_statistics(
    principal: CurrentPrincipal,
    session: SessionDep,
    unit: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """议事统计：各状态数量、超期数、达成共识的比例、各层级决定按期落实情况。"""
    return list_of.statistics(session, principal, unit)


@router.get("/{deliberation_id}", responses=responses(401, 404))
def read_deliberation(
    deliberation_id: DeliberationId, principal: CurrentPrincipal, session: SessionDep
) -> dict[str, Any]:
    """议事详情：各轮到会、表决和纪要，决定事项及落实进度，全过程记录。"""
    return detail_of.detail(session, service.load(session, principal, deliberation_id))


@public.get("/units/{code}/deliberations", responses=responses(404))
def published_decisions(code: Annotated[str, Path(max_length=64)], session: SessionDep) -> Any:
    """公示：本单位及下辖单位议事形成的决定及落实情况（不含姓名和群众原文）。"""
    return {"data": detail_of.published(session, code)}


# ---- actions ------------------------------------------------------------------------------------


@dataclass
class Acting:
    """One action request: who, on which deliberation, under which idempotency key."""

    principal: Principal
    session: Session
    temporal: Client
    settings: Settings
    deliberation_id: str
    idempotency_key: str | None

    @property
    def actor(self) -> Actor:
        return self.principal.actor()

    def decision(self, text: str | None, unit: str | None, due: Due | None) -> DecisionSpec:
        """The decision a body names, checked against the units (errors name ``decision``)."""
        return service.decision_spec(
            self.session, text, unit, due, self.settings.timezone, "decision"
        )

    async def run(self, name: str, build: Callable[[Deliberation], Action]) -> DeliberationOut:
        """Load and authorise, build the action (in a thread: it may read the database), send it."""
        row = await in_thread(service.load, self.session, self.principal, self.deliberation_id)
        service.authorise(self.principal, row, name)
        action = await in_thread(build, row)
        action.request_id = service.request_id(
            self.principal, self.deliberation_id, name, self.idempotency_key
        )
        return await service.execute(self.temporal, self.deliberation_id, name, action)


def _acting(
    principal: CurrentPrincipal,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    deliberation_id: DeliberationId,
    idempotency_key: IdempotencyKey = None,
) -> Acting:
    # CurrentPrincipal first: an anonymous caller hears 401 before any complaint about the body.
    return Acting(principal, session, temporal, settings, deliberation_id, idempotency_key)


ActingDep = Annotated[Acting, Depends(_acting)]


@router.post("/{deliberation_id}/opinion", response_model=DeliberationOut, responses=ACTED)
async def opinion(acting: ActingDep, body: OpinionIn) -> DeliberationOut:
    """发表意见（本轮截止前）。"""
    return await acting.run("opinion", lambda row: Opinion(actor=acting.actor, text=body.text))


@router.post("/{deliberation_id}/ballot", response_model=DeliberationOut, responses=ACTED)
async def ballot(acting: ActingDep, body: BallotIn) -> DeliberationOut:
    """录入一张选票：每户（户码）一票，不论从哪个渠道，只计一次；选票不与户关联公开。"""

    def build(row: Deliberation) -> Action:
        token = service.household_token(acting.session, acting.settings, row, body.household)
        return Ballot(actor=acting.actor, household=token, option=body.option)

    return await acting.run("ballot", build)


@router.post("/{deliberation_id}/close_round", response_model=DeliberationOut, responses=ACTED)
async def close_round(acting: ActingDep, body: CloseRoundIn) -> DeliberationOut:
    """结束本轮：到会情况、表决票数、纪要；达成共识须附决定事项（内容、责任单位、期限）。"""

    def build(row: Deliberation) -> Action:
        decision = None
        if body.decision is not None and body.outcome is RoundOutcome.CONSENSUS:
            d = body.decision
            decision = acting.decision(d.text, d.responsible_unit, d.due)
        a, v = body.attendance, body.votes
        return CloseRound(
            actor=acting.actor,
            outcome=body.outcome,
            attendance=Attendance(
                a.expected, a.present, a.households_expected, a.households_present
            ),
            votes=Votes(v.approve, v.against, v.abstain) if v else None,
            summary=body.summary,
            decision=decision,
            step=Step(body.step) if body.step else None,
            body=body.body,
        )

    return await acting.run("close_round", build)


@router.post("/{deliberation_id}/decide", response_model=DeliberationOut, responses=ACTED)
async def decide(acting: ActingDep, body: DecideIn) -> DeliberationOut:
    """负责人决策：采纳（adopt，交付落实）或提交上级（refer_up）。"""

    def build(row: Deliberation) -> Action:
        spec = None
        if body.decision is Verdict.ADOPT:
            spec = acting.decision(body.text, body.responsible_unit, body.due)
        elif not body.reason:
            raise invalid("reason", "提交上级须说明理由")
        return Decide(
            actor=acting.actor, verdict=body.decision, decision=spec, reason=body.reason or ""
        )

    return await acting.run("decide", build)


@router.post("/{deliberation_id}/progress", response_model=DeliberationOut, responses=ACTED)
async def progress(acting: ActingDep, body: ProgressIn) -> DeliberationOut:
    """报送落实进度（百分比和说明）。"""
    return await acting.run(
        "progress",
        lambda row: ReportProgress(actor=acting.actor, percent=body.percent, note=body.note),
    )


@router.post("/{deliberation_id}/complete", response_model=DeliberationOut, responses=ACTED)
async def complete(acting: ActingDep, body: CompleteIn) -> DeliberationOut:
    """落实完成，进入监督评价。"""
    return await acting.run(
        "complete", lambda row: Complete(actor=acting.actor, summary=body.summary)
    )


@router.post("/{deliberation_id}/evaluate", response_model=DeliberationOut, responses=ACTED)
async def evaluate(acting: ActingDep, body: EvaluateIn) -> DeliberationOut:
    """监督评价：满意、基本满意、不满意。"""
    return await acting.run(
        "evaluate",
        lambda row: Evaluate(
            actor=acting.actor, satisfaction=body.satisfaction, comment=body.comment
        ),
    )


@router.post("/{deliberation_id}/withdraw", response_model=DeliberationOut, responses=ACTED)
async def withdraw(acting: ActingDep, body: WithdrawIn) -> DeliberationOut:
    """撤回议事（协商或待决策时）。"""
    return await acting.run(
        "withdraw", lambda row: DWithdraw(actor=acting.actor, reason=body.reason or "")
    )
