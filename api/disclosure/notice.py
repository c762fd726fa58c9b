"""The printable notice of a unit's 公示栏 (A4 PDF, for the village's board): the same content as
the page, in the same words (``words.py``), set in the Chinese font of ``printing.py``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from api.disclosure.printing import HEADING, SMALL, TITLE, a4_pdf
from api.disclosure.printing import paragraph as _p
from api.disclosure.schemas import Disclosure, Figures
from api.disclosure.words import PRIVACY, decision_facts, figure_rows, issue_facts

STAMP = "%Y-%m-%d %H:%M"


def _figures(f: Figures) -> Table:
    rows = [[_p(f.period.label, HEADING), ""]] + [[_p(k), _p(v)] for k, v in figure_rows(f)]
    table = Table(rows, colWidths=[35 * mm, 50 * mm])
    table.setStyle(TableStyle([("SPAN", (0, 0), (1, 0)), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _list(items: list[tuple[str, list[str]]], empty: str) -> list[Flowable]:
    if not items:
        return [_p(empty)]
    rows = [
        [_p(f"{n}."), [_p(title), _p(" · ".join(facts), SMALL)]]
        for n, (title, facts) in enumerate(items, 1)
    ]
    table = Table(rows, colWidths=[10 * mm, 160 * mm])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.grey),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return [table]


def render(d: Disclosure, zone: ZoneInfo, now: datetime) -> bytes:
    """The notice as PDF bytes."""
    above = " · ".join(u.name for u in d.ancestors)
    issues = [(i.title, issue_facts(i, zone)) for i in d.issues]
    decisions = [(x.topic, decision_facts(x, zone)) for x in d.decisions]
    more = d.issues_count - len(d.issues)
    figures = Table([[_figures(d.figures), _figures(d.quarter)]], colWidths=[85 * mm, 85 * mm])
    figures.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story: list[Flowable] = [
        _p(f"{d.unit.name} 公示栏", TITLE),
        _p(f"{above}　公示期间：{d.period.label}"),
        Spacer(1, 6 * mm),
        _p(f"一、办结事项（{d.issues_count} 件）", HEADING),
        *_list(issues, "本期暂无办结事项。"),
        *([_p(f"另有 {more} 件，详见网上公示栏。", SMALL)] if more > 0 else []),
        Spacer(1, 5 * mm),
        _p("二、议事决定及落实情况", HEADING),
        *_list(decisions, "本期暂无议事决定。"),
        Spacer(1, 5 * mm),
        _p("三、本期数字", HEADING),
        figures,
        _p("数字按期内登记的事项统计。", SMALL),
        Spacer(1, 6 * mm),
        _p(PRIVACY, SMALL),
        _p(
            f"网上公示栏：/public/{d.unit.code}　生成时间：{now.astimezone(zone):%Y-%m-%d %H:%M}",
            SMALL,
        ),
    ]
    return a4_pdf(story, title=f"{d.unit.name} 公示栏 {d.period.label}", author=d.unit.name)
