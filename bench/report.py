"""Figures beside their goals and baselines; ``results.json`` and ``results.md``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import number

ORDER = ("intake", "footprint", "lag", "reads")
"""Benchmarks in the order the table shows them (the poller's figures arrive last)."""


@dataclass
class Figure:
    """One measured figure, its goal (if the issue sets one) and the baseline it is read against."""

    key: str
    label: str
    value: float
    unit: str
    goal: str | None = None
    met: bool | None = None
    baseline: str | None = None
    note: str = ""

    def shown(self) -> str:
        return f"{number(self.value)} {self.unit}".strip()

    @property
    def verdict(self) -> str:
        if self.met is None:
            return ""
        return "met" if self.met else "NOT met"

    def line(self) -> str:
        parts = [f"{self.label}: {self.shown()}"]
        if self.goal:
            parts.append(f"goal {self.goal} → {self.verdict}")
        if self.baseline:
            parts.append(f"baseline: {self.baseline}")
        if self.note:
            parts.append(self.note)
        return " | ".join(parts)


@dataclass
class Table:
    """Figures side by side (ours beside a baseline), shown under the figures' table."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> list[str]:
        lines = [f"### {self.title}", "", "| " + " | ".join(_cell(c) for c in self.columns) + " |"]
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in self.rows]
        return lines + (["", self.note] if self.note else [])


def at_least(value: float, goal: float) -> bool | None:
    return None if math.isnan(value) else value >= goal


def at_most(value: float, goal: float) -> bool | None:
    return None if math.isnan(value) else value <= goal


def _clean(value: Any) -> Any:
    """JSON has no NaN: write null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write(
    out_dir: Path,
    *,
    header: dict[str, Any],
    figures: list[Figure],
    details: dict[str, Any],
    diagnosis: list[str],
) -> tuple[Path, Path]:
    """Write ``results.json`` (everything) and ``results.md`` (the figures, the side-by-side
    tables the benchmarks left in ``details["tables"]``, and the diagnosis)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = sorted(figures, key=lambda f: ORDER.index(f.key.split(".")[0]))
    json_path = out_dir / "results.json"
    md_path = out_dir / "results.md"
    document = {
        **header,
        "figures": [asdict(f) | {"verdict": f.verdict} for f in figures],
        "diagnosis": diagnosis,
        "details": details,
    }
    json_path.write_text(
        json.dumps(_clean(document), indent=2, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )
    tables = [Table(**t) for t in details.get("tables", [])]
    md_path.write_text(markdown(header, figures, diagnosis, tables), encoding="utf-8")
    return json_path, md_path


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(
    header: dict[str, Any],
    figures: list[Figure],
    diagnosis: list[str],
    tables: list[Table] | None = None,
) -> str:
    machine = header.get("machine", {})
    lines = [
        f"# Linkage benchmarks ({header.get('mode')})",
        "",
        f"Run {header.get('started')} – {header.get('finished')} "
        f"({header.get('elapsed_s')} s) on {machine.get('cpus')} CPUs, "
        f"{machine.get('mem_total_mb')} MB; load average at start "
        f"{machine.get('loadavg_at_start')}, at end {header.get('loadavg_at_end')}.",
        "Baselines are measured in the same run, on the same servers. "
        "Figures from a busy machine are noisy: read the ratios first.",
        "",
        "| Figure | Value | Goal | Verdict | Baseline (same run) | Note |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        "| "
        + " | ".join(
            _cell(x)
            for x in (f.label, f.shown(), f.goal or "", f.verdict, f.baseline or "", f.note)
        )
        + " |"
        for f in figures
    ]
    for table in tables or []:
        lines += ["", *table.markdown()]
    if header.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in header["notes"]]
    if diagnosis:
        lines += ["", "## Diagnosis and tuning", ""] + [f"- {d}" for d in diagnosis]
    lines += ["", "Details (distributions, counts, configuration): `results.json`.", ""]
    return "\n".join(lines)
