"""The words of a deliberation: its kinds, statuses, outcomes, verdicts, the steps of 四议两公开,
the participants' roles, its event types and its clocks."""

from enum import StrEnum


class Kind(StrEnum):
    VILLAGE_COUNCIL = "village_council"  # 村民议事会
    REPRESENTATIVES_MEETING = "representatives_meeting"  # 村民代表会议
    JOINT_MEETING = "joint_meeting"  # 联席会议
    HEARING = "hearing"  # 听证
    POLL = "poll"  # 协商式民意调查
    CONSULTATION = "consultation"  # 民主恳谈
    FOUR_DELIBERATIONS = "four_deliberations"  # 四议两公开


class DStatus(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    IMPLEMENTING = "implementing"
    AWAITING_EVALUATION = "awaiting_evaluation"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


LIVE_STATUSES = frozenset(
    {DStatus.OPEN, DStatus.SUBMITTED, DStatus.IMPLEMENTING, DStatus.AWAITING_EVALUATION}
)


class RoundOutcome(StrEnum):
    CONSENSUS = "consensus"
    NO_CONSENSUS = "no_consensus"
    HARD = "hard"


class Verdict(StrEnum):
    """The leadership's decision on a hard matter."""

    ADOPT = "adopt"
    REFER_UP = "refer_up"


class Step(StrEnum):
    """四议两公开, in order: the first four are meetings (attendance on record), the last two are
    publications the workflow records itself (the decision, then the result)."""

    PARTY_PROPOSAL = "party_proposal"  # 村党组织提议
    COMMITTEES = "committees"  # 村"两委"会议商议
    PARTY_MEMBERS = "party_members"  # 党员大会审议
    RESOLUTION = "resolution"  # 村民会议或村民代表会议决议
    RESOLUTION_PUBLISHED = "resolution_published"  # 决议公开
    RESULT_PUBLISHED = "result_published"  # 实施结果公开


MEETING_STEPS = (Step.PARTY_PROPOSAL, Step.COMMITTEES, Step.PARTY_MEMBERS, Step.RESOLUTION)


class Body(StrEnum):
    """Who meets, as the law counts its quorum (村民委员会组织法 arts. 22, 26)."""

    VILLAGERS = "villagers"  # 村民会议
    REPRESENTATIVES = "representatives"  # 村民代表会议


PARTICIPANT_ROLES = {
    "villager_representative": "村民代表",
    "party_member": "党员",
    "cppcc_member": "政协委员",
    "npc_deputy": "人大代表",
    "area_chief": "片长",
    "mediator": "人民调解员",
    "local_worthy": "乡贤",
    "grid_worker": "网格员",
}


class DEventType(StrEnum):
    OPENED = "opened"
    ROUND_OPENED = "round_opened"
    OPINION = "opinion"
    BALLOT = "ballot"
    ROUND_DUE = "round_due"
    STEP_RECORDED = "step_recorded"
    ROUND_CLOSED = "round_closed"
    SUBMITTED = "submitted"
    DECIDED = "decided"
    REFERRED_UP = "referred_up"
    DECISION_OVERDUE = "decision_overdue"
    IMPLEMENTING = "implementing"
    PROGRESS = "progress"
    WARNING = "warning"
    OVERDUE = "overdue"
    OVERDUE_REMINDER = "overdue_reminder"
    COMPLETED = "completed"
    EVALUATED = "evaluated"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class DClock(StrEnum):
    TERMS = "terms"
    ROUND = "round"
    SUBMISSION = "submission"
    IMPLEMENTATION = "implementation"
    EVALUATION = "evaluation"
    OVERDUE = "overdue"
    REMINDER = "reminder"
