"""What the 公示栏 publishes, as JSON: nothing that names or reaches a person."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class UnitRef(BaseModel):
    code: str
    name: str


class PeriodOut(BaseModel):
    since: datetime
    until: datetime
    label: str = Field(description="如 2026年12月、2026年第4季度")


class ClosedIssue(BaseModel):
    """One closed issue: the category, a title staff approved (or the category's neutral wording),
    where and how it was resolved, and the citizen's rating (never their words)."""

    category: str
    category_name: str
    title: str
    title_approved: bool = Field(description="标题经承办单位审核同意公开；否则为类别的中性表述")
    village: UnitRef | None
    resolved_level: str | None
    resolved_level_name: str | None
    resolved_unit: str | None
    closed_at: datetime
    on_time: bool = Field(description="各层级均在时限内办理，且未超期")
    solved: bool | None
    satisfaction: str | None
    satisfaction_name: str


class Decision(BaseModel):
    """A deliberation's decision and its implementation (议事决定及落实情况)."""

    topic: str
    kind: str
    kind_name: str
    status: str
    status_name: str
    decision: str
    decided_level: str | None
    decided_at: datetime | None
    responsible_unit: UnitRef | None
    due: datetime | None
    progress: int | None
    completed_at: datetime | None
    on_time: bool | None
    tally: dict[str, int] | None


class Rates(BaseModel):
    response: float | None
    resolution: float | None
    satisfaction: float | None
    composite: float | None
    feedback: int


class Figures(BaseModel):
    """A period's figures (issues registered in it, as ``GET /stats`` counts them)."""

    period: PeriodOut
    registered: int
    resolved: int
    resolution_share: dict[str, float | None] = Field(description="办结层级占比：村、乡镇、县")
    on_time: dict[str, float | None]
    rates: Rates = Field(description="三率：响应率、解决率、满意率及综合")


class Disclosure(BaseModel):
    unit: UnitRef
    ancestors: list[UnitRef]
    period: PeriodOut
    issues: list[ClosedIssue]
    issues_count: int = Field(description="期内办结事项总数（列表最多列出前若干条）")
    decisions: list[Decision]
    figures: Figures = Field(description="本期数字（期内登记的事项）")
    quarter: Figures = Field(description="本期开始所在季度的数字")
