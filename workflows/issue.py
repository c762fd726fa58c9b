"""IssueWorkflow: one issue's whole life, carried up the ladder village → township → county.

Deterministic and light: the clocks are instants computed by activities (policy and calendar live
there), the loop only waits for the nearest one or for a human action (an update). Every state
change appends an event and is recorded in the read model by the ``record`` activity; messages go
out through ``notify`` without holding up the issue.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import labels
    from domain import search_attributes as sa
    from domain.models import (
        OPEN_STATUSES,
        SYSTEM_ACTOR,
        Accept,
        Action,
        ActionResult,
        Actor,
        ClockRequest,
        Deadline,
        DeadlineRequest,
        DepartmentCall,
        Escalate,
        Event,
        EventType,
        ExtensionDecision,
        ExtensionRequest,
        Feedback,
        FeedbackRecord,
        IssueStart,
        IssueState,
        LevelClock,
        LevelRecord,
        Notice,
        Outcome,
        PendingExtension,
        Progress,
        Report,
        Resolution,
        Resolve,
        Role,
        Satisfaction,
        Snapshot,
        Status,
        Supervise,
        Term,
        Terms,
        TermsRequest,
        Transfer,
        UnitKind,
        UnitRef,
        Whistle,
        Withdraw,
    )

WORKFLOW_NAME = "IssueWorkflow"
QUERY_STATE = "state"


def workflow_id(issue_id: str) -> str:
    """The workflow id of an issue: one workflow per issue, so registration is idempotent."""
    return f"issue-{issue_id}"


# Pure activities (deadlines) and writes (record, notify) retry until they succeed: a database
# that is down for a while must delay the record, never lose it.
_PATIENT = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
_DELIVERY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=12,
    non_retryable_error_types=["PermanentDeliveryError"],
)
_ACTIVITY_TIMEOUT = timedelta(seconds=30)
_REQUEST_MEMORY = 256  # request ids remembered to apply a retried update once
# Patches (``workflow.patched``): runs recorded before a change replay along the old branch.
_RECHECK_UNDER_LOCK = "recheck-actions-under-lock"
_EXTENSION_LAPSES = "pending-extension-lapses"
_LOCAL_CLOCKS = "clocks-as-local-activities"
_QUIESCE = "quiesce-before-leaving"
_TASK_TIME_FREE = "commands-free-of-task-time"
_SHORTEST_WAIT = 0.001  # seconds: a clock already due still gets its timer
_UNIT_ROLES = frozenset({Role.CLERK, Role.LEADER})
_DECIDER_ROLES = frozenset({Role.LEADER, Role.ADMIN})
_FEEDBACK_ROLES = frozenset({Role.CITIZEN, Role.CLERK, Role.LEADER, Role.SUPERVISOR, Role.ADMIN})

A = TypeVar("A", bound=Action)
T = TypeVar("T")


class StaleClockError(RuntimeError):
    """This worker ran the workflow on with a clock from before the events it applied.

    The SDK (temporalio 1.35) can do that: a query sent while the only worker is dead waits out
    the dead worker's sticky queue, then reaches a new worker with the history as it is by then.
    The new worker rebuilds the workflow from it, applying a timer that fired or an activity that
    completed since the last workflow task at that task's time, and keeps the result in its
    cache. The next real task then goes on from that state: a fired timer finds its clock not yet
    due and sets another one, where a replay would act (a nondeterministic history, then a
    workflow stuck on every replay). Not a failure of the workflow: the task fails, the worker
    drops its cached copy, and the retried task replays the history with the right clock.
    """


def _require_time_moved(since: datetime) -> None:
    """An activity's result arrives in a later workflow task, so the clock must have moved."""
    if workflow.now() <= since:
        raise StaleClockError(f"result applied at {workflow.now()}, not after {since}")


def _reject(reason: str) -> ApplicationError:
    """A refusal a person can read; non-retryable because retrying cannot change the answer."""
    return ApplicationError(reason, type="Rejected", non_retryable=True)


def _comparable(a: Term, b: Term) -> bool:
    return (a.seconds is None) == (b.seconds is None)


def _exceeds(asked: Term, cap: Term) -> bool:
    if asked.seconds is not None:
        return asked.seconds > (cap.seconds or 0)
    return (asked.working_days or 0) > (cap.working_days or 0)


@workflow.defn(name=WORKFLOW_NAME)
class IssueWorkflow:
    """The escalation ladder of one issue, its clocks and the human actions on it."""

    @workflow.init
    def __init__(self, start: IssueStart) -> None:
        self.s: IssueState = start.carried or IssueState(
            issue=start.issue, ladder=list(start.issue.ladder)
        )
        self._history_limit = start.history_limit
        self._changed = False  # an update moved a clock: the loop recomputes its wait
        self._lock = asyncio.Lock()  # handlers and the loop take turns on activities
        self._recorded = self.s.next_seq  # events before this seq are in the read model
        self._background: set[asyncio.Task[None]] = set()
        # Since "commands-free-of-task-time" (decided once, as the run starts): see ``run``.
        self._task_time_free = False
        self._history_seen = (0, False)  # (history length, continue-as-new suggested)

    # ---- run loop --------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: IssueStart) -> IssueState:
        """Wait for the nearest clock or a human action, act, repeat until the issue closes.

        Since "commands-free-of-task-time", the commands this loop issues do not depend on the
        time of the workflow task that applies an event, nor on where task boundaries fall. A
        worker may apply an activity's completion at the time of an older task and send the
        commands with a later one (temporalio 1.35, seen in the soak: a task that timed out on a
        saturated worker and was handed out again while the worker still worked on it; a query
        rebuilding a workflow the worker had lost), while a replay applies it at the time of the
        task that carried it. So: a clock already due still gets a timer (of
        ``_SHORTEST_WAIT``: a timer's length is not checked on replay, its presence is); clocks
        fire only when their timer fires, those due at the timer's own instant; and the
        continue-as-new decision reads the history length as of the last timer or update, not
        as of whichever task applied an activity's result.
        """
        self._task_time_free = workflow.patched(_TASK_TIME_FREE)
        self._see_history()
        if start.carried is None:
            async with self._lock:
                await self._register()
        while self.s.status in OPEN_STATUSES:
            due = self._next_due()
            timeout = self._wait_for(due)
            self._changed = False
            fired = False
            try:
                await workflow.wait_condition(
                    lambda: self._changed or self.s.status not in OPEN_STATUSES,
                    timeout=timeout,
                )
            except TimeoutError:
                # A timer fires at its instant or later; firing earlier means a stale clock.
                if due is not None and workflow.now() < due:
                    raise StaleClockError(f"timer for {due} fired at {workflow.now()}") from None
                fired = True
            if not self._task_time_free:
                async with self._lock:
                    await self._fire_due_clocks(workflow.now())
            elif fired and due is not None:
                self._see_history()
                async with self._lock:
                    await self._fire_due_clocks(due)
            if self._should_continue_as_new():
                await self._quiesce()
                workflow.continue_as_new(
                    IssueStart(
                        issue=self.s.issue, carried=self.s, history_limit=self._history_limit
                    )
                )
        await self._quiesce()
        return self.s

    def _wait_for(self, due: datetime | None) -> float | None:
        """Seconds to wait for the clock due at ``due`` (None: wait for people only)."""
        if due is None:
            return None
        left = (due - workflow.now()).total_seconds()
        return max(left, _SHORTEST_WAIT) if self._task_time_free else max(left, 0.0)

    @staticmethod
    def _history_now() -> tuple[int, bool]:
        """(history length, continue-as-new suggested) as of the task being applied."""
        info = workflow.info()
        return info.get_current_history_length(), info.is_continue_as_new_suggested()

    def _see_history(self) -> None:
        """Note the history's length where the task is the one a replay would see too."""
        self._history_seen = self._history_now()

    def _should_continue_as_new(self) -> bool:
        seen = self._history_seen if self._task_time_free else self._history_now()
        length, suggested = seen
        return suggested or length > self._history_limit

    async def _register(self) -> None:
        issue = self.s.issue
        self.s.terms = await self._activity(
            "terms_for", TermsRequest(issue.category, issue.urgency), Terms
        )
        self._event(
            EventType.REGISTERED,
            issue.registered_by,
            data={
                "category": issue.category,
                "urgency": issue.urgency.value,
                "channel": issue.channel.value,
                "tracking_code": issue.tracking_code,
                "policy": self.s.terms.policy,
            },
        )
        await self._enter_level(reason="registered", actor=issue.registered_by)

    def _next_due(self) -> datetime | None:
        """The nearest instant at which a clock fires, or None to wait for people only."""
        s = self.s
        candidates: list[datetime] = []
        if s.status is Status.AWAITING_FEEDBACK:
            if s.feedback_deadline is not None:
                candidates.append(s.feedback_deadline)
        elif s.status in (Status.PENDING_ACCEPT, Status.IN_PROGRESS):
            lvl = s.current
            if s.status is Status.PENDING_ACCEPT and not lvl.accept_reminded:
                candidates.append(lvl.accept_deadline)
            if lvl.warnings_sent < len(lvl.warnings):
                candidates.append(lvl.warnings[lvl.warnings_sent])
            if s.overdue_since is not None and s.next_overdue_reminder is not None:
                candidates.append(s.next_overdue_reminder)
            elif not (s.at_ceiling and s.overdue_since is not None):
                candidates.append(lvl.deadline)
            candidates += [
                d.report_deadline
                for d in s.departments
                if d.reported_at is None and not d.overdue_notified
            ]
        return min(candidates) if candidates else None

    async def _fire_due_clocks(self, now: datetime) -> None:
        """Act on every clock due at ``now``; several may fall due together."""
        s = self.s
        if s.status is Status.AWAITING_FEEDBACK:
            if s.feedback_deadline is not None and s.feedback_deadline <= now:
                self._event(EventType.FEEDBACK_EXPIRED, SYSTEM_ACTOR)
                await self._close()
            return
        if s.status not in (Status.PENDING_ACCEPT, Status.IN_PROGRESS):
            return
        changed = False
        lvl = s.current
        for call in s.departments:
            due = call.reported_at is None and not call.overdue_notified
            if due and call.report_deadline <= now:
                call.overdue_notified = True
                seq = self._event(
                    EventType.REPORT_OVERDUE,
                    SYSTEM_ACTOR,
                    data={"department": call.department, "deadline": call.report_deadline},
                )
                self._notify(
                    seq,
                    "report_overdue",
                    f"部门报到超时：{call.name}",
                    departments=[call.department],
                    units=[call.unit],
                )
                changed = True
        if (
            s.status is Status.PENDING_ACCEPT
            and not lvl.accept_reminded
            and (lvl.accept_deadline <= now)
        ):
            lvl.accept_reminded = True
            lvl.accepted_on_time = False
            seq = self._event(EventType.ACCEPT_OVERDUE, SYSTEM_ACTOR)
            self._notify(seq, "accept_overdue", "签收超时，请尽快签收", units=[lvl.unit.code])
            changed = True
        while lvl.warnings_sent < len(lvl.warnings) and lvl.warnings[lvl.warnings_sent] <= now:
            fraction = self._warning_fraction(lvl, lvl.warnings_sent)
            lvl.warnings_sent += 1
            s.warnings_sent += 1
            seq = self._event(
                EventType.WARNING,
                SYSTEM_ACTOR,
                data={"fraction": fraction, "deadline": lvl.deadline},
            )
            self._notify(
                seq,
                "warning",
                f"预警：已用时{round(fraction * 100)}%，请在期限内办结",
                units=self._unit_and_parent(),
            )
            changed = True
        if s.overdue_since is not None:
            if s.next_overdue_reminder is not None and s.next_overdue_reminder <= now:
                await self._overdue_reminder()
                return
        elif lvl.deadline <= now:
            if s.at_ceiling:
                await self._mark_overdue()
            else:
                await self._escalate(
                    Outcome.ESCALATED_ON_TIMEOUT, SYSTEM_ACTOR, "办理期限届满，自动上报"
                )
            return
        if changed:
            await self._record()

    def _warning_fraction(self, lvl: LevelRecord, index: int) -> float:
        terms = self._terms
        if index < len(terms.warnings):
            return terms.warnings[index]
        return 1.0

    # ---- level transitions -----------------------------------------------------------------

    async def _enter_level(self, reason: str, actor: Actor, note: str | None = None) -> None:
        """Put the issue at ``self.s.unit``: clocks, event, search attributes, notices."""
        s = self.s
        now = workflow.now()
        level = s.unit.kind.value
        terms = self._terms
        clock = await self._activity(
            "level_clock",
            ClockRequest(
                start=now,
                resolve=terms.resolve.get(level, terms.resolve.get("village", terms.accept)),
                accept=terms.accept,
                transfer_window=terms.transfer_window,
                warnings=terms.warnings,
            ),
            LevelClock,
        )
        s.levels.append(
            LevelRecord(
                level=level,
                unit=s.unit,
                entered_at=now,
                deadline=clock.deadline.at,
                accept_deadline=clock.accept_deadline.at,
                provisional=clock.deadline.provisional,
                reason=reason,
                warnings=list(clock.warnings),
                transfer_until=clock.transfer_until.at,
            )
        )
        s.status = Status.PENDING_ACCEPT
        s.pending_extension = None
        s.overdue_since = None
        s.next_overdue_reminder = None
        seq = self._event(
            EventType.LEVEL_ENTERED,
            actor,
            data={
                "reason": reason,
                "deadline": clock.deadline.at,
                "accept_deadline": clock.accept_deadline.at,
                "provisional": clock.deadline.provisional,
                **({"note": note} if note else {}),
            },
        )
        departments: list[str] = []
        title = f"新{labels.LEVEL.get(level, level)}事项：{s.issue.title}"
        self._notify(seq, "level_entered", title, units=[s.unit.code], departments=departments)
        if clock.deadline.provisional:
            self._notify(
                seq,
                "calendar_provisional",
                "期限按暂定日历计算",
                admins=True,
                text=clock.deadline.reason or "",
            )
        self._upsert_search_attributes()
        self._changed = True
        await self._record()

    def _leave_level(self, outcome: Outcome) -> LevelRecord:
        lvl = self.s.current
        now = workflow.now()
        lvl.left_at = now
        lvl.outcome = outcome
        # A timer fires at the deadline itself, so "<=" would call a timeout punctual.
        lvl.on_time = outcome is not Outcome.ESCALATED_ON_TIMEOUT and now <= lvl.deadline
        if self.s.pending_extension is not None and workflow.patched(_EXTENSION_LAPSES):
            # A request still waiting for its decision lapses with the level it was asked for.
            self.s.pending_extension = None
        return lvl

    async def _escalate(self, outcome: Outcome, actor: Actor, reason: str) -> None:
        s = self.s
        left = self._leave_level(outcome) if s.current.outcome is None else s.current
        from_unit = left.unit
        s.rung += 1
        self._event(
            EventType.ESCALATED,
            actor,
            data={
                "outcome": outcome.value,
                "reason": reason,
                "from_unit": from_unit.code,
                "to_unit": s.unit.code,
            },
        )
        await self._enter_level(reason="escalated", actor=actor, note=reason)

    async def _mark_overdue(self) -> None:
        s = self.s
        now = workflow.now()
        s.overdue = True
        s.overdue_since = now
        # Too late to extend, as for a request made now: one still waiting for its decision lapses.
        lapsed = s.pending_extension is not None and workflow.patched(_EXTENSION_LAPSES)
        if lapsed:
            s.pending_extension = None
        reminder = await self._next_reminder(now)
        s.next_overdue_reminder = reminder.at
        seq = self._event(
            EventType.OVERDUE,
            SYSTEM_ACTOR,
            data={
                "deadline": s.current.deadline,
                "next_reminder": reminder.at,
                **({"extension_lapsed": True} if lapsed else {}),
            },
        )
        self._notify(
            seq,
            "overdue",
            f"超期：{s.issue.title}",
            units=[s.unit.code],
            supervisors_of=[s.unit.code],
        )
        self._upsert_search_attributes()
        await self._record()

    async def _overdue_reminder(self) -> None:
        """督办 every working day at the ceiling until someone resolves the issue."""
        s = self.s
        now = workflow.now()
        reminder = await self._next_reminder(now)
        s.next_overdue_reminder = reminder.at
        count = sum(1 for e in s.events if e.type is EventType.OVERDUE_REMINDER) + 1
        seq = self._event(
            EventType.OVERDUE_REMINDER,
            SYSTEM_ACTOR,
            data={"since": s.overdue_since, "next_reminder": reminder.at, "count": count},
        )
        self._notify(
            seq,
            "overdue_reminder",
            f"超期督办：{s.issue.title}",
            units=[s.unit.code],
            supervisors_of=[s.unit.code],
        )
        await self._record()

    async def _next_reminder(self, after: datetime) -> Deadline:
        return await self._activity(
            "next_reminder", DeadlineRequest(after, self._terms.overdue_reminder), Deadline
        )

    async def _close(self) -> None:
        s = self.s
        s.status = Status.CLOSED
        s.closed_at = workflow.now()
        resolution = s.resolution
        self._event(
            EventType.CLOSED,
            SYSTEM_ACTOR,
            data={
                "resolution_level": resolution.level if resolution else None,
                "resolution_unit": resolution.unit if resolution else None,
                "feedback": s.feedback is not None,
            },
        )
        self._upsert_search_attributes()
        await self._record()

    # ---- updates: the unit at the current level --------------------------------------------

    @workflow.update
    async def accept(self, a: Accept) -> ActionResult:
        return await self._apply(a, self._do_accept, self._check_accept)

    @accept.validator
    def _check_accept(self, a: Accept) -> None:
        if self._seen(a):
            return
        self._require_unit_actor(a.actor)
        self._require_status(Status.PENDING_ACCEPT, "事项已签收")

    async def _do_accept(self, a: Accept) -> None:
        lvl = self.s.current
        now = workflow.now()
        lvl.accepted_at = now
        lvl.accepted_on_time = now <= lvl.accept_deadline
        self.s.status = Status.IN_PROGRESS
        self._event(EventType.ACCEPTED, a.actor, data={"on_time": lvl.accepted_on_time})
        self._upsert_search_attributes()
        await self._record()

    @workflow.update
    async def progress(self, a: Progress) -> ActionResult:
        return await self._apply(a, self._do_progress, self._check_progress)

    @progress.validator
    def _check_progress(self, a: Progress) -> None:
        if self._seen(a):
            return
        self._require_unit_actor(a.actor)
        self._require_status(Status.IN_PROGRESS, "请先签收再报送进展")
        if not a.note.strip():
            raise _reject("进展说明不能为空 (note)")

    async def _do_progress(self, a: Progress) -> None:
        self._event(EventType.PROGRESS, a.actor, data={"note": a.note})
        await self._record()

    @workflow.update
    async def resolve(self, a: Resolve) -> ActionResult:
        return await self._apply(a, self._do_resolve, self._check_resolve)

    @resolve.validator
    def _check_resolve(self, a: Resolve) -> None:
        if self._seen(a):
            return
        self._require_unit_actor(a.actor)
        self._require_status(Status.IN_PROGRESS, "请先签收再办结")
        if not a.summary.strip():
            raise _reject("办结说明不能为空 (summary)")

    async def _do_resolve(self, a: Resolve) -> None:
        s = self.s
        lvl = self._leave_level(Outcome.RESOLVED)
        now = workflow.now()
        s.resolution = Resolution(
            level=lvl.level,
            unit=lvl.unit.code,
            unit_name=lvl.unit.name,
            summary=a.summary,
            at=now,
            by=a.actor.user,
        )
        s.status = Status.AWAITING_FEEDBACK
        s.next_overdue_reminder = None
        window = await self._activity(
            "deadline", DeadlineRequest(now, self._terms.feedback_window), Deadline
        )
        s.feedback_deadline = window.at
        seq = self._event(
            EventType.RESOLVED,
            a.actor,
            data={"summary": a.summary, "on_time": lvl.on_time, "feedback_until": window.at},
        )
        self._notify(seq, "resolved", f"已办结，待回访评价：{s.issue.title}", units=[lvl.unit.code])
        self._upsert_search_attributes()
        await self._record()

    @workflow.update
    async def escalate(self, a: Escalate) -> ActionResult:
        return await self._apply(a, self._do_escalate, self._check_escalate)

    @escalate.validator
    def _check_escalate(self, a: Escalate) -> None:
        if self._seen(a):
            return
        self._require_unit_actor(a.actor)
        self._require_status_in((Status.PENDING_ACCEPT, Status.IN_PROGRESS))
        if self.s.at_ceiling:
            raise _reject("已在最高层级（县级），不能再上报")
        if not a.reason.strip():
            raise _reject("上报理由不能为空 (reason)")

    async def _do_escalate(self, a: Escalate) -> None:
        await self._escalate(Outcome.ESCALATED_ON_REQUEST, a.actor, a.reason)

    @workflow.update
    async def whistle(self, a: Whistle) -> ActionResult:
        return await self._apply(a, self._do_whistle, self._check_whistle)

    @whistle.validator
    def _check_whistle(self, a: Whistle) -> None:
        if self._seen(a):
            return
        self._require_unit_actor(a.actor)
        self._require_status(Status.IN_PROGRESS, "请先签收再吹哨")
        if not a.departments:
            raise _reject("请至少选择一个部门 (departments)")
        if len(set(a.departments)) != len(a.departments):
            raise _reject("部门重复 (departments)")
        waiting = {d.department for d in self.s.departments if d.reported_at is None}
        again = sorted(waiting.intersection(a.departments))
        if again:
            raise _reject(f"部门已被吹哨且尚未报到：{', '.join(again)} (departments)")

    async def _do_whistle(self, a: Whistle) -> None:
        s = self.s
        now = workflow.now()
        due = await self._activity("deadline", DeadlineRequest(now, self._terms.report), Deadline)
        for code in a.departments:
            s.departments.append(
                DepartmentCall(
                    department=code,
                    name=a.department_names.get(code, code),
                    level=s.current.level,
                    unit=s.unit.code,
                    whistled_at=now,
                    report_deadline=due.at,
                )
            )
        seq = self._event(
            EventType.WHISTLED,
            a.actor,
            data={"departments": a.departments, "reason": a.reason, "report_deadline": due.at},
        )
        self._notify(
            seq,
            "whistle",
            f"吹哨：请于{self._terms.report.label()}内报到 — {s.issue.title}",
            departments=list(a.departments),
        )
        self._changed = True
        await self._record()

    @workflow.update
    async def report(self, a: Report) -> ActionResult:
        return await self._apply(a, self._do_report, self._check_report)

    @report.validator
    def _check_report(self, a: Report) -> None:
        if self._seen(a):
            return
        self._require_status_in((Status.PENDING_ACCEPT, Status.IN_PROGRESS))
        if a.actor.role not in (Role.DEPARTMENT, Role.ADMIN) or not a.actor.department_code:
            raise _reject("只有被吹哨的部门可以报到")
        if self._open_call(a.actor.department_code) is None:
            raise _reject("本部门未被吹哨或已报到")

    async def _do_report(self, a: Report) -> None:
        call = self._open_call(a.actor.department_code or "")
        if call is None:  # reported meanwhile by a concurrent request
            return
        now = workflow.now()
        call.reported_at = now
        call.on_time = now <= call.report_deadline
        call.contribution = a.contribution
        seq = self._event(
            EventType.REPORTED,
            a.actor,
            data={
                "department": call.department,
                "on_time": call.on_time,
                "contribution": a.contribution,
            },
        )
        self._notify(seq, "reported", f"{call.name}已报到", units=[call.unit])
        self._changed = True
        await self._record()

    def _open_call(self, department: str) -> DepartmentCall | None:
        return next(
            (d for d in self.s.departments if d.department == department and d.reported_at is None),
            None,
        )

    # ---- extension: asked by the unit, decided by the parent -------------------------------

    @workflow.update
    async def extension(self, a: ExtensionRequest) -> ActionResult:
        return await self._apply(a, self._do_extension, self._check_extension)

    @extension.validator
    def _check_extension(self, a: ExtensionRequest) -> None:
        if self._seen(a):
            return
        self._require_unit_actor(a.actor)
        self._require_status(Status.IN_PROGRESS, "请先签收再申请延期")
        terms = self._terms
        lvl = self.s.current
        if not terms.extension_allowed:
            raise _reject("该类事项（紧急）不允许延期")
        if lvl.extension_requested:
            raise _reject("本层级已申请过延期（每层级限一次）")
        if self.s.overdue_since is not None:
            raise _reject("已超期，不能再申请延期")
        cap = terms.resolve.get(lvl.level, terms.accept)
        if not _comparable(a.term, cap):
            raise _reject(f"延期时长须与本层级期限同一计量（{cap.label()}） (term)")
        if _exceeds(a.term, cap) or a.term == Term(seconds=0) or a.term == Term(working_days=0):
            raise _reject(f"延期时长须大于零且不超过本层级期限{cap.label()} (term)")
        if not a.reason.strip():
            raise _reject("延期理由不能为空 (reason)")

    async def _do_extension(self, a: ExtensionRequest) -> None:
        s = self.s
        s.current.extension_requested = True
        s.pending_extension = PendingExtension(
            term=a.term, reason=a.reason, requested_at=workflow.now(), requested_by=a.actor.user
        )
        seq = self._event(
            EventType.EXTENSION_REQUESTED,
            a.actor,
            data={"term": a.term.label(), "reason": a.reason},
        )
        self._notify(
            seq,
            "extension_requested",
            f"延期申请待审批（{a.term.label()}）：{s.issue.title}",
            units=[self._decider_unit().code],
        )
        await self._record()

    @workflow.update(name="extension_decision")
    async def extension_decision(self, a: ExtensionDecision) -> ActionResult:
        return await self._apply(a, self._do_extension_decision, self._check_extension_decision)

    @extension_decision.validator
    def _check_extension_decision(self, a: ExtensionDecision) -> None:
        if self._seen(a):
            return
        pending = self.s.pending_extension
        if pending is None:
            raise _reject("没有待审批的延期申请")
        self._require_status_in((Status.IN_PROGRESS,))
        decider = self._decider_unit()
        if a.actor.role is not Role.ADMIN and (
            a.actor.role not in _DECIDER_ROLES or a.actor.unit_code != decider.code
        ):
            raise _reject(f"延期须由上级单位（{decider.name}）负责人审批")
        if (
            a.approve
            and a.term is not None
            and (not _comparable(a.term, pending.term) or _exceeds(a.term, pending.term))
        ):
            raise _reject("批准的延期不能超过申请的时长 (term)")

    async def _do_extension_decision(self, a: ExtensionDecision) -> None:
        s = self.s
        pending = s.pending_extension
        if pending is None:
            return
        lvl = s.current
        s.pending_extension = None
        data: dict[str, Any] = {"approve": a.approve, "comment": a.comment}
        if a.approve:
            granted = a.term or pending.term
            old = lvl.deadline
            new = await self._activity("deadline", DeadlineRequest(old, granted), Deadline)
            lvl.deadline = new.at
            lvl.extended = True
            lvl.provisional = lvl.provisional or new.provisional
            # The warnings not yet sent move with the deadline, at the same fractions.
            span = new.at - lvl.entered_at
            lvl.warnings = lvl.warnings[: lvl.warnings_sent] + [
                lvl.entered_at + span * f for f in self._terms.warnings[lvl.warnings_sent :]
            ]
            data |= {"term": granted.label(), "old_deadline": old, "new_deadline": new.at}
            self._upsert_search_attributes()
            self._changed = True
        seq = self._event(EventType.EXTENSION_DECIDED, a.actor, data=data)
        verdict = "批准" if a.approve else "不批准"
        title = f"延期申请{verdict}：{s.issue.title}"
        self._notify(seq, "extension_decided", title, units=[lvl.unit.code])
        await self._record()

    def _decider_unit(self) -> UnitRef:
        """Who decides the current unit's extensions: the parent, or the ceiling itself."""
        s = self.s
        return s.ladder[min(s.rung + 1, len(s.ladder) - 1)]

    # ---- transfer (转派) -------------------------------------------------------------------

    @workflow.update
    async def transfer(self, a: Transfer) -> ActionResult:
        return await self._apply(a, self._do_transfer, self._check_transfer)

    @transfer.validator
    def _check_transfer(self, a: Transfer) -> None:
        if self._seen(a):
            return
        s = self.s
        self._require_status_in((Status.PENDING_ACCEPT, Status.IN_PROGRESS))
        if not a.ladder:
            raise _reject("请指定转派目标单位 (unit)")
        target = a.ladder[0]
        if target.kind != s.unit.kind:
            raise _reject("只能转派给同级单位 (unit)")
        if target.code == s.unit.code:
            raise _reject("不能转派给本单位 (unit)")
        if a.ladder[-1].code != s.ladder[-1].code:
            raise _reject("只能在本县内转派 (unit)")
        if not a.reason.strip():
            raise _reject("转派理由不能为空 (reason)")
        parent = s.ladder[s.rung + 1] if not s.at_ceiling else None
        by_parent = parent is not None and a.actor.unit_code == parent.code
        if a.actor.role is Role.ADMIN:
            return
        if by_parent and a.actor.role in _DECIDER_ROLES:
            return
        self._require_unit_actor(a.actor)
        until = s.current.transfer_until
        if until is not None and workflow.now() > until:
            raise _reject("已超过转派时限（到达后2个工作日），须由上级单位决定")

    async def _do_transfer(self, a: Transfer) -> None:
        s = self.s
        self._leave_level(Outcome.TRANSFERRED)
        old = s.unit
        s.ladder = list(a.ladder)
        s.rung = 0
        self._event(
            EventType.TRANSFERRED,
            a.actor,
            data={"from_unit": old.code, "to_unit": s.unit.code, "reason": a.reason},
        )
        await self._enter_level(reason="transferred", actor=a.actor, note=a.reason)

    # ---- supervise (督办), feedback, withdraw ------------------------------------------------

    @workflow.update
    async def supervise(self, a: Supervise) -> ActionResult:
        return await self._apply(a, self._do_supervise, self._check_supervise)

    @supervise.validator
    def _check_supervise(self, a: Supervise) -> None:
        if self._seen(a):
            return
        if a.actor.role not in (Role.SUPERVISOR, Role.ADMIN, Role.LEADER):
            raise _reject("只有督查人员或上级负责人可以督办")
        if a.actor.role is Role.LEADER and a.actor.unit_code not in {
            u.code for u in self.s.ladder[self.s.rung + 1 :]
        }:
            raise _reject("只有上级单位负责人可以督办")
        self._require_status_in((Status.PENDING_ACCEPT, Status.IN_PROGRESS))
        if not a.note.strip():
            raise _reject("督办意见不能为空 (note)")

    async def _do_supervise(self, a: Supervise) -> None:
        seq = self._event(EventType.SUPERVISED, a.actor, data={"note": a.note})
        self._notify(seq, "supervised", f"督办：{self.s.issue.title}", units=[self.s.unit.code])
        await self._record()

    @workflow.update
    async def feedback(self, a: Feedback) -> ActionResult:
        return await self._apply(a, self._do_feedback, self._check_feedback)

    @feedback.validator
    def _check_feedback(self, a: Feedback) -> None:
        if self._seen(a):
            return
        if a.actor.role not in _FEEDBACK_ROLES:
            raise _reject("无权录入回访评价")
        self._require_status(Status.AWAITING_FEEDBACK, "事项尚未办结，不能评价")

    async def _do_feedback(self, a: Feedback) -> None:
        s = self.s
        record = FeedbackRecord(
            solved=a.solved,
            satisfaction=a.satisfaction,
            comment=a.comment,
            at=workflow.now(),
            by=a.actor.user,
        )
        s.feedback = record
        s.feedback_history.append(record)
        s.feedback_deadline = None
        self._event(
            EventType.FEEDBACK,
            a.actor,
            data={
                "solved": a.solved,
                "satisfaction": a.satisfaction.value,
                "comment": a.comment,
            },
        )
        if a.solved and a.satisfaction is not Satisfaction.UNSATISFIED:
            await self._close()
            return
        resolved_at = s.current.unit
        reopened = resolved_at.code in s.reopened_at_level
        if reopened and s.at_ceiling:
            # No one is above the ceiling: the issue closes with the dissatisfaction on record.
            await self._close()
            return
        # Turned down: no resolution stands until someone resolves the issue again (the one
        # turned down stays in the events and the level's outcome).
        s.resolution = None
        if not reopened:
            # 重办: once at the same level.
            s.reopened_at_level.append(resolved_at.code)
            self._event(EventType.REOPENED, a.actor, data={"unit": resolved_at.code})
            await self._enter_level(reason="reopened", actor=a.actor, note="群众不满意，重办")
        else:
            await self._escalate(Outcome.RESOLVED, a.actor, "重办后群众仍不满意，上报上级")

    @workflow.update
    async def withdraw(self, a: Withdraw) -> ActionResult:
        return await self._apply(a, self._do_withdraw, self._check_withdraw)

    @withdraw.validator
    def _check_withdraw(self, a: Withdraw) -> None:
        if self._seen(a):
            return
        if a.actor.role is not Role.CITIZEN and a.actor.role is not Role.ADMIN:
            self._require_unit_actor(a.actor)
        self._require_status_in((Status.PENDING_ACCEPT, Status.IN_PROGRESS))

    async def _do_withdraw(self, a: Withdraw) -> None:
        s = self.s
        self._leave_level(Outcome.WITHDRAWN)
        s.status = Status.WITHDRAWN
        s.closed_at = workflow.now()
        s.next_overdue_reminder = None
        seq = self._event(EventType.WITHDRAWN, a.actor, data={"reason": a.reason})
        self._notify(seq, "withdrawn", f"群众已撤回：{s.issue.title}", units=[s.unit.code])
        self._upsert_search_attributes()
        await self._record()

    # ---- registration handshake and query ----------------------------------------------------

    @workflow.update
    async def registered(self) -> ActionResult:
        """Wait until the first level is entered: the API answers a registration with its clock.

        Since "registered-in-read-model", also until the read model holds the issue: the citizen
        signs in with tracking code and PIN against the read model, and may do so the moment the
        registration is answered.
        """
        entered = lambda: bool(self.s.levels) and self.s.terms is not None  # noqa: E731
        if workflow.patched("registered-in-read-model"):
            await workflow.wait_condition(lambda: entered() and self._recorded > 1)
        else:
            await workflow.wait_condition(entered)
        return self._result()

    # ---- query -------------------------------------------------------------------------------

    @workflow.query(name=QUERY_STATE)
    def state(self) -> IssueState:
        return self.s

    # ---- shared machinery ------------------------------------------------------------------

    async def _apply(
        self, a: A, step: Callable[[A], Any], check: Callable[[A], None]
    ) -> ActionResult:
        """Apply an action once: a retried request with a seen id returns the current state.

        ``check`` is the update's validator. It ran when the update arrived, but the state may
        have moved while this update waited for the lock — another action or a clock was half
        way through its step (a level being entered, a rating reopening the level) — so the
        action is checked again when its turn comes.
        """
        if self._task_time_free:
            self._see_history()  # the task that delivers an update is the same on replay
        async with self._lock:
            if self._seen(a):
                return self._result(duplicate=True)
            if self.s.status not in OPEN_STATUSES:
                raise _reject(f"事项{labels.STATUS[self.s.status.value]}")
            if workflow.patched(_RECHECK_UNDER_LOCK):
                check(a)
            if a.request_id:
                self.s.applied_requests = [*self.s.applied_requests, a.request_id][
                    -_REQUEST_MEMORY:
                ]
            await step(a)
            self._changed = True
            return self._result()

    def _seen(self, a: Action) -> bool:
        """True for a retried request (the validator lets it through to return the state)."""
        if not self.s.levels or self.s.terms is None:
            raise _reject("事项正在登记，请稍后再试")
        return bool(a.request_id) and a.request_id in self.s.applied_requests

    def _result(self, duplicate: bool = False) -> ActionResult:
        s = self.s
        return ActionResult(
            issue_id=s.issue.issue_id,
            seq=s.next_seq - 1,
            status=s.status,
            level=s.current.level,
            unit=s.unit.code,
            deadline=self._live_deadline(),
            duplicate=duplicate,
        )

    def _live_deadline(self) -> datetime | None:
        s = self.s
        if s.status is Status.AWAITING_FEEDBACK:
            return s.feedback_deadline
        if s.status in (Status.PENDING_ACCEPT, Status.IN_PROGRESS):
            return s.current.deadline
        return None

    def _require_unit_actor(self, actor: Actor) -> None:
        if actor.role is Role.ADMIN:
            return
        if actor.role not in _UNIT_ROLES or actor.unit_code != self.s.unit.code:
            raise _reject(f"事项当前在{self.s.unit.name}，只有该单位可以办理")

    def _require_status(self, status: Status, message: str) -> None:
        if self.s.status is not status:
            raise _reject(f"{message}（当前状态：{labels.STATUS[self.s.status.value]}）")

    def _require_status_in(self, statuses: tuple[Status, ...]) -> None:
        if self.s.status not in statuses:
            raise _reject(f"当前状态（{labels.STATUS[self.s.status.value]}）不允许此操作")

    @property
    def _terms(self) -> Terms:
        if self.s.terms is None:  # only before registration finished; handlers wait for it
            raise ApplicationError("policy terms not loaded yet")
        return self.s.terms

    def _unit_and_parent(self) -> list[str]:
        s = self.s
        return [u.code for u in s.ladder[s.rung : s.rung + 2]]

    def _event(self, type_: EventType, actor: Actor, data: dict[str, Any] | None = None) -> int:
        s = self.s
        seq = s.next_seq
        s.next_seq += 1
        s.events.append(
            Event(
                seq=seq,
                type=type_,
                at=workflow.now(),
                actor=actor,
                level=s.current.level if s.levels else None,
                unit=s.unit.code if s.ladder else None,
                data={k: _plain(v) for k, v in (data or {}).items()},
            )
        )
        return seq

    async def _record(self) -> None:
        """Write the projection and the events not yet written (idempotent on retries)."""
        s = self.s
        new_events = [e for e in s.events if e.seq >= self._recorded]
        state = dataclasses.replace(s, events=new_events)
        snapshot = Snapshot(state=state, from_seq=self._recorded)
        scheduled_at = workflow.now()
        await workflow.execute_activity(
            "record",
            snapshot,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_PATIENT,
        )
        _require_time_moved(scheduled_at)
        self._recorded = s.next_seq

    def _notify(
        self,
        seq: int,
        kind: str,
        title: str,
        *,
        units: list[str] | None = None,
        departments: list[str] | None = None,
        supervisors_of: list[str] | None = None,
        admins: bool = False,
        text: str = "",
    ) -> None:
        """Send a notice in the background: delivery must not hold up the issue's clocks."""
        s = self.s
        notice = Notice(
            issue_id=s.issue.issue_id,
            seq=seq,
            kind=kind,
            title=title,
            text=text or s.issue.title,
            units=units or [],
            departments=departments or [],
            supervisors_of=(supervisors_of or []) + ([s.ladder[-1].code] if admins else []),
            level=s.current.level if s.levels else None,
            deadline=self._live_deadline(),
            category=s.issue.category,
            where=[u.name for u in s.issue.ladder if u.kind is not UnitKind.COUNTY],
        )
        task = asyncio.create_task(self._deliver(notice))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _deliver(self, notice: Notice) -> None:
        deliveries: list[int] = await workflow.execute_activity(
            "notify",
            notice,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_PATIENT,
            result_type=list[int],
        )
        await asyncio.gather(*(self._deliver_one(d) for d in deliveries))

    async def _deliver_one(self, delivery: int) -> None:
        try:
            await workflow.execute_activity(
                "deliver",
                delivery,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                retry_policy=_DELIVERY,
            )
        except ActivityError:
            # Finally failed: the supervisors hear of it (and the attempts are on record).
            await workflow.execute_activity(
                "delivery_failed",
                delivery,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                retry_policy=_PATIENT,
            )

    async def _quiesce(self) -> None:
        """Wait for an instant at which no update handler runs and no notice is in flight.

        The run may end (or continue as new) only then. Waiting for the handlers and then for
        the notices is not enough: an update accepted while the notices drain (the issue is
        still open before a continue-as-new) would be cut off with its run, and its caller told
        it failed. Since "quiesce-before-leaving" the two waits repeat until both hold at once;
        ``patched`` is asked only when they do not, so runs that never met the case record no
        marker, and runs from before replay along the old branch.
        """
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._drain_background()
        while (self._background or not workflow.all_handlers_finished()) and workflow.patched(
            _QUIESCE
        ):
            await workflow.wait_condition(workflow.all_handlers_finished)
            await self._drain_background()

    async def _drain_background(self) -> None:
        while self._background:
            await asyncio.gather(*list(self._background))

    async def _activity(self, name: str, arg: Any, result_type: type[T]) -> T:
        """A clock computation (terms, a level's clock, a deadline): pure, given the policy and
        the calendar the worker loaded.

        Since "clocks-as-local-activities" these run as local activities, in the workflow task
        that asks for them: the answer is on record as a marker, and registering or escalating
        an issue no longer waits for two extra round trips through the server. Runs recorded
        before replay along the old branch, as ordinary activities.
        """
        if workflow.patched(_LOCAL_CLOCKS):
            local: T = await workflow.execute_local_activity(
                name,
                arg,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                retry_policy=_PATIENT,
                result_type=result_type,
            )
            return local
        scheduled_at = workflow.now()
        result: T = await workflow.execute_activity(
            name,
            arg,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_PATIENT,
            result_type=result_type,
        )
        # A local activity's answer may arrive in the same task, so only here can time tell.
        _require_time_moved(scheduled_at)
        return result

    def _upsert_search_attributes(self) -> None:
        s = self.s
        by_kind = {u.kind: u.code for u in s.issue.ladder}
        township = next((u.code for u in s.ladder if u.kind is UnitKind.TOWNSHIP), None)
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STATUS.value_set(s.status.value),
            sa.LEVEL.value_set(s.current.level),
            sa.UNIT.value_set(s.unit.code),
            sa.VILLAGE.value_set(by_kind.get(UnitKind.VILLAGE, "")),
            sa.TOWNSHIP.value_set(township or by_kind.get(UnitKind.TOWNSHIP, "")),
            sa.COUNTY.value_set(s.ladder[-1].code),
            sa.CATEGORY.value_set(s.issue.category),
            sa.URGENCY.value_set(s.issue.urgency.value),
            sa.OVERDUE.value_set(s.overdue),
        ]
        deadline = self._live_deadline()
        updates.append(
            sa.DEADLINE.value_set(deadline) if deadline is not None else sa.DEADLINE.value_unset()
        )
        workflow.upsert_search_attributes(updates)


def _plain(value: Any) -> Any:
    """Event data stays JSON-plain: datetimes as ISO strings, stored as they are."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value
