"""The SQL read model, every table in one index: ``from store.tables import Issue`` works for all.

Temporal holds live issues; these tables are what the API reads and what outlives Temporal's
retention. Activities and admin commands write them; nothing else does. Every timestamp is a
timezone-aware UTC ``datetime`` on the Python side, whatever the database keeps. Each area keeps
its tables in a module of its own; importing this one puts them all on the one metadata.
"""

from store.columns import UTCDateTime, json_column, prefix_index, table_of
from store.deliberation_tables import (
    Deliberation,
    DeliberationEvent,
    DeliberationRound,
)
from store.duty_tables import (
    DisclosurePublication,
    DutyDocument,
    DutyEventRow,
    DutyRun,
    PatrolCheckin,
)
from store.issue_tables import (
    EPOCH,
    HOUR,
    MICROSECOND,
    Issue,
    IssueDepartment,
    IssueEvent,
    IssueLevel,
    stats_columns,
)
from store.notification_tables import (
    PENDING,
    UNDISPATCHED,
    Notification,
    NotificationAttempt,
    OutboxNotice,
)
from store.public_tables import (
    PatrolLog,
    TopicProposal,
)
from store.reference_tables import (
    ApiKey,
    AuditRecord,
    Category,
    ChannelTarget,
    Department,
    Household,
    Unit,
    User,
)
from store.tally_tables import (
    FeedbackTally,
    IssueTally,
    RegisteredHourTally,
    ResolvedHourTally,
    StayTally,
    UnitTally,
)

__all__ = [
    "EPOCH",
    "HOUR",
    "MICROSECOND",
    "PENDING",
    "UNDISPATCHED",
    "ApiKey",
    "AuditRecord",
    "Category",
    "ChannelTarget",
    "Deliberation",
    "DeliberationEvent",
    "DeliberationRound",
    "Department",
    "DisclosurePublication",
    "DutyDocument",
    "DutyEventRow",
    "DutyRun",
    "FeedbackTally",
    "Household",
    "Issue",
    "IssueDepartment",
    "IssueEvent",
    "IssueLevel",
    "IssueTally",
    "Notification",
    "NotificationAttempt",
    "OutboxNotice",
    "PatrolCheckin",
    "PatrolLog",
    "RegisteredHourTally",
    "ResolvedHourTally",
    "StayTally",
    "TopicProposal",
    "UTCDateTime",
    "Unit",
    "UnitTally",
    "User",
    "json_column",
    "prefix_index",
    "stats_columns",
    "table_of",
]
