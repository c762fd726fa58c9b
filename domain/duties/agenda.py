"""A council's agenda as people read it: the items grouped by where they came from."""

from __future__ import annotations

from domain.duties.models import Agenda

SOURCE_LABELS = {
    "hard_issue": "难办事项（已上报或超期）",
    "issue": "本月未办结事项",
    "deliberation": "待议的协商事项",
    "topic": "村民提议的议题",
}


def agenda_text(agenda: Agenda) -> str:
    """The deliberation's description: one numbered line per item under its source's heading."""
    if not agenda.items:
        return "本月无待议事项，例行召开。"
    lines: list[str] = []
    number = 0
    for source, label in SOURCE_LABELS.items():
        items = [i for i in agenda.items if i.source == source]
        if not items:
            continue
        lines.append(f"{label}：")
        for item in items:
            number += 1
            lines.append(f"{number}. {item.title}")
    return "\n".join(lines)
