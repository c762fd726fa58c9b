"""The period a disclosure covers: a month ("YYYY-MM"), or since/until, in the county's zone;
and the quarter its figures are also shown for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from api.issue_list import aware
from api.problems import invalid

# The months of the instants the API accepts (api.inputs: 2000–2099), stated in the schema too.
MONTH_PATTERN = r"^(20\d\d)-(0[1-9]|1[0-2])$"
MONTH = re.compile(MONTH_PATTERN)


@dataclass(frozen=True)
class Period:
    """[since, until) with the words a notice prints for it."""

    since: datetime
    until: datetime
    label: str  # 2026年12月, 2026年第4季度, 2026-12-01 至 2026-12-15
    month: str | None = None  # "YYYY-MM" when the period is a whole month


def _month_start(year: int, month: int, zone: ZoneInfo) -> datetime:
    return datetime(year, month, 1, tzinfo=zone)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def month_period(year: int, month: int, zone: ZoneInfo) -> Period:
    start = _month_start(year, month, zone)
    return Period(start, _add_months(start, 1), f"{year}年{month}月", f"{year:04d}-{month:02d}")


def quarter_of(moment: datetime, zone: ZoneInfo) -> Period:
    """The calendar quarter holding ``moment`` (local time)."""
    local = moment.astimezone(zone)
    quarter = (local.month - 1) // 3 + 1
    start = _month_start(local.year, 3 * quarter - 2, zone)
    return Period(start, _add_months(start, 3), f"{local.year}年第{quarter}季度")


def resolve_period(
    month: str | None,
    since: datetime | None,
    until: datetime | None,
    timezone: str,
    now: datetime | None = None,
) -> Period:
    """The period a request asks for; none given: the current month.

    Raises:
        ProblemError: 422 naming ``month`` (malformed, out of range, or given with since/until),
            ``since`` or ``until`` (one without the other, or an empty period).
    """
    zone = ZoneInfo(timezone)
    if month is not None:
        if since is not None or until is not None:
            raise invalid("month", "month 与 since/until 只能选一种")
        match = MONTH.match(month)
        if match is None:
            raise invalid("month", "须为 YYYY-MM，年份在 2000—2099 之间")
        return month_period(int(match.group(1)), int(match.group(2)), zone)
    if since is None and until is None:
        today = (now or datetime.now(zone)).astimezone(zone)
        return month_period(today.year, today.month, zone)
    if since is None:
        raise invalid("since", "给出 until 时须同时给出 since")
    if until is None:
        raise invalid("until", "给出 since 时须同时给出 until")
    start, end = aware(since, timezone), aware(until, timezone)
    assert start is not None and end is not None
    if end <= start:
        raise invalid("until", "结束时间须晚于开始时间")
    local = "%Y-%m-%d %H:%M"
    return Period(start, end, f"{start.astimezone(zone):{local}} 至 {end.astimezone(zone):{local}}")
