"""The board's content in words, shared by the page and the printed notice, so both say the same."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from api.disclosure.schemas import ClosedIssue, Decision, Figures
from domain import labels

PRIVACY = "本栏不公开反映人的姓名、电话和反映原文；事项标题经承办单位审核同意后公开。"
LEVELS = ("village", "township", "county")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def day(moment: datetime | None, zone: ZoneInfo) -> str:
    return "—" if moment is None else f"{moment.astimezone(zone):%Y-%m-%d}"


def figure_rows(f: Figures) -> list[tuple[str, str]]:
    """(label, value) lines of a period's figures: the resolution level share and the 三率."""
    share = "，".join(
        f"{labels.LEVEL[lvl]} {percent(f.resolution_share.get(lvl))}" for lvl in LEVELS
    )
    return [
        ("登记事项", f"{f.registered} 件"),
        ("已办结", f"{f.resolved} 件"),
        ("办结层级占比", share),
        ("响应率", percent(f.rates.response)),
        ("解决率", percent(f.rates.resolution)),
        ("满意率", percent(f.rates.satisfaction)),
        ("综合得分", percent(f.rates.composite)),
        ("收到评价", f"{f.rates.feedback} 件"),
    ]


def issue_facts(issue: ClosedIssue, zone: ZoneInfo) -> list[str]:
    """What the board says of one closed issue, after its title."""
    where = issue.village.name if issue.village else ""
    resolved = (
        f"{issue.resolved_level_name or ''}办结（{issue.resolved_unit}）"
        if issue.resolved_unit
        else f"{issue.resolved_level_name or ''}办结"
    )
    solved = {True: "已解决", False: "未解决", None: ""}[issue.solved]
    return [
        part
        for part in (
            issue.category_name,
            where,
            resolved,
            "按时办理" if issue.on_time else "超时办理",
            f"评价：{issue.satisfaction_name}" + (f"（{solved}）" if solved else ""),
            f"办结日期 {day(issue.closed_at, zone)}",
        )
        if part
    ]


def decision_facts(d: Decision, zone: ZoneInfo) -> list[str]:
    """What the board says of one decision and its implementation, after its topic."""
    progress = "已完成" if d.completed_at else f"进度 {d.progress or 0}%"
    facts = [
        d.kind_name,
        f"决定：{d.decision}",
        f"责任单位：{d.responsible_unit.name}" if d.responsible_unit else "",
        f"期限 {day(d.due, zone)}" if d.due else "",
        f"{d.status_name}，{progress}",
    ]
    if d.completed_at:
        facts.append("按期完成" if d.on_time else "逾期完成")
    if d.tally:
        facts.append("表决：" + "，".join(f"{k} {v}" for k, v in d.tally.items()))
    return [f for f in facts if f]
