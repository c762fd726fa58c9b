"""``linkage stats``: the answer of ``GET /stats`` as rich tables, for a terminal or a report."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from api.schemas import RankingOut, RatesOut, StatsOut
from domain import labels

LEVELS = ("village", "township", "county")


def percent(value: float | None) -> str:
    """0.8 → "80.0%"; None (nothing counted) → "—", never a misleading 0."""
    return "—" if value is None else f"{value * 100:.1f}%"


def score(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}"


def duration(seconds: float | None) -> str:
    """Seconds as days, hours and minutes: 93_784 → "1天2小时3分"."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}天"] if days else []
    if hours or days:
        parts.append(f"{hours}小时")
    parts.append(f"{mins}分")
    return "".join(parts)


def by_staff(r: RatesOut) -> str:
    """回访录入 with its roles: "3（督查 2、负责人 1）"; "0" when staff recorded none."""
    roles = [
        f"{labels.ROLE.get(role, role)} {n}"
        for role, n in r.feedback_by.items()
        if role != "citizen" and n
    ]
    return f"{r.feedback_by_staff}（{'、'.join(roles)}）" if roles else str(r.feedback_by_staff)


def _period(s: StatsOut) -> str:
    since = s.since.date().isoformat() if s.since else "开始"
    until = s.until.date().isoformat() if s.until else "现在"
    return f"{since} 至 {until}（不含）" if s.until else f"{since} 至 {until}"


def _summary(s: StatsOut) -> Table:
    table = Table(title="概况", show_header=False)
    table.add_column("指标")
    table.add_column("数值", justify="right")
    rows = [
        ("登记总数", str(s.total)),
        ("在办", str(s.open)),
        ("预警", str(s.warning)),
        ("超期（在办）", str(s.overdue)),
        ("累计超期", str(s.overdue_total)),
        ("已办结", str(s.resolved)),
        ("办理时长中位数", duration(s.time_to_resolve.median_seconds)),
        ("办理时长 P90", duration(s.time_to_resolve.p90_seconds)),
    ]
    if s.category:
        rows.insert(0, ("类别", s.category))
    for name, value in rows:
        table.add_row(name, value)
    return table


def _levels(s: StatsOut) -> Table:
    table = Table(title="分层级")
    for header in ("层级", "在办", "到达（漏斗）", "办结占比", "按时率"):
        table.add_column(header, justify="right" if header != "层级" else "left")
    for level in LEVELS:
        table.add_row(
            labels.LEVEL[level],
            str(s.open_by_level.get(level, 0)),
            str(s.funnel.get(level, 0)),
            percent(s.resolution_share.get(level)),
            percent(s.on_time.get(level)),
        )
    return table


def _rates(s: StatsOut) -> Table:
    r = s.rates
    table = Table(title="三率")
    headers = ("响应率", "解决率", "满意率", "综合得分", "已派发", "按时签收", "回访数")
    # Whose word the resolution and satisfaction rates rest on.
    for header in (*headers, "群众自评", "回访录入"):
        table.add_column(header, justify="right")
    table.add_row(
        percent(r.response),
        percent(r.resolution),
        percent(r.satisfaction),
        score(r.composite),
        str(r.dispatched),
        str(r.accepted_on_time),
        str(r.feedback),
        str(r.feedback_by_citizen),
        by_staff(r),
    )
    return table


def _ranking(title: str, entries: Sequence[RankingOut], top: int, by_overdue: bool) -> Table:
    table = Table(title=title)
    for header in ("名次", "单位", "综合得分", "响应率", "解决率", "满意率", "登记", "在办"):
        table.add_column(header, justify="left" if header == "单位" else "right")
    table.add_column("超期（在办/累计）", justify="right")
    table.add_column("评价（群众自评/回访录入）", justify="right")
    ordered = sorted(entries, key=lambda e: (e.overdue_rank, e.rank)) if by_overdue else entries
    for e in list(ordered)[:top]:
        table.add_row(
            str(e.overdue_rank if by_overdue else e.rank),
            e.unit.name,
            score(e.rates.composite),
            percent(e.rates.response),
            percent(e.rates.resolution),
            percent(e.rates.satisfaction),
            str(e.total),
            str(e.open),
            f"{e.overdue}/{e.overdue_total}",
            f"{e.rates.feedback_by_citizen}/{e.rates.feedback_by_staff}",
        )
    return table


def _trend(s: StatsOut) -> Table:
    unit = "周（起始日）" if s.trend.bucket == "week" else "日期"
    table = Table(title="趋势")
    for header in (unit, "登记", "办结", "新增超期"):
        table.add_column(header, justify="left" if header == unit else "right")
    for p in s.trend.points:
        table.add_row(p.start.isoformat(), str(p.registered), str(p.resolved), str(p.overdue))
    return table


def _duties(s: StatsOut) -> Table:
    """Each duty's on-time share over the subtree, of the runs that fell due in the period."""
    table = Table(title="值班职责按时率（按到期时间）")
    for header in ("职责", "到期", "按时", "逾期或未完成", "督促中", "按时率"):
        table.add_column(header, justify="left" if header == "职责" else "right")
    for d in s.duties:
        if d.unit is None:
            table.add_row(
                d.label, str(d.runs), str(d.on_time), str(d.late), str(d.open), percent(d.share)
            )
    return table


def render_stats(s: StatsOut, console: Console, top: int = 10) -> None:
    """Print every statistic: summary, levels, 三率, 红黑榜 of townships and villages, trend, and
    the duties' on-time shares."""
    console.print(f"[bold]{s.unit.name}（{s.unit.code}）统计 · {_period(s)}[/bold]", soft_wrap=True)
    console.print(_summary(s))
    console.print(_levels(s))
    console.print(_rates(s))
    for kind, entries in (("乡镇", s.township_rankings), ("村（社区）", s.village_rankings)):
        if len(entries) > 1:
            console.print(_ranking(f"{kind}红榜（综合得分）", entries, top, by_overdue=False))
            console.print(_ranking(f"{kind}黑榜（超期）", entries, top, by_overdue=True))
    categories = [c for c in s.by_category if c.total]
    if categories:
        table = Table(title="类别")
        for header in ("类别", "登记", "在办", "超期"):
            table.add_column(header, justify="left" if header == "类别" else "right")
        for c in categories:
            table.add_row(c.name, str(c.total), str(c.open), str(c.overdue))
        console.print(table)
    if s.trend.points:
        console.print(_trend(s))
    else:
        console.print("趋势：该时段没有数据")
    if any(d.unit is None for d in s.duties):
        console.print(_duties(s))
    else:
        console.print("值班职责：该时段没有到期的职责")
