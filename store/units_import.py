"""Load a jurisdiction tree into the ``unit`` table, and read ladders and subtrees back from it.

The file format is that of ``data/divisions-611025-zhenan.json``::

    {"units": [{"code": "611025", "name": "镇安县", "kind": "county", "parent": null}, ...]}

Codes are the official statistical division codes; a county may add grid units below its villages.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, func, insert, literal, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from domain.models import UnitKind, UnitRef
from store.db import session_scope
from store.tables import Issue, Unit

# A child must sit strictly below its parent in this order; a grid below a village is fine, a
# village directly under a county is not (the ladder would skip the township).
_RANK = {
    UnitKind.PROVINCE: 0,
    UnitKind.CITY: 1,
    UnitKind.COUNTY: 2,
    UnitKind.TOWNSHIP: 3,
    UnitKind.VILLAGE: 4,
    UnitKind.GRID: 5,
}
_ADJACENT_ONLY = {UnitKind.TOWNSHIP, UnitKind.VILLAGE}


class UnitNotFound(LookupError):
    """No unit has this code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown unit {code}")
        self.code = code


@dataclass(frozen=True)
class ImportReport:
    """What an import did: ``units`` read in scope, of which inserted/updated/unchanged."""

    units: int
    inserted: int
    updated: int
    unchanged: int
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Entry:
    code: str
    name: str
    kind: UnitKind
    parent: str | None


def import_units(engine: Engine, path: str | Path, county: str | None = None) -> ImportReport:
    """Upsert the units of a division file; running it twice changes nothing the second time.

    Args:
        engine: the read model's engine (migrated).
        path: a JSON file ``{"units": [{"code", "name", "kind", "parent"}]}``.
        county: only this county's subtree and its ancestors; None: the whole file.

    Returns:
        Counts of what was inserted, updated and left as it was.

    Raises:
        ValueError: naming the code, for a duplicate code, an unknown kind, an unknown parent, a
            child not below its parent's kind, a cycle, or a ``county`` not in the file.
    """
    raw = Path(path).read_bytes()
    # A gzipped file (the repository ships all Shaanxi, 1.9 MB, as 186 KB) reads the same.
    text = (gzip.decompress(raw) if str(path).endswith(".gz") else raw).decode("utf-8")
    entries = _parse(json.loads(text))
    if county is not None:
        entries = _county_scope(entries, county)

    with session_scope(engine) as session:
        existing = {
            row.code: row
            # Plain rows, not ORM objects: a province has tens of thousands of units.
            for row in session.connection().execute(
                core_select(
                    col(Unit.code),
                    col(Unit.name),
                    col(Unit.kind),
                    col(Unit.parent_code),
                    col(Unit.path),
                    col(Unit.depth),
                )
            )
        }
        # A top unit without a parent in a county's own file does not detach it from the city and
        # province a larger file placed it under.
        for code, entry in list(entries.items()):
            old = existing.get(code)
            if entry.parent is None and old is not None and old.parent_code is not None:
                entries[code] = replace(entry, parent=old.parent_code)
        placed = _place(
            entries, {code: (row.kind, row.path, row.depth) for code, row in existing.items()}
        )

        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        moved: list[tuple[str, str, int]] = []  # old path, new path, depth change
        for entry in entries.values():
            unit_path, depth = placed[entry.code]
            row = {
                "code": entry.code,
                "name": entry.name,
                "kind": entry.kind.value,
                "parent_code": entry.parent,
                "path": unit_path,
                "depth": depth,
            }
            old = existing.get(entry.code)
            if old is None:
                inserts.append({**row, "active": True})
            elif (old.name, old.kind, old.parent_code, old.path, old.depth) != (
                entry.name,
                entry.kind.value,
                entry.parent,
                unit_path,
                depth,
            ):
                updates.append(row)
                if old.path != unit_path:
                    moved.append((old.path, unit_path, depth - old.depth))

        # Parents first, so the self-referencing foreign key holds row by row.
        inserts.sort(key=lambda r: r["depth"])
        if inserts:
            session.exec(insert(Unit), params=inserts)
        if updates:
            session.exec(update(Unit), params=updates)
        # Deepest first: a unit moved along with its moved parent must be re-rooted by its own
        # move, before the parent's prefix rewrite could catch its rows.
        for old_path, new_path, depth_change in sorted(moved, key=lambda m: -len(m[0])):
            _move_subtree(session, old_path, new_path, depth_change)

    return ImportReport(
        units=len(entries),
        inserted=len(inserts),
        updated=len(updates),
        unchanged=len(entries) - len(inserts) - len(updates),
        by_kind=dict(Counter(entry.kind.value for entry in entries.values())),
    )


def _parse(document: Any) -> dict[str, _Entry]:
    if not isinstance(document, Mapping) or not isinstance(document.get("units"), list):
        raise ValueError('a division file is {"units": [{"code", "name", "kind", "parent"}]}')
    entries: dict[str, _Entry] = {}
    for position, raw in enumerate(document["units"]):
        if not isinstance(raw, Mapping) or not raw.get("code") or not raw.get("name"):
            raise ValueError(f"units[{position}]: code and name are required")
        code = str(raw["code"])
        if code in entries:
            raise ValueError(f"duplicate unit code {code}")
        try:
            kind = UnitKind(str(raw.get("kind")))
        except ValueError:
            raise ValueError(f"unit {code}: unknown kind {raw.get('kind')!r}") from None
        parent = raw.get("parent")
        entries[code] = _Entry(code, str(raw["name"]), kind, str(parent) if parent else None)
    return entries


def _county_scope(entries: dict[str, _Entry], county: str) -> dict[str, _Entry]:
    root = entries.get(county)
    if root is None or root.kind is not UnitKind.COUNTY:
        raise ValueError(f"county {county} is not a unit of kind county in the file")
    children: dict[str, list[str]] = {}
    for entry in entries.values():
        if entry.parent is not None:
            children.setdefault(entry.parent, []).append(entry.code)

    keep: set[str] = set()
    stack = [county]
    while stack:
        code = stack.pop()
        if code not in keep:
            keep.add(code)
            stack.extend(children.get(code, ()))
    ancestor = root.parent
    while ancestor is not None and ancestor in entries and ancestor not in keep:
        keep.add(ancestor)
        ancestor = entries[ancestor].parent
    return {code: entry for code, entry in entries.items() if code in keep}


def _place(
    entries: dict[str, _Entry], known: Mapping[str, tuple[str, str, int]]
) -> dict[str, tuple[str, int]]:
    """Path and depth of every entry; a parent may be in the file or already in the database."""
    placed: dict[str, tuple[str, int]] = {}
    for start in entries:
        chain: list[_Entry] = []
        on_chain: set[str] = set()
        code: str | None = start
        base: tuple[str, int] = ("/", -1)  # the path and depth above a root
        while code is not None and code not in placed:
            entry = entries.get(code)
            if entry is None:
                if code not in known:
                    raise ValueError(f"unit {chain[-1].code}: unknown parent {code}")
                kind, known_path, known_depth = known[code]
                _check_kinds(chain[-1], UnitKind(kind))
                base = (known_path, known_depth)
                break
            if code in on_chain:
                raise ValueError(f"unit {code}: its parents form a cycle")
            if chain:
                _check_kinds(chain[-1], entry.kind)
            chain.append(entry)
            on_chain.add(code)
            code = entry.parent
        else:
            if code is not None:
                if chain:
                    _check_kinds(chain[-1], entries[code].kind)
                base = placed[code]
        for entry in reversed(chain):
            base = (f"{base[0]}{entry.code}/", base[1] + 1)
            placed[entry.code] = base
    return placed


def _check_kinds(child: _Entry, parent_kind: UnitKind) -> None:
    gap = _RANK[child.kind] - _RANK[parent_kind]
    if gap <= 0 or (child.kind in _ADJACENT_ONLY and gap != 1):
        raise ValueError(
            f"unit {child.code}: a {child.kind.value} cannot sit under a {parent_kind.value}"
        )


def _move_subtree(session: Session, old_path: str, new_path: str, depth_change: int) -> None:
    """Re-root descendants (and issue paths) that the file did not list when a unit moved."""

    def rerooted(column: Any) -> Any:
        return literal(new_path, String) + func.substr(column, len(old_path) + 1)

    session.exec(
        update(Unit)
        .where(col(Unit.path).startswith(old_path, autoescape=True))
        .values(path=rerooted(Unit.path), depth=col(Unit.depth) + depth_change)
        .execution_options(synchronize_session=False)
    )
    for column in (col(Issue.unit_path), col(Issue.registered_unit_path)):
        session.exec(
            update(Issue)
            .where(column.startswith(old_path, autoescape=True))
            .values({column: rerooted(column)})
            .execution_options(synchronize_session=False)
        )


# ---- reading the tree ---------------------------------------------------------------------------


def ladder(session: Session, unit_code: str) -> list[UnitRef]:
    """The escalation ladder: the unit itself, then each parent up to the nearest county.

    Raises:
        UnitNotFound: no unit has this code.
        ValueError: no unit of kind county is at or above it (a city or province).
    """
    unit = session.get(Unit, unit_code)
    if unit is None:
        raise UnitNotFound(unit_code)
    codes = _path_codes(unit.path)
    by_code = {u.code: u for u in session.exec(select(Unit).where(col(Unit.code).in_(codes)))}
    rungs: list[UnitRef] = []
    for code in reversed(codes):
        rung = by_code[code]
        rungs.append(UnitRef(code=rung.code, name=rung.name, kind=UnitKind(rung.kind)))
        if rung.kind == UnitKind.COUNTY:
            return rungs
    raise ValueError(f"unit {unit_code} has no county at or above it")


def subtree_prefix(session: Session, code: str) -> str:
    """The path every unit of ``code``'s subtree (itself included) starts with: ``LIKE prefix%``."""
    unit_path = session.exec(select(Unit.path).where(Unit.code == code)).first()
    if unit_path is None:
        raise UnitNotFound(code)
    return unit_path


def _path_codes(unit_path: str) -> list[str]:
    return [code for code in unit_path.split("/") if code]


def unit_path_of(session: Session, code: str, fallback: Iterable[str] = ()) -> str:
    """The unit's stored path; for a unit not in the tree, one built from ``fallback`` (root first).

    The recorder uses the fallback so an issue is still written when its unit was never imported.
    """
    unit_path = session.exec(select(Unit.path).where(Unit.code == code)).first()
    if unit_path is not None:
        return unit_path
    codes = list(fallback) or [code]
    return "/" + "/".join(codes) + "/"
