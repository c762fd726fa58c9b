"""``POST /api/v1/issues/{id}/publication``: the handling unit's staff approve the title the
公示栏 shows for an issue (or withdraw it: the board then shows the category's neutral wording).

The title is the API's column on the read model (``issue.public_title``), which the recorder
never writes; every change is in the audit record, with the title before and after.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import update
from sqlmodel import Session

from api.admin.scope import audit
from api.deps import API_PREFIX, CurrentPrincipal, Principal, SessionDep
from api.problems import forbidden, invalid, not_found, responses
from api.schemas import NOT_BLANK, Body
from domain.models import Role
from store.tables import Issue, table_of

router = APIRouter(prefix=f"{API_PREFIX}/issues", tags=["issues"])
APPROVERS = frozenset({Role.CLERK, Role.LEADER})
PublicTitle = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60, pattern=NOT_BLANK)
]


class PublicationIn(Body):
    title: PublicTitle | None = Field(
        description="同意公开的标题（不得含姓名、电话）；null 撤回，公示栏改用类别的中性表述"
    )


class PublicationOut(BaseModel):
    id: str
    public_title: str | None


def _approvable(session: Session, principal: Principal, issue_id: str) -> Issue:
    """The issue, if the caller is staff of the unit handling it (or that resolved it)."""
    issue = session.get(Issue, issue_id)
    # Outside the caller's subtree an issue does not exist for them, as everywhere else.
    if issue is None or not (
        principal.within(issue.unit_path) or principal.within(issue.registered_unit_path)
    ):
        raise not_found("事项不存在")
    if principal.role not in APPROVERS or principal.unit_code not in {
        issue.unit_code,
        issue.resolution_unit,
    }:
        raise forbidden("只有承办单位的工作人员可以审核公开标题", field="title")
    return issue


@router.post(
    "/{issue_id}/publication",
    response_model=PublicationOut,
    responses=responses(401, 403, 404, 422),
)
def approve_publication(
    issue_id: Annotated[str, Path(max_length=64)],
    body: PublicationIn,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> PublicationOut:
    """承办单位审核同意在公示栏公开的标题（群众原话未经同意不公开）；记入审计记录。"""
    issue = _approvable(session, principal, issue_id)
    title = body.title
    if title is not None:
        for private in (issue.reporter_name, issue.reporter_phone):
            if private and private.strip() and private.strip() in title:
                raise invalid("title", "公开标题不得含反映人的姓名或电话")
    before = issue.public_title
    # Only this column: the recorder may be writing the row's others at the same moment.
    session.exec(
        update(table_of(Issue)).where(table_of(Issue).c.id == issue.id).values(public_title=title)
    )
    audit(
        session,
        principal,
        "issue.publication",
        "issue",
        issue.id,
        issue.unit_path,
        before={"public_title": before},
        after={"public_title": title},
    )
    session.commit()
    return PublicationOut(id=issue.id, public_title=title)
