"""Deadline activities: the policy's terms and the calendar's deadlines, computed outside workflows.

Workflows never compute a deadline themselves: the result of an activity lands in history, so a
replay stays deterministic after the calendar data or the policy file changes. The activities are
synchronous (pure computation, no awaits) and need the worker's ``activity_executor``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.calendar import WorkCalendar, parse_schedule_toml
from domain.deadlines import deadline_for, level_clock
from domain.deliberation.models import DeliberationTerms, DeliberationTermsRequest
from domain.models import ClockRequest, Deadline, DeadlineRequest, LevelClock, Terms, TermsRequest
from domain.policy import Policy, load_policy, parse_iso_duration

if TYPE_CHECKING:
    from settings import Settings

REMINDER_TIME = time(9, 0)
"""Local time of the daily 督办 reminders: the start of office hours."""


@contextmanager
def _bad_input_is_final() -> Iterator[None]:
    """Turn a refused input into a non-retryable failure: retrying the same input cannot help."""
    try:
        yield
    except ValueError as error:
        raise ApplicationError(str(error), type="InvalidInput", non_retryable=True) from error


class Clocks:
    """The deadline activities, bound to one calendar and one policy for the worker's lifetime."""

    def __init__(self, calendar: WorkCalendar, policy: Policy) -> None:
        self.calendar = calendar
        self.policy = policy

    @activity.defn(name="terms_for")
    def terms_for(self, req: TermsRequest) -> Terms:
        """The policy's terms for an issue's category and urgency, fixed at registration."""
        with _bad_input_is_final():
            return self.policy.terms_for(req.category, req.urgency)

    @activity.defn(name="deliberation_terms")
    def deliberation_terms(self, req: DeliberationTermsRequest) -> DeliberationTerms:
        """The policy's terms for a deliberation of ``req.kind``, fixed when it opens."""
        with _bad_input_is_final():
            return self.policy.deliberation_terms(req.kind)

    @activity.defn(name="level_clock")
    def level_clock(self, req: ClockRequest) -> LevelClock:
        """All the clocks of a stay at a level, starting at ``req.start``."""
        with _bad_input_is_final():
            return level_clock(self.calendar, req)

    @activity.defn(name="deadline")
    def deadline(self, req: DeadlineRequest) -> Deadline:
        """The deadline of one term (report, feedback window, extension) from ``req.start``."""
        with _bad_input_is_final():
            return deadline_for(self.calendar, req.start, req.term)

    @activity.defn(name="next_reminder")
    def next_reminder(self, req: DeadlineRequest) -> Deadline:
        """When the next 督办 reminder is due after ``req.start``.

        A working-day cadence reminds at 09:00 on the next working day (the n-th for ``n`` working
        days); a cadence in seconds (the drill policy's PT10S) is plain elapsed time.
        """
        term = req.term
        with _bad_input_is_final():
            if not (term.working_days or term.seconds):
                # A zero cadence would make the workflow remind in a tight loop.
                raise ValueError("a reminder cadence must be longer than zero")
            if term.working_days is None:
                return self.calendar.add_duration(req.start, term.seconds or 0)
            return self.calendar.next_working_day_at(req.start, REMINDER_TIME, n=term.working_days)


def build_calendar(settings: Settings) -> WorkCalendar:
    """The work calendar of the settings' zone and office close, with the admin's schedules."""
    schedules = {}
    if settings.calendar_file is not None:
        path = Path(settings.calendar_file)
        try:
            schedules = parse_schedule_toml(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
    return WorkCalendar(schedules, tz=settings.timezone, office_close=settings.office_close)


def build_clocks(settings: Settings) -> Clocks:
    """The deadline activities for a worker: the settings' calendar and policy."""
    return Clocks(build_calendar(settings), load_policy(settings.policy))


def describe_deadline(
    settings: Settings, start: datetime, working_days: int | None, duration: str | None
) -> str:
    """The text ``linkage deadline`` prints: the ISO deadline, then why it is provisional if so.

    A naive ``start`` is read as local time in the settings' zone, as a person typing it means.

    Raises:
        ValueError: unless exactly one of ``working_days`` and ``duration`` is given, or for a bad
            duration.
    """
    if (working_days is None) == (duration is None):
        raise ValueError("give exactly one of working days and an ISO-8601 duration")
    calendar = build_calendar(settings)
    if start.tzinfo is None:
        start = start.replace(tzinfo=calendar.tz)
    if working_days is not None:
        result = calendar.add_working_days(start, working_days)
    else:
        result = calendar.add_duration(start, parse_iso_duration(duration or ""))
    lines = [result.at.isoformat()]
    if result.provisional:
        lines.append(f"暂定 (provisional): {result.reason}")
    return "\n".join(lines)
