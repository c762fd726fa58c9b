"""Deadlines of policy terms on the work calendar: one term, or all the clocks of a level stay.

Pure; called by the deadline activities so that each result lands in workflow history.
"""

from __future__ import annotations

from datetime import datetime

from domain.calendar import WorkCalendar
from domain.models import ClockRequest, Deadline, LevelClock, Term


def deadline_for(calendar: WorkCalendar, start: datetime, term: Term) -> Deadline:
    """The deadline of ``term`` counted from ``start``: working days or a natural duration."""
    if term.working_days is not None:
        return calendar.add_working_days(start, term.working_days)
    return calendar.add_duration(start, term.seconds or 0)


def level_clock(calendar: WorkCalendar, req: ClockRequest) -> LevelClock:
    """The resolve and accept deadlines, warnings and transfer window of one stay at a level.

    Warnings fall at the given fractions of the wall-clock span from the start to the resolve
    deadline. The level's deadline is marked provisional if any of its parts is, with every
    distinct reason, since the level's record keeps one provisional flag.
    """
    if any(not 0 < fraction < 1 for fraction in req.warnings):
        raise ValueError(f"warning fractions must lie strictly between 0 and 1: {req.warnings}")
    start = calendar.to_local(req.start)
    deadline = deadline_for(calendar, start, req.resolve)
    accept = deadline_for(calendar, start, req.accept)
    transfer = deadline_for(calendar, start, req.transfer_window)
    span = deadline.at - start
    warnings = tuple(start + span * fraction for fraction in req.warnings)

    parts = (deadline, accept, transfer)
    if any(part.provisional for part in parts):
        # dict.fromkeys: distinct reasons in order (parts in one year share the same reason).
        reasons = dict.fromkeys(part.reason for part in parts if part.reason)
        deadline = Deadline(at=deadline.at, provisional=True, reason="；".join(reasons))
    return LevelClock(
        deadline=deadline, accept_deadline=accept, warnings=warnings, transfer_until=transfer
    )
