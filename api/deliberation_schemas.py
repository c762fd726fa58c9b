"""Request and answer bodies of ``/api/v1/deliberations`` (the contract's names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.inputs import CONTROL_CLASS, Instant
from api.schemas import Body, Code, OptionalText, Text
from domain.deliberation.models import Body as MeetingBody
from domain.deliberation.models import Kind, RoundOutcome, Step, Verdict
from domain.models import Satisfaction

Topic = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ParticipantIn(Body):
    role: str = Field(description="村民代表 villager_representative、党员 party_member 等")
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None
    unit: Code | None = Field(default=None, description="其所在单位（经该单位渠道通知）")


class WorkingDays(Body):
    working_days: int = Field(ge=1, le=365)


# A duration's own pattern states the control characters api.inputs refuses in every string.
Duration = Annotated[str, StringConstraints(pattern=rf"^P[^{CONTROL_CLASS}]*$")]
Due = Instant | Duration | WorkingDays
"""ISO 8601 datetime, an ISO duration (``P10D``), or ``{"working_days": N}``."""


class DecisionIn(Body):
    text: Text
    responsible_unit: Code
    due: Due | None = Field(default=None, description="缺省为政策的落实时限")


class DeliberationCreate(Body):
    unit: Code = Field(description="发起单位（村、乡镇或县）")
    topic: Topic
    kind: Kind
    description: OptionalText = None
    issue_id: Code | None = None
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=200)
    departments: list[Code] = Field(default_factory=list, max_length=50)
    meeting_at: Instant | None = None
    options: list[Topic] = Field(default_factory=list, max_length=20, description="民意调查选项")


class AttendanceIn(Body):
    expected: int = Field(ge=1, le=100_000)
    present: int = Field(ge=0, le=100_000)
    households_expected: int | None = Field(default=None, ge=1, le=100_000)
    households_present: int | None = Field(default=None, ge=0, le=100_000)


class VotesIn(Body):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    approve: int = Field(alias="for", ge=0, le=100_000)
    against: int = Field(ge=0, le=100_000)
    abstain: int = Field(default=0, ge=0, le=100_000)


class CloseRoundIn(Body):
    outcome: RoundOutcome
    attendance: AttendanceIn
    votes: VotesIn | None = None
    summary: Text
    decision: DecisionIn | None = None
    step: Step | None = Field(default=None, description="四议两公开：本次会议的步骤")
    body: MeetingBody | None = Field(default=None, description="决议步骤：村民会议或村民代表会议")


class DecideIn(Body):
    decision: Verdict
    reason: OptionalText = None
    text: OptionalText = None
    responsible_unit: Code | None = None
    due: Due | None = None


class OpinionIn(Body):
    text: Text


class BallotIn(Body):
    household: Code = Field(description="村发放的户码")
    option: Topic


class ProgressIn(Body):
    percent: int = Field(ge=0, le=100)
    note: Text


class CompleteIn(Body):
    summary: Text


class EvaluateIn(Body):
    satisfaction: Satisfaction
    comment: OptionalText = None


class WithdrawIn(Body):
    reason: OptionalText = None


class DeliberationOut(BaseModel):
    id: str
    status: str
    unit: str
    round: int
    deadline: datetime | None
    duplicate: bool = False


class DeliberationPage(BaseModel):
    data: list[dict[str, Any]]
    count: int = Field(description="符合条件的总数")
    next_cursor: str | None = Field(default=None, description="下一页游标；为空表示没有更多")


Action = Literal[
    "opinion", "ballot", "close_round", "decide", "progress", "complete", "evaluate", "withdraw"
]
