"""The trend's arithmetic: buckets of local days, and the zone's offsets that tell an instant's day.

No I/O here (``daily.py`` counts the events per local day in SQL). A trend is per day or ISO week
(Monday first) in the county's zone, each event counted in the bucket it happened in:
registrations, resolutions, and issues going overdue. An instant's day is the UTC day of the
instant shifted by the zone's offset in force then (``offset_runs``), which is how the database
tells days without knowing zones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache

DAILY_TREND_MAX_DAYS = 92  # longer periods trend by week unless asked otherwise
# Sampling step when looking for a zone's offset changes: the tz database never changes an offset
# twice within it (its closest changes, all zones since 1900, are days apart).
OFFSET_PROBE = timedelta(hours=6)


class Bucket(StrEnum):
    """The width of one point of a trend."""

    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True)
class TrendPoint:
    start: date  # the bucket's first day
    registered: int
    resolved: int
    overdue: int


@dataclass(frozen=True)
class OffsetRun:
    """A span of UTC time during which a zone's offset does not change."""

    start: datetime  # UTC, included
    end: datetime  # UTC, excluded
    offset: int  # seconds east of UTC


def choose_bucket(first: date, last: date) -> Bucket:
    """Days for up to about a quarter, weeks beyond."""
    return Bucket.DAY if (last - first).days < DAILY_TREND_MAX_DAYS else Bucket.WEEK


def bucket_start(day: date, bucket: Bucket) -> date:
    return day - timedelta(days=day.weekday()) if bucket is Bucket.WEEK else day


def bucket_count(first: date, last: date, bucket: Bucket) -> int:
    step = 7 if bucket is Bucket.WEEK else 1
    return (bucket_start(last, bucket) - bucket_start(first, bucket)).days // step + 1


def local_day(moment: datetime, zone: tzinfo) -> date:
    """The day an instant falls on in ``zone``."""
    return moment.astimezone(zone).date()


def trend(
    registered: Mapping[date, int],
    resolved: Mapping[date, int],
    overdue: Mapping[date, int],
    first: date,
    last: date,
    bucket: Bucket,
) -> list[TrendPoint]:
    """Counts per bucket from ``first`` to ``last`` (local days, both included) out of counts per
    local day, empty buckets as zeros; days outside are left out."""
    if last < first:
        return []
    step = timedelta(days=7 if bucket is Bucket.WEEK else 1)
    starts = [
        bucket_start(first, bucket) + step * n for n in range(bucket_count(first, last, bucket))
    ]

    def counts(per_day: Mapping[date, int]) -> dict[date, int]:
        tally: dict[date, int] = defaultdict(int)
        for day, n in per_day.items():
            if first <= day <= last:
                tally[bucket_start(day, bucket)] += n
        return tally

    reg, res, late = counts(registered), counts(resolved), counts(overdue)
    return [TrendPoint(start, reg[start], res[start], late[start]) for start in starts]


def utc_offset(zone: tzinfo, moment: datetime) -> int:
    """Seconds east of UTC in ``zone`` at an instant."""
    offset = moment.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@lru_cache(maxsize=512)
def _offset_changes(zone: tzinfo, year: int) -> tuple[tuple[datetime, int], ...]:
    """(instant, offset from then on) for the start of UTC ``year`` and each change within it."""
    begin, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    changes = [(begin, utc_offset(zone, begin))]
    before = begin
    while before < end:
        after = min(before + OFFSET_PROBE, end)
        offset = utc_offset(zone, after)
        if offset != changes[-1][1]:
            # Bisect to the second: the tz database changes offsets on whole seconds.
            low, high = before, after
            while high - low > timedelta(seconds=1):
                middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
                if utc_offset(zone, middle) == offset:
                    high = middle
                else:
                    low = middle
            changes.append((high, offset))
        before = after
    return tuple(changes)


def offset_runs(zone: tzinfo, start: datetime, end: datetime) -> list[OffsetRun]:
    """The zone's UTC offsets over [start, end) (UTC instants within years 1–9998), as
    consecutive spans of one offset each: an instant's local day is the UTC day of the instant
    shifted by the offset of its span."""
    changes = [
        change
        for year in range(start.astimezone(UTC).year, end.astimezone(UTC).year + 1)
        for change in _offset_changes(zone, year)
    ]
    runs: list[OffsetRun] = []
    for index, (at, offset) in enumerate(changes):
        following = changes[index + 1][0] if index + 1 < len(changes) else end
        begin, finish = max(at, start), min(following, end)
        if begin >= finish:
            continue
        if runs and runs[-1].offset == offset:
            runs[-1] = replace(runs[-1], end=finish)
        else:
            runs.append(OffsetRun(begin, finish, offset))
    return runs
