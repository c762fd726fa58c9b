"""The vocabulary of a deliberation, gathered: import from here.

Split by job — ``vocabulary`` (the enums and named constants), ``actions`` (the opening and what
people send), ``state`` (what the workflow holds and answers). Everything that crosses a Temporal
boundary for a deliberation is a dataclass of those modules; the shared pieces (``Actor``,
``Action``, ``Term``, ``UnitRef``, ``Notice``, ``Deadline``) are the issue's own from
``domain.models``.
"""

from __future__ import annotations

from domain.deliberation.actions import (
    Attendance,
    Ballot,
    CloseRound,
    Complete,
    Decide,
    DecisionSpec,
    DWithdraw,
    Evaluate,
    NewDeliberation,
    Opinion,
    Participant,
    ReportProgress,
    Votes,
)
from domain.deliberation.state import (
    DClockNeed,
    Decision,
    DeliberationResult,
    DeliberationSnapshot,
    DeliberationStart,
    DeliberationState,
    DeliberationTerms,
    DeliberationTermsRequest,
    DEvent,
    EvaluationRecord,
    IssueLink,
    RoundRecord,
    StepRecord,
    Submission,
)
from domain.deliberation.vocabulary import (
    LIVE_STATUSES,
    MEETING_STEPS,
    PARTICIPANT_ROLES,
    Body,
    DClock,
    DEventType,
    DStatus,
    Kind,
    RoundOutcome,
    Step,
    Verdict,
)

__all__ = [
    "LIVE_STATUSES",
    "MEETING_STEPS",
    "PARTICIPANT_ROLES",
    "Attendance",
    "Ballot",
    "Body",
    "CloseRound",
    "Complete",
    "DClock",
    "DClockNeed",
    "DEvent",
    "DEventType",
    "DStatus",
    "DWithdraw",
    "Decide",
    "Decision",
    "DecisionSpec",
    "DeliberationResult",
    "DeliberationSnapshot",
    "DeliberationStart",
    "DeliberationState",
    "DeliberationTerms",
    "DeliberationTermsRequest",
    "Evaluate",
    "EvaluationRecord",
    "IssueLink",
    "Kind",
    "NewDeliberation",
    "Opinion",
    "Participant",
    "ReportProgress",
    "RoundOutcome",
    "RoundRecord",
    "Step",
    "StepRecord",
    "Submission",
    "Verdict",
    "Votes",
]
