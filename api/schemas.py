"""The HTTP shapes: request bodies (with examples for the docs) and responses.

Field names are English (the contract); descriptions are Chinese for the people reading the docs.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from api.duty_stats import DutyShareOut
from api.inputs import CONTROL_CLASS
from domain.models import Channel, Satisfaction, Status, Urgency

T = TypeVar("T")

# Fields are stripped before their length is checked; a JSON schema cannot say so, but a pattern
# can say the one thing that matters: not blank. It says too what every string must not hold
# (api.inputs refuses it first, naming the field): strings without a pattern of their own get
# that in the OpenAPI by ``api.inputs.document_clean_strings``.
NOT_BLANK = f"^[^{CONTROL_CLASS}]*[^\\s{CONTROL_CLASS}][^{CONTROL_CLASS}]*$"
_SPACE = f"[^\\S{CONTROL_CLASS}]"  # white space that is no control character
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=NOT_BLANK),
]
"""Text a person must write (a reason, a summary): blank is refused here, not by the workflow."""
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=NOT_BLANK)
]
# Ends in a digit: the pattern then says what is left after the surrounding spaces are stripped.
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 \-]{3,18}[0-9]$")
]
Pin = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]
# What people type (see normalise_tracking_code): 4 to 32 letters, digits, dashes and spaces.
TrackingCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        pattern=f"^{_SPACE}*[0-9A-Za-z-][0-9A-Za-z -]{{2,30}}[0-9A-Za-z-]{_SPACE}*$",
    ),
]


class Body(BaseModel):
    """Request bodies refuse unknown fields: a misspelt field must not be silently dropped."""

    model_config = ConfigDict(extra="forbid")

    # Rules across fields that the API enforces, stated in the JSON schema as well, so the docs
    # (and clients generated from them) know what will be refused.
    cross_field_rules: ClassVar[dict[str, Any]] = {}

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema.update(cls.cross_field_rules)
        return schema


# ---- auth ---------------------------------------------------------------------------------------


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class UnitOut(BaseModel):
    code: str = Field(examples=["611025001001"])
    name: str = Field(examples=["新城社区居委会"])


class Me(BaseModel):
    username: str
    display_name: str | None
    role: str
    role_label: str
    unit: UnitOut | None = None
    department: UnitOut | None = None


# ---- issues: registration -----------------------------------------------------------------------


class ReporterIn(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None
    phone: Phone | None = None


class IssueCreate(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "village_code": "611025001001",
                    "category": "sanitation",
                    "title": "村道垃圾堆放",
                    "description": "新城社区东口路边垃圾堆放多日无人清运",
                    "urgency": "normal",
                    "reporter": {"name": "张三", "phone": "13800001234"},
                    "location": "新城社区东口",
                    "attachments": ["https://example.org/photo/1.jpg"],
                    "channel": "walk_in",
                }
            ]
        },
    )

    village_code: Code = Field(description="登记的村（社区）或网格代码")
    category: Code = Field(
        description="事项类别代码或中文名称，如 sanitation 或 环境卫生（见 GET /categories）"
    )
    title: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK),
    ]
    description: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=5000, pattern=NOT_BLANK),
    ]
    urgency: Urgency = Urgency.NORMAL
    reporter: ReporterIn | None = None
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    attachments: list[AnyHttpUrl] = Field(default_factory=list, max_length=20)
    channel: Channel | None = Field(default=None, description="受理渠道；部门系统默认 department")


class IssueCreated(BaseModel):
    id: str
    tracking_code: str = Field(description="群众查询码")
    pin: str = Field(description="群众查询密码（6位），只在登记时返回")
    status: Status
    level: str
    unit: UnitOut
    deadline: datetime | None


# ---- issues: reading ----------------------------------------------------------------------------


class ReporterOut(BaseModel):
    name: str | None = None
    phone: str | None = Field(default=None, description="除当前承办单位和管理员外均脱敏")


class LevelOut(BaseModel):
    level: str
    unit: str
    unit_name: str
    entered_at: datetime
    deadline: datetime
    accept_deadline: datetime
    accepted_at: datetime | None = None
    left_at: datetime | None = None
    outcome: str | None = None
    on_time: bool | None = None
    extended: bool = False
    reason: str


class ActorOut(BaseModel):
    user: str
    role: str
    unit: str | None = None
    department: str | None = None
    name: str | None = None


class EventOut(BaseModel):
    seq: int
    type: str
    label: str
    at: datetime
    actor: ActorOut
    level: str | None = None
    unit: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class DepartmentCallOut(BaseModel):
    department: str
    name: str
    whistled_at: datetime
    report_deadline: datetime
    reported_at: datetime | None = None
    on_time: bool | None = None
    contribution: str | None = None


class ResolutionOut(BaseModel):
    level: str
    unit: str
    unit_name: str | None = None
    summary: str | None = None
    at: datetime | None = None


class FeedbackOut(BaseModel):
    solved: bool | None = None
    satisfaction: str | None = None
    comment: str | None = None
    at: datetime | None = None


class InvalidOut(BaseModel):
    """A standing invalid mark (无效): why, and for a duplicate the issue it repeats."""

    kind: str = Field(description="spam | duplicate | not_governance")
    kind_label: str
    reason: str
    at: datetime
    duplicate_of: str | None = Field(default=None, description="所重复事项的 id")
    duplicate_code: str | None = Field(default=None, description="所重复事项的查询码")
    review_until: datetime | None = Field(default=None, description="督查可撤销无效标记至此时")


class IssueDetail(BaseModel):
    """One issue, the same shape whether it came from the live workflow or the read model."""

    id: str
    tracking_code: str
    category: str
    category_name: str | None = None
    title: str
    description: str
    urgency: str
    channel: str
    status: Status
    status_label: str
    level: str
    unit: UnitOut
    registered_unit: UnitOut | None = None
    deadline: datetime | None = None
    overdue: bool = False
    provisional: bool = False
    reporter: ReporterOut = Field(default_factory=ReporterOut)
    location: str | None = None
    attachments: list[str] = Field(default_factory=list)
    registered_at: datetime
    closed_at: datetime | None = None
    levels: list[LevelOut] = Field(default_factory=list)
    events: list[EventOut] = Field(default_factory=list)
    departments: list[DepartmentCallOut] = Field(default_factory=list)
    resolution: ResolutionOut | None = None
    feedback: FeedbackOut | None = None
    invalid: InvalidOut | None = None
    source: str = Field(description="live：来自流程实时状态；record：来自读模型")


class IssueSummary(BaseModel):
    id: str
    tracking_code: str
    category: str
    title: str
    urgency: str
    status: Status
    status_label: str
    level: str
    unit: UnitOut
    deadline: datetime | None = None
    overdue: bool = False
    registered_at: datetime
    closed_at: datetime | None = None
    invalid: InvalidOut | None = Field(
        default=None, description="无效标记（status 为 invalid 时）：类型、理由、所重复的事项"
    )


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="符合条件的总数")
    next_cursor: str | None = Field(default=None, description="下一页游标；为空表示没有更多")


class Listing(BaseModel, Generic[T]):
    data: list[T]
    count: int


# ---- issues: actions ----------------------------------------------------------------------------


class ActionOut(BaseModel):
    """Where the issue stands after an action (the workflow's ``ActionResult``)."""

    issue_id: str
    seq: int = Field(description="该操作产生的事件序号")
    status: Status
    status_label: str
    level: str
    unit: str
    deadline: datetime | None
    duplicate: bool = Field(description="同一 Idempotency-Key 的重复请求：未再次执行")


def _example(**example: Any) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class AcceptIn(Body):
    model_config = _example(note="已签收，安排网格员现场查看")
    note: OptionalText = None


class ProgressIn(Body):
    model_config = _example(note="已联系环卫公司，明日上午清运")
    note: Text


class ResolveIn(Body):
    model_config = _example(summary="垃圾已清运，设置临时垃圾桶两处")
    summary: Text


class EscalateIn(Body):
    model_config = _example(reason="涉及跨村道路权属，超出村级处置权限")
    reason: Text


class WhistleIn(Body):
    model_config = _example(departments=["zhenan-zhujian"], reason="需住建部门现场鉴定")
    departments: list[Code] = Field(min_length=1, max_length=20, description="部门代码")
    reason: Text


class ReportIn(Body):
    model_config = _example(contribution="已派员到场，提供鉴定意见")
    contribution: OptionalText = None


_AMOUNT = "[1-9][0-9]*"
_TIME = f"T(?:{_AMOUNT}H(?:{_AMOUNT}M)?(?:{_AMOUNT}S)?|{_AMOUNT}M(?:{_AMOUNT}S)?|{_AMOUNT}S)"
ISO_DURATION = f"^P(?:{_AMOUNT}D(?:{_TIME})?|{_TIME})$"
"""A positive ISO 8601 duration of days, hours, minutes and seconds (what ``parse_iso_duration``
reads, with every written amount above zero)."""

# The term is working days or a duration: each branch holds when its field is given (not null).
_TERM_GIVEN = [
    {"required": ["working_days"], "properties": {"working_days": {"type": "integer"}}},
    {"required": ["duration"], "properties": {"duration": {"type": "string"}}},
]


class TermIn(Body):
    working_days: int | None = Field(default=None, ge=1, le=60, description="工作日数")
    duration: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, max_length=32, pattern=ISO_DURATION)
        ]
        | None
    ) = Field(default=None, description="ISO 8601 时长，如 PT4H、P1DT12H（与 working_days 二选一）")


class ExtensionIn(TermIn):
    model_config = _example(working_days=2, reason="需等待鉴定结果")
    cross_field_rules: ClassVar[dict[str, Any]] = {"oneOf": _TERM_GIVEN}  # exactly one
    reason: Text


class ExtensionDecisionIn(TermIn):
    model_config = _example(approve=True, working_days=2, comment="同意延期")
    # At most one: none approves the term asked for.
    cross_field_rules: ClassVar[dict[str, Any]] = {"not": {"allOf": _TERM_GIVEN}}
    approve: bool
    comment: OptionalText = None


class TransferIn(Body):
    model_config = _example(unit="611025001002", reason="事发地属镇城社区")
    unit: Code = Field(description="转派目标单位代码（同级）")
    reason: Text


class SuperviseIn(Body):
    model_config = _example(note="请于本周内办结并反馈")
    note: Text


class CitizenCredentials(Body):
    # Both halves or neither: one alone is refused, naming the other.
    cross_field_rules: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {
                "required": ["tracking_code", "pin"],
                "properties": {"tracking_code": {"type": "string"}, "pin": {"type": "string"}},
            },
            {"properties": {"tracking_code": {"type": "null"}, "pin": {"type": "null"}}},
        ]
    }
    tracking_code: TrackingCode | None = Field(default=None, description="群众查询码（无令牌时）")
    pin: Pin | None = Field(default=None, description="群众查询密码（无令牌时）")


class FeedbackIn(CitizenCredentials):
    model_config = _example(solved=True, satisfaction="satisfied", comment="处理及时")
    solved: bool
    satisfaction: Satisfaction
    comment: OptionalText = None


class WithdrawIn(CitizenCredentials):
    model_config = _example(reason="已自行协商解决", tracking_code="7K3M9QXR2D", pin="123456")
    reason: OptionalText = None


class TrackIn(Body):
    model_config = _example(tracking_code="7K3M9QXR2D", pin="123456")
    tracking_code: TrackingCode
    pin: Pin


# ---- units, inbox -------------------------------------------------------------------------------


class UnitSummary(BaseModel):
    code: str
    name: str
    kind: str
    parent_code: str | None
    depth: int


class UnitDetail(UnitSummary):
    ancestors: list[UnitOut] = Field(description="上级单位，自上而下")
    children: list[UnitSummary]


class NotificationOut(BaseModel):
    id: int
    issue_id: str | None
    kind: str
    title: str
    body: str
    target_kind: str
    target_code: str
    created_at: datetime
    read_at: datetime | None


class InboxPage(BaseModel):
    data: list[NotificationOut]
    count: int = Field(description="返回的条数")
    unread: int = Field(description="未读总数")


class Health(BaseModel):
    status: str = Field(default="ok", description="ok，或 degraded（没有 worker 在处理事项）")
    database: str = "ok"
    temporal: str = "ok"
    worker: str | None = Field(
        default=None, description="ok 或 absent（近期无 worker 轮询任务队列）；无法判断时省略"
    )


# ---- statistics ---------------------------------------------------------------------------------


class RatesOut(BaseModel):
    """三率 and the composite; null where nothing was counted yet (never a misleading 0)."""

    response: float | None = Field(description="响应率：按时签收 ÷ 已派发（签收已定）")
    resolution: float | None = Field(description="解决率：回访“已解决” ÷ 回访数")
    satisfaction: float | None = Field(description="满意率：(满意 + 0.9×基本满意) ÷ 回访数")
    composite: float | None = Field(description="综合得分：0.1×响应 + 0.5×解决 + 0.4×满意")
    dispatched: int
    accepted_on_time: int
    feedback: int
    feedback_by_citizen: int = Field(description="群众自评：群众凭查询码和密码提交的回访评价数")
    feedback_by_staff: int = Field(description="回访录入：工作人员电话回访后代为录入的评价数")
    feedback_by: dict[str, int] = Field(
        description="回访评价按录入者分：citizen（群众自评）及录入回访的工作人员角色，"
        "如 supervisor（督查）"
    )


class DurationsOut(BaseModel):
    count: int
    median_seconds: float | None
    p90_seconds: float | None


class StatsSummaryOut(BaseModel):
    total: int
    by_status: dict[str, int]
    open: int
    warning: int
    overdue: int
    resolved: int
    resolution_share: dict[str, float | None] = Field(
        description="办结层级占比：村/乡镇/县办结 ÷ 办结总数"
    )
    on_time: dict[str, float | None] = Field(description="各层级按时率")
    time_to_resolve: DurationsOut
    rates: RatesOut
    open_by_level: dict[str, int] = Field(description="在办事项按当前所在层级")
    funnel: dict[str, int] = Field(description="流转漏斗：到达村/乡镇/县级的事项数")
    overdue_total: int = Field(description="曾经超期的事项数（含已办结）")


class RankingOut(BaseModel):
    rank: int = Field(description="按综合得分的名次（红榜）")
    overdue_rank: int = Field(description="按超期数的名次（黑榜，超期最多者第1）")
    unit: UnitOut
    kind: str
    total: int
    open: int
    warning: int
    overdue: int = Field(description="当前超期在办数")
    overdue_total: int = Field(description="累计超期数")
    resolved: int
    rates: RatesOut


class CategoryCountOut(BaseModel):
    code: str
    name: str
    total: int
    open: int
    overdue: int


class TrendPointOut(BaseModel):
    start: date = Field(description="该时段的第一天（按周时为周一）")
    registered: int = Field(description="当期登记数")
    resolved: int = Field(description="当期办结数")
    overdue: int = Field(description="当期新增超期数")


class TrendOut(BaseModel):
    bucket: str = Field(description="day 或 week")
    points: list[TrendPointOut]


class StatsOut(StatsSummaryOut):
    unit: UnitOut
    since: datetime | None
    until: datetime | None
    category: str | None = None
    rankings: list[RankingOut] = Field(description="直接下级单位红黑榜（综合得分降序）")
    township_rankings: list[RankingOut] = Field(description="辖区内乡镇（街道）红黑榜")
    village_rankings: list[RankingOut] = Field(description="辖区内村（社区）红黑榜")
    by_category: list[CategoryCountOut] = Field(description="各类别事项数（全部类别，含0）")
    trend: TrendOut = Field(description="趋势：按日或按周的登记、办结、新增超期")
    duties: list[DutyShareOut] = Field(
        default_factory=list,
        description="各项职责的按时率（议事会、代表会议、联席会议、村务公开、巡查）：辖区合计及各单位",
    )


class AlertOut(BaseModel):
    """An open issue the supervisors should look at: warned (预警) or overdue (超期)."""

    id: str
    tracking_code: str
    title: str
    category: str
    category_name: str | None
    urgency: str
    status: Status
    status_label: str
    level: str
    level_label: str
    unit: UnitOut
    township: UnitOut | None
    deadline: datetime | None
    warnings_sent: int
    overdue: bool
    registered_at: datetime


class AlertListOut(BaseModel):
    count: int = Field(description="符合条件的总数")
    data: list[AlertOut] = Field(description="按期限先后，最紧迫者在前")


class AlertsOut(BaseModel):
    unit: UnitOut
    warning: AlertListOut = Field(description="预警（黄）：已发预警、尚未超期、尚未办结的事项")
    overdue: AlertListOut = Field(description="超期（红）：县级期限已过、尚未办结的事项")
