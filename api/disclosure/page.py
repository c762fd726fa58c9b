"""The HTML of ``/`` (who goes where) and of a unit's 公示栏: server-rendered, no script, one
inline style sheet, so a cheap phone on a slow link shows it at once and nothing is fetched."""

from __future__ import annotations

from html import escape
from urllib.parse import quote
from zoneinfo import ZoneInfo

from api.disclosure.schemas import Disclosure, Figures, UnitRef
from api.disclosure.words import PRIVACY, decision_facts, figure_rows, issue_facts

# No script at all; the one style sheet is inline. Forms post nowhere but here.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
# Contrast at least 4.5:1 everywhere (axe's AA check); touch targets at least 44 px high.
STYLE = """
body{margin:0;font:16px/1.6 system-ui,"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;
color:#1a1a1a;background:#f6f6f2}
header{background:#8b1a1a;color:#fff;padding:12px 16px}
header h1{margin:0;font-size:1.3em}header p{margin:4px 0 0}
main{max-width:760px;margin:0 auto;padding:12px 16px 32px}
section{background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px 14px;margin:14px 0}
h2{font-size:1.15em;margin:0 0 8px;color:#7a1414}
a{color:#0b4f8a}a:focus,button:focus,select:focus,input:focus{outline:3px solid #e0a800}
.go{display:block;padding:12px 14px;margin:8px 0;border:2px solid #0b4f8a;border-radius:8px;
text-decoration:none;font-weight:bold;min-height:44px;box-sizing:border-box}
label{display:block;font-weight:bold;margin:6px 0 4px}
select,input,button{font-size:1em;min-height:44px;padding:6px 10px;border-radius:6px;
border:1px solid #555;max-width:100%}
button{background:#0b4f8a;color:#fff;border-color:#0b4f8a;margin-top:8px}
ul.items{list-style:none;padding:0;margin:0}
ul.items li{border-top:1px solid #e4e4e4;padding:8px 0}
ul.items li:first-child{border-top:0}
.title{font-weight:bold}.facts{color:#444;font-size:.95em}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:0}dt{color:#444}dd{margin:0}
nav.crumbs a{margin-right:6px}.note{color:#444;font-size:.9em}
"""


def document(title: str, header: str, sub: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{escape(header)}</h1><p>{escape(sub)}</p></header>"
        f"<main>{body}</main></body></html>"
    )


def _options(units: list[UnitRef]) -> str:
    return "".join(f'<option value="{escape(u.code)}">{escape(u.name)}</option>' for u in units)


def landing(
    county: str, current: UnitRef | None, children: list[UnitRef], choose: str, has_dashboard: bool
) -> str:
    """``/``: staff to the dashboard, citizens to the phone pages, anyone to a unit's board."""
    picker = ""
    if children:
        board = (
            f'<p><a href="/public/{quote(current.code)}">'
            f"直接查看{escape(current.name)}公示栏</a></p>"
            if current
            else ""
        )
        picker = (
            f'<form action="/" method="get"><label for="unit">选择{escape(choose)}</label>'
            f'<select id="unit" name="unit">{_options(children)}</select><br>'
            f'<button type="submit">下一步</button></form>{board}'
        )
    where = f"（{escape(current.name)}）" if current else ""
    staff = '<a class="go" href="/dashboard">工作人员：登录督查看板</a>' if has_dashboard else ""
    body = (
        "<section><h2>我要办事</h2>"
        '<a class="go" href="/m/">群众：反映问题、查询进度、评价、参与议事</a>'
        f"{staff}</section>"
        f"<section><h2>查看公示栏{where}</h2>"
        "<p>各村（社区）、乡镇的事项办理结果、议事决定和落实情况、每月和每季度的数字。</p>"
        f"{picker}</section>"
    )
    return document(
        f"{county} 县乡村三级联动", f"{county} · 县乡村三级联动", "请选择您要去的地方", body
    )


def _figures(f: Figures) -> str:
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in figure_rows(f))
    return f"<h3>{escape(f.period.label)}</h3><dl>{rows}</dl>"


def board(d: Disclosure, zone: ZoneInfo, month: str, children: list[UnitRef]) -> str:
    """A unit's 公示栏 for one period."""
    code = quote(d.unit.code)
    crumbs = "".join(
        f'<a href="/public/{quote(u.code)}">{escape(u.name)}</a>›' for u in d.ancestors
    )
    issues = "".join(
        f'<li><div class="title">{escape(i.title)}</div>'
        f'<div class="facts">{escape(" · ".join(issue_facts(i, zone)))}</div></li>'
        for i in d.issues
    )
    more = (
        f'<p class="note">共 {d.issues_count} 件，列出最近的 {len(d.issues)} 件。</p>'
        if d.issues_count > len(d.issues)
        else ""
    )
    decisions = "".join(
        f'<li><div class="title">{escape(x.topic)}</div>'
        f'<div class="facts">{escape(" · ".join(decision_facts(x, zone)))}</div></li>'
        for x in d.decisions
    )
    below = "".join(
        f'<li><a href="/public/{quote(u.code)}?month={quote(month)}">{escape(u.name)}</a></li>'
        for u in children
    )
    body = (
        f'<nav class="crumbs" aria-label="上级单位">{crumbs}'
        f"<span>{escape(d.unit.name)}</span></nav>"
        f'<form action="/public/{code}" method="get"><label for="month">公示月份</label>'
        f'<input id="month" name="month" type="month" value="{escape(month)}">'
        '<button type="submit">查看</button></form>'
        f'<p><a href="/public/{code}/notice.pdf?month={quote(month)}">打印公示（PDF，A4）</a></p>'
        f"<section><h2>办结事项（{d.issues_count} 件）</h2>"
        f'<ul class="items">{issues or "<li>本期暂无办结事项。</li>"}</ul>{more}</section>'
        f"<section><h2>议事决定及落实情况</h2>"
        f'<ul class="items">{decisions or "<li>本期暂无议事决定。</li>"}</ul></section>'
        f"<section><h2>本期数字</h2>{_figures(d.figures)}{_figures(d.quarter)}"
        '<p class="note">数字按期内登记的事项统计；评价为群众自评和工作人员回访之和。</p></section>'
        + (f"<section><h2>下辖单位公示栏</h2><ul>{below}</ul></section>" if below else "")
        + f'<p class="note">{escape(PRIVACY)}</p>'
    )
    return document(
        f"{d.unit.name} 公示栏 {d.period.label}",
        f"{d.unit.name} 公示栏",
        f"公示期间：{d.period.label}",
        body,
    )
