"""Invalid marks (无效) on issues: the handling unit marks a submission invalid with a reason,
and supervisors (or the leader above) overturn or uphold it while its review window runs.

Each is one workflow update, through the same ``Acting`` path as every other action; the list of
marked issues is ``GET /api/v1/issues?status=invalid`` (supervisors read their subtree).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field
from sqlmodel import Session, col, or_, select

from api.deps import API_PREFIX, Principal, in_thread
from api.problems import invalid, responses
from api.routes.issues import StaffActing
from api.schemas import ActionOut, Body, Code, OptionalText, Text
from domain.models import InvalidKind, MarkInvalid, ReviewInvalid
from store.tables import Issue

router = APIRouter(prefix=f"{API_PREFIX}/issues", tags=["issues"])
_ERRORS = responses(401, 403, 404, 409, 422, 503)


class MarkInvalidIn(Body):
    """标记无效：类型、理由；重复提交须指明所重复的事项。"""

    kind: InvalidKind = Field(
        description="spam 恶意或无意义 | duplicate 重复 | not_governance 非治理事项"
    )
    reason: Text
    duplicate_of: Annotated[Code | None, Field(description="所重复事项的查询码或 id")] = None


class ReviewInvalidIn(Body):
    """复核无效标记：overturn=true 撤销（事项恢复办理），false 确认。"""

    overturn: bool
    note: OptionalText = None


def repeated_issue(session: Session, principal: Principal, code: str) -> Issue:
    """The issue a duplicate repeats, by tracking code or id, within the caller's subtree."""
    row = session.exec(
        select(Issue).where(or_(col(Issue.tracking_code) == code, col(Issue.id) == code))
    ).first()
    if row is None or not (
        principal.within(row.registered_unit_path) or principal.within(row.unit_path)
    ):
        raise invalid("duplicate_of", "本辖区内没有这个事项")
    return row


@router.post("/{issue_id}/invalid", response_model=ActionOut, responses=_ERRORS)
async def mark_invalid(acting: StaffActing, body: MarkInvalidIn) -> ActionOut:
    """标记无效：当前承办单位认定为恶意或无意义提交、重复提交或非治理事项，写明理由；
    不计入本单位统计，督查可在复核期内撤销。"""
    repeated: Issue | None = None
    if body.duplicate_of is not None and acting.principal is not None:
        repeated = await in_thread(
            repeated_issue, acting.session, acting.principal, body.duplicate_of
        )
    return await acting.run(
        "mark_invalid",
        lambda actor, rid: MarkInvalid(
            actor,
            rid,
            kind=body.kind,
            reason=body.reason,
            duplicate_of=repeated.id if repeated else None,
            duplicate_code=repeated.tracking_code if repeated else None,
        ),
    )


@router.post("/{issue_id}/invalid/review", response_model=ActionOut, responses=_ERRORS)
async def review_invalid(acting: StaffActing, body: ReviewInvalidIn) -> ActionOut:
    """复核无效标记：督查人员或上级单位负责人撤销（恢复办理，重新计时）或确认。"""
    return await acting.run(
        "review_invalid",
        lambda actor, rid: ReviewInvalid(actor, rid, overturn=body.overturn, note=body.note or ""),
    )
