"""A workflow task applied late must issue the commands it issued on time.

A worker does not always apply an event at the time of the task that carries it. In the soak
(temporalio 1.35, a saturated worker killed twice) a task timed out while the worker still worked
on it; the task was handed out again, and the worker sent the commands it had computed at the old
task's time with the new one. A query reaching a worker that lost the issue does the like: it
rebuilds the workflow and applies the events no task has handled yet at the time of the last task
on record. A replay applies the same events at the time of the task that really carried them. The
two must agree on the commands, or the issue is stuck on every replay (``[TMPRL1100]
Nondeterminism``, seen as a timer in the history where the replay scheduled an activity).

These tests make such histories from the recorded ones: from a task that applied an activity's
result or a timer's firing and then set a timer, every event moves later, past the clock that
timer waited for, as if that task had reached the worker that late. Today's code must replay
them (a clock already due still gets a timer; clocks fire at their timer's instant); a loop that
acts at the task's own time replays them with another command (``ActsAtOnceWhenDue``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from domain.payloads import DATA_CONVERTER
from tests.workflows.altered_issue import ActsAtOnceWhenDue
from tests.workflows.conftest import histories_of, load_history
from workflows.issue import IssueWorkflow

HISTORIES = Path(__file__).parent / "histories"
TODAY = sorted(HISTORIES.glob("*.json.gz"))
LATE = timedelta(seconds=1)  # past the clock, by this much


def late_tasks(history: WorkflowHistory) -> Iterator[tuple[str, int, WorkflowHistory]]:
    """Variants of ``history``, each with one task (and all after it) applied past its clock.

    A task qualifies when it applied an activity's completion or a timer's firing (its kind,
    among the events since the task before) and its commands start a timer: the timer's
    instant is the task's time plus the timer's length, and the variant starts the task
    ``LATE`` after that instant. The clocks are instants in the recorded state, so every later
    task of the variant is late for its clocks too. (A timer fired late fires the clocks of its
    own instant, not those due since.)
    """
    events = list(history.events)
    applied = {
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "result",
        EventType.EVENT_TYPE_TIMER_FIRED: "timer",
    }
    arrived: str | None = None
    for index, event in enumerate(events):
        arrived = applied.get(event.event_type, arrived)
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            continue
        kind, arrived = arrived, None
        timer = _timer_set_by(events, index)
        if kind is None or timer is None:
            continue
        shift = timer.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() + LATE
        variant = WorkflowHistory(history.workflow_id, _moved(events, index, shift))
        yield kind, event.event_id, variant


def _timer_set_by(events: list[HistoryEvent], started: int) -> HistoryEvent | None:
    """The timer started by the commands of the task whose started event is ``events[started]``."""
    done = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    following = events[started + 1 :]
    completion = next((i for i, e in enumerate(following) if e.event_type == done), None)
    if completion is None:
        return None
    for event in following[completion + 1 :]:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            return event
        attributes = event.WhichOneof("attributes") or ""
        # The task's commands are the events it completed with, up to the next task's.
        if attributes.startswith("workflow_task_") or event.event_type in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            EventType.EVENT_TYPE_TIMER_FIRED,
        ):
            return None
    return None


def _moved(events: list[HistoryEvent], start: int, shift: timedelta) -> list[HistoryEvent]:
    """The events with ``events[start:]`` moved ``shift`` later (their order is unchanged)."""
    moved = []
    for index, event in enumerate(events):
        copy = HistoryEvent()
        copy.CopyFrom(event)
        if index >= start:
            copy.event_time.FromDatetime(event.event_time.ToDatetime() + shift)
        moved.append(copy)
    return moved


async def replay_failures(files: list[Path], workflow: type = IssueWorkflow) -> list[str]:
    """Replay late-task variants of the histories in ``files`` (one worker for all): the first
    two of each kind per history (replays cost about 0.1 s each; later variants mostly repeat
    the late stretch of the earlier ones)."""
    variants: list[WorkflowHistory] = []
    for file in files:
        taken: Counter[str] = Counter()
        for kind, event_id, variant in late_tasks(load_history(file)):
            taken[kind] += 1
            if taken[kind] <= 2:
                name = f"{file.name}, {kind} applied by the task at event {event_id}"
                variants.append(WorkflowHistory(name, list(variant.events)))

    assert len(variants) >= 10, "too few tasks apply a timer's firing, then wait"
    replayer = Replayer(workflows=[workflow], data_converter=DATA_CONVERTER)
    async with replayer.workflow_replay_iterator(histories_of(variants)) as results:
        return [
            f"{result.history.workflow_id}: {result.replay_failure}"
            async for result in results
            if result.replay_failure is not None
        ]


async def test_a_task_applied_late_issues_the_same_commands() -> None:
    assert TODAY, "the recorded histories are missing"
    failures = await replay_failures(TODAY)
    assert not failures, "\n".join(failures)


async def test_a_loop_acting_at_the_tasks_own_time_fails_on_late_tasks() -> None:
    # The failure the rule removes: a loop that sets no timer for a clock already due acts at
    # once, so a late task issues a local activity where the history holds a timer.
    failures = await replay_failures(TODAY, ActsAtOnceWhenDue)
    assert any("Nondeterminism" in f for f in failures), failures
