"""Which schedules the tree asks for: one per unit and duty, with ids that say what they are.

``linkage schedules sync`` compares these with what Temporal holds: it creates the missing,
rewrites the changed and deletes ours that no unit asks for any more (a unit removed from the
tree). Pure: the units come in as rows, the Temporal calls are ``workers.schedules``'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from domain.duties.models import DutyKind, DutyStart
from domain.models import UnitKind, UnitRef

# The id of a unit's schedule for a duty: "<unit kind>-<duty>-<code>".
ID_PREFIX = {
    DutyKind.VILLAGE_COUNCIL: "village-council-",
    DutyKind.REPRESENTATIVES_MEETING: "village-representatives-",
    DutyKind.DISCLOSURE_MONTHLY: "village-disclosure-monthly-",
    DutyKind.DISCLOSURE_QUARTERLY: "village-disclosure-quarterly-",
    DutyKind.JOINT_MEETING: "county-joint-meeting-",
    DutyKind.PATROL: "grid-patrol-",
}
DUTIES_OF: dict[UnitKind, tuple[DutyKind, ...]] = {
    UnitKind.VILLAGE: (
        DutyKind.VILLAGE_COUNCIL,
        DutyKind.REPRESENTATIVES_MEETING,
        DutyKind.DISCLOSURE_MONTHLY,
        DutyKind.DISCLOSURE_QUARTERLY,
    ),
    UnitKind.COUNTY: (DutyKind.JOINT_MEETING,),
    UnitKind.GRID: (DutyKind.PATROL,),
}


@dataclass(frozen=True)
class TreeUnit:
    code: str
    name: str
    kind: UnitKind
    parent: str | None
    path: str  # "/61/6110/611025/.../": the ancestors, root first


@dataclass(frozen=True)
class DutySchedule:
    schedule_id: str
    start: DutyStart


def schedule_id(kind: DutyKind, unit_code: str) -> str:
    return f"{ID_PREFIX[kind]}{unit_code}"


def is_ours(any_schedule_id: str) -> bool:
    """Whether a schedule in Temporal is one this module names (sync leaves others alone)."""
    return any(any_schedule_id.startswith(prefix) for prefix in ID_PREFIX.values())


def kind_of(our_schedule_id: str) -> DutyKind:
    # The longest prefix first: "village-disclosure-monthly-" before a shorter one it extends.
    for kind, prefix in sorted(ID_PREFIX.items(), key=lambda kv: -len(kv[1])):
        if our_schedule_id.startswith(prefix):
            return kind
    raise ValueError(f"not a duty schedule: {our_schedule_id}")


def wanted(units: Iterable[TreeUnit]) -> list[DutySchedule]:
    """Every schedule the active units of the tree ask for, in a stable order."""
    by_code: Mapping[str, TreeUnit] = {u.code: u for u in units}
    found: list[DutySchedule] = []
    for unit in sorted(by_code.values(), key=lambda u: u.code):
        parent = by_code.get(unit.parent) if unit.parent else None
        county = next(
            (c for c in unit.path.strip("/").split("/") if _kind(by_code, c) is UnitKind.COUNTY),
            None,
        )
        for kind in DUTIES_OF.get(unit.kind, ()):
            sid = schedule_id(kind, unit.code)
            start = DutyStart(
                kind=kind,
                unit=UnitRef(unit.code, unit.name, unit.kind),
                parent=UnitRef(parent.code, parent.name, parent.kind) if parent else None,
                county=county,
                schedule_id=sid,
            )
            found.append(DutySchedule(sid, start))
    return found


def _kind(by_code: Mapping[str, TreeUnit], code: str) -> UnitKind | None:
    unit = by_code.get(code)
    return unit.kind if unit else None
