"""Typed search attributes of issue workflows, registered on the Temporal server at start.

Eight keywords, one datetime and one bool: within what PostgreSQL visibility offers (10 keywords).
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

STATUS = SearchAttributeKey.for_keyword("LinkageStatus")
LEVEL = SearchAttributeKey.for_keyword("LinkageLevel")
UNIT = SearchAttributeKey.for_keyword("LinkageUnit")
VILLAGE = SearchAttributeKey.for_keyword("LinkageVillage")
TOWNSHIP = SearchAttributeKey.for_keyword("LinkageTownship")
COUNTY = SearchAttributeKey.for_keyword("LinkageCounty")
CATEGORY = SearchAttributeKey.for_keyword("LinkageCategory")
URGENCY = SearchAttributeKey.for_keyword("LinkageUrgency")
DEADLINE = SearchAttributeKey.for_datetime("LinkageDeadline")
OVERDUE = SearchAttributeKey.for_bool("LinkageOverdue")

ALL = (STATUS, LEVEL, UNIT, VILLAGE, TOWNSHIP, COUNTY, CATEGORY, URGENCY, DEADLINE, OVERDUE)

_CLI_TYPE = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool"}


def cli_flags() -> list[str]:
    """``--search-attribute Name=Type`` arguments for ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type.name]}"]
    return flags
