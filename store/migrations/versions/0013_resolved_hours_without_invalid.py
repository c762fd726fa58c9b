"""resolved_hour_tally leaves invalid issues out, as registered_hour_tally does since 0010

An issue marked invalid (无效) counts in no unit's figures. Revision 0010 took such issues out of
the registrations' hour tally and the stays; the resolutions' hour tally (the trend's
``resolved``) still counted an invalid issue that had been resolved before its mark.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision(name: str) -> ModuleType:
    # An earlier revision's definitions, as it wrote them.
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"linkage_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_0002 = _revision("0002_stats_columns_and_indexes.py")
_0010 = _revision("0010_invalid_marks.py")
RESOLVED_HOURS = _0002._Tally(
    "resolved_hour_tally",
    "issue",
    _0002.RESOLVED_HOURS.keys,
    _0002.RESOLVED_HOURS.counts,
    only=f"({_0002.RESOLVED_HOURS.only} AND {_0010._VALID_ISSUE})",
)
_WATCHED = {"resolved_hour_tally": _0002.ISSUE_WATCHED}


def upgrade() -> None:
    _0010._rebuild([(_0002.RESOLVED_HOURS, RESOLVED_HOURS)], _WATCHED)


def downgrade() -> None:
    _0010._rebuild([(RESOLVED_HOURS, _0002.RESOLVED_HOURS)], _WATCHED)
