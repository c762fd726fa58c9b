"""The quarterly meetings' report (村民代表会议 per village, 联席会议 per county): unresolved hard
matters, each township's figures (``api.statistics``, as ``/stats`` counts them) and decisions
overdue; kept as a document (HTML and an A4 PDF in STSong-Light, as the 公示栏's notice) and sent
to the participants through the outbox by the duty's record.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity

from api.statistics.figures import Weights
from api.statistics.report import build_stats
from api.statistics.scope import resolve_scope
from domain.duties.models import DUTY_LABELS, DutyKind, Report, ReportRequest
from store.db import session_scope
from store.deliberation_tables import Deliberation
from store.duty_tables import DutyDocument
from store.tables import Issue, Unit
from store.units_import import unit_path_of

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
OPEN_ISSUE = ("pending_accept", "in_progress")
LISTED = 100  # rows of each list: a report people read, not an export


@dataclass
class ReportContent:
    title: str
    unit: str
    period: str
    hard: list[list[str]] = field(default_factory=list)  # title, unit, level, registered
    townships: list[list[str]] = field(default_factory=list)  # name, total, open, overdue, ...
    overdue: list[list[str]] = field(default_factory=list)  # topic, responsible unit, due


class DutyReports:
    def __init__(self, engine: Engine, timezone: str = "Asia/Shanghai") -> None:
        self.engine = engine
        self.zone = ZoneInfo(timezone)

    @activity.defn(name="duty_report")
    def duty_report(self, req: ReportRequest) -> Report:
        """Build the report, keep it (idempotent on the run: a retry rewrites the same row)."""
        with session_scope(self.engine) as session:
            content, recipients = gather(session, req, self.zone)
            document_id = f"{req.duty_id}-report"
            row = session.get(DutyDocument, document_id) or DutyDocument(
                id=document_id,
                duty_id=req.duty_id,
                kind=req.kind.value,
                unit_code=req.unit,
                period=req.period,
                title=content.title,
                html="",
                pdf=b"",
                created_at=datetime.now(UTC),
            )
            row.html, row.pdf = to_html(content), to_pdf(content)
            session.add(row)
        return Report(
            document_id=document_id,
            title=content.title,
            hard_matters=len(content.hard),
            overdue_decisions=len(content.overdue),
            recipients=recipients,
        )


def gather(session: Session, req: ReportRequest, zone: ZoneInfo) -> tuple[ReportContent, list[str]]:
    unit = session.get(Unit, req.unit)
    assert unit is not None, req.unit
    path = unit_path_of(session, unit.code)
    label = DUTY_LABELS[req.kind]
    content = ReportContent(f"{unit.name}{req.period}{label}报告", unit.name, req.period)
    hard = session.exec(
        select(Issue)
        .where(
            col(Issue.registered_unit_path).startswith(path, autoescape=True),
            col(Issue.status).in_(OPEN_ISSUE),
            (col(Issue.level) != "village") | col(Issue.overdue),
        )
        .order_by(col(Issue.registered_at))
        .limit(LISTED)
    ).all()
    content.hard = [
        [
            i.title,
            i.unit_code,
            i.level + ("（超期）" if i.overdue else ""),
            _day(i.registered_at, zone),
        ]
        for i in hard
    ]
    late = session.exec(
        select(Deliberation)
        .where(col(Deliberation.opened_unit_path).startswith(path), col(Deliberation.overdue))
        .order_by(col(Deliberation.opened_at))
        .limit(LISTED)
    ).all()
    content.overdue = [
        [d.topic, d.responsible_unit or d.unit_code, _day(d.due or d.deadline, zone)] for d in late
    ]
    scope = resolve_scope(session, unit.code, req.period_start, req.period_end, None, str(zone))
    stats = build_stats(session, scope, str(zone), None, weights=Weights(0.1, 0.5, 0.4))
    rows = stats.township_rankings if req.kind is DutyKind.JOINT_MEETING else stats.rankings
    content.townships = [
        [r.unit.name, str(r.total), str(r.open), str(r.overdue), str(r.resolved), _share(r)]
        for r in rows
    ]
    recipients = [unit.code]
    if req.kind is DutyKind.JOINT_MEETING:
        recipients += [r.unit.code for r in stats.township_rankings]
    elif unit.parent_code:
        recipients.append(unit.parent_code)
    return content, recipients


def _day(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d") if moment else "—"


def _share(r: object) -> str:
    composite = getattr(getattr(r, "rates", None), "composite", None)
    return "—" if composite is None else f"{composite * 100:.1f}"


HARD_HEAD = ["事项", "所在单位", "层级", "登记日期"]
FIGURE_HEAD = ["单位", "事项数", "在办", "超期", "办结", "综合得分"]
OVERDUE_HEAD = ["议事决定", "落实单位", "期限"]


def _sections(c: ReportContent) -> list[tuple[str, list[str], list[list[str]], str]]:
    return [
        ("一、未解决的难办事项", HARD_HEAD, c.hard, "无"),
        ("二、各单位办理情况", FIGURE_HEAD, c.townships, "无数据"),
        ("三、超期未落实的议事决定", OVERDUE_HEAD, c.overdue, "无"),
    ]


def to_html(c: ReportContent) -> str:
    parts = [
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(c.title)}</title></head><body><h1>{escape(c.title)}</h1>",
    ]
    for heading, head, rows, empty in _sections(c):
        parts.append(f"<h2>{escape(heading)}</h2>")
        if not rows:
            parts.append(f"<p>{escape(empty)}</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def to_pdf(c: ReportContent) -> bytes:
    def style(size: float) -> ParagraphStyle:
        return ParagraphStyle(
            f"r{size}", fontName=FONT, fontSize=size, leading=size * 1.4, wordWrap="CJK"
        )

    title, heading, body = style(18), style(13), style(9.5)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, title=c.title
    )
    story: list[object] = [Paragraph(escape(c.title), title), Spacer(1, 6 * mm)]
    for name, head, rows, empty in _sections(c):
        story.append(Paragraph(escape(name), heading))
        if rows:
            cells = [[Paragraph(escape(v), body) for v in row] for row in [head, *rows]]
            table = Table(cells, repeatRows=1)
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, "#888888")]))
            story.append(table)
        else:
            story.append(Paragraph(escape(empty), body))
        story.append(Spacer(1, 4 * mm))
    doc.build(story)
    return out.getvalue()
