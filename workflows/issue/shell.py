"""IssueWorkflow: a thin shell around ``domain.lifecycle``.

Handlers decide: a validator checks an action against the rules, the handler applies the
transition synchronously and waits until the run loop has recorded it. The run loop alone acts:
it computes the clocks decisions wait for, writes the read model and the outbox in one ``record``,
upserts the search attributes, and waits for the next clock or decision. No handler awaits an
activity; notices leave through the outbox, so an issue never waits on a receiver.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.deliberation.models import IssueLink
    from domain.lifecycle import checks, clocks, limits, transitions
    from domain.lifecycle.deliberations import deliberation_news
    from domain.lifecycle.trail import live_deadline
    from domain.models import (
        Accept,
        Action,
        ActionResult,
        Escalate,
        ExtensionDecision,
        ExtensionRequest,
        Feedback,
        IssueStart,
        IssueState,
        MarkInvalid,
        Progress,
        Report,
        Resolve,
        ReviewInvalid,
        Supervise,
        Transfer,
        Whistle,
        Withdraw,
    )
    from workflows.common import BUSY, reject
    from workflows.issue import effects

WORKFLOW_NAME = "IssueWorkflow"
QUERY_STATE = "state"
_SHORTEST_WAIT = 0.001  # seconds: a clock already due still gets its timer


def workflow_id(issue_id: str) -> str:
    """The workflow id of an issue: one workflow per issue, so registration is idempotent."""
    return f"issue-{issue_id}"


@workflow.defn(name=WORKFLOW_NAME)
class IssueWorkflow:
    """The escalation ladder of one issue, its clocks and the human actions on it."""

    @workflow.init
    def __init__(self, start: IssueStart) -> None:
        self.s: IssueState = start.carried or IssueState(
            issue=start.issue, ladder=list(start.issue.ladder)
        )
        self._history_limit = start.history_limit
        self._decided = False  # a handler changed the state: the loop acts on it
        self._acting = False  # the loop is performing effects
        self._acted_in = -1  # the workflow task in which the loop last acted (history length)
        self._history_seen = (0, 0, False)  # (length, size, suggested) at the last wake-up
        self._waited = False  # this run has waited once: it may continue as new
        self._attributes: tuple[object, ...] | None = None

    # ---- run loop --------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: IssueStart) -> IssueState:
        """Act on what was decided, then wait for the nearest clock or a decision; until closed."""
        self._woke()
        if start.carried is None:
            transitions.register(self.s, workflow.now())
        while True:
            await self._act_on_decisions()
            if not transitions.running(self.s):
                break
            if self._continue_as_new_due():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._decided and not effects.unrecorded(self.s):
                    workflow.continue_as_new(
                        IssueStart(
                            issue=self.s.issue, carried=self.s, history_limit=self._history_limit
                        )
                    )
                continue
            due = clocks.next_due(self.s)
            try:
                await workflow.wait_condition(lambda: self._decided, timeout=self._wait_for(due))
            except TimeoutError:
                self._woke()
                assert due is not None
                # Clocks fire at the timer's own instant, whenever a worker applies it.
                clocks.fire(self.s, due)
            else:
                self._woke()
            self._waited = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s

    async def _act_on_decisions(self) -> None:
        """The effects of every decision taken so far, in order: clocks, one record, attributes."""
        self._acting = True
        while True:
            self._decided = False
            while self.s.awaiting is not None:
                await effects.compute_clock(self.s)
                self._mark_acted()
            if not effects.unrecorded(self.s):
                break
            await effects.record(self.s)
            self._mark_acted()
        attributes = effects.search_attributes(self.s)
        if attributes != self._attributes:
            effects.upsert_search_attributes(attributes)
            self._attributes = attributes
        self._acting = False

    def _wait_for(self, due: datetime | None) -> float | None:
        if due is None:
            return None
        return max((due - workflow.now()).total_seconds(), _SHORTEST_WAIT)

    def _woke(self) -> None:
        """The loop wakes (a timer, a decision): note the history as a replay sees it here."""
        info = workflow.info()
        self._history_seen = (
            info.get_current_history_length(),
            info.get_current_history_size(),
            info.is_continue_as_new_suggested(),
        )
        self._mark_acted()

    def _mark_acted(self) -> None:
        self._acted_in = workflow.info().get_current_history_length()

    def _continue_as_new_due(self) -> bool:
        """Long or large enough, read where a replay reads it too; never before the new run has
        waited once (a limit below the start's own length would otherwise loop)."""
        length, size, suggested = self._history_seen
        big = suggested or length > self._history_limit or size > limits.HISTORY_BYTES
        return self._waited and big

    # ---- the shared handler ------------------------------------------------------------------

    def _admit(self, name: str, a: Action) -> None:
        """The validator of every action: the busy guard, then the rules (nothing is written).

        Busy: while the loop acts, and once it has acted in a workflow task, an update that
        arrives is turned away (rejected updates leave no trace) and the API sends it again at
        once. A worker taking up an issue cold may hand the workflow a timer's firing first and
        an update after, where a replay applies the update first (temporalio/sdk-python#1591);
        an update admitted only before the loop acts reads the same on both.
        """
        if self._busy():
            raise reject("事项正在处理，请稍后重试", BUSY)
        if not self._seen(a):
            self._check(name, a)

    def _check(self, name: str, a: Action) -> None:
        try:
            checks.check(self.s, name, a, workflow.now())
        except checks.Rejected as refused:
            raise reject(str(refused)) from None

    async def _decide(self, name: str, a: Action) -> ActionResult:
        if self._seen(a):
            return self._result(duplicate=True)
        # Several handlers may wake together: each decides only on a settled state.
        while not self._settled():
            await workflow.wait_condition(self._settled)
        self._check(name, a)
        transitions.apply(self.s, name, a, workflow.now())
        self._decided = True
        upto = self.s.next_seq
        await workflow.wait_condition(lambda: self._settled() and self.s.recorded_seq >= upto)
        return self._result()

    def _seen(self, a: Action) -> bool:
        """True for a retried request (the validator lets it through to return the state)."""
        return bool(a.request_id) and a.request_id in self.s.applied_requests

    def _result(self, duplicate: bool = False) -> ActionResult:
        s = self.s
        return ActionResult(
            issue_id=s.issue.issue_id,
            seq=s.next_seq - 1,
            status=s.status,
            level=s.current.level,
            unit=s.unit.code,
            deadline=live_deadline(s),
            duplicate=duplicate,
        )

    # ---- updates: one per action -------------------------------------------------------------

    @workflow.update
    async def accept(self, a: Accept) -> ActionResult:
        return await self._decide("accept", a)

    @accept.validator
    def _admit_accept(self, a: Accept) -> None:
        self._admit("accept", a)

    @workflow.update
    async def progress(self, a: Progress) -> ActionResult:
        return await self._decide("progress", a)

    @progress.validator
    def _admit_progress(self, a: Progress) -> None:
        self._admit("progress", a)

    @workflow.update
    async def resolve(self, a: Resolve) -> ActionResult:
        return await self._decide("resolve", a)

    @resolve.validator
    def _admit_resolve(self, a: Resolve) -> None:
        self._admit("resolve", a)

    @workflow.update
    async def escalate(self, a: Escalate) -> ActionResult:
        return await self._decide("escalate", a)

    @escalate.validator
    def _admit_escalate(self, a: Escalate) -> None:
        self._admit("escalate", a)

    @workflow.update
    async def whistle(self, a: Whistle) -> ActionResult:
        return await self._decide("whistle", a)

    @whistle.validator
    def _admit_whistle(self, a: Whistle) -> None:
        self._admit("whistle", a)

    @workflow.update
    async def report(self, a: Report) -> ActionResult:
        return await self._decide("report", a)

    @report.validator
    def _admit_report(self, a: Report) -> None:
        self._admit("report", a)

    @workflow.update
    async def extension(self, a: ExtensionRequest) -> ActionResult:
        return await self._decide("extension", a)

    @extension.validator
    def _admit_extension(self, a: ExtensionRequest) -> None:
        self._admit("extension", a)

    @workflow.update(name="extension_decision")
    async def extension_decision(self, a: ExtensionDecision) -> ActionResult:
        return await self._decide("extension_decision", a)

    @extension_decision.validator
    def _admit_extension_decision(self, a: ExtensionDecision) -> None:
        self._admit("extension_decision", a)

    @workflow.update
    async def transfer(self, a: Transfer) -> ActionResult:
        return await self._decide("transfer", a)

    @transfer.validator
    def _admit_transfer(self, a: Transfer) -> None:
        self._admit("transfer", a)

    @workflow.update
    async def supervise(self, a: Supervise) -> ActionResult:
        return await self._decide("supervise", a)

    @supervise.validator
    def _admit_supervise(self, a: Supervise) -> None:
        self._admit("supervise", a)

    @workflow.update
    async def feedback(self, a: Feedback) -> ActionResult:
        return await self._decide("feedback", a)

    @feedback.validator
    def _admit_feedback(self, a: Feedback) -> None:
        self._admit("feedback", a)

    @workflow.update
    async def withdraw(self, a: Withdraw) -> ActionResult:
        return await self._decide("withdraw", a)

    @withdraw.validator
    def _admit_withdraw(self, a: Withdraw) -> None:
        self._admit("withdraw", a)

    @workflow.update(name="mark_invalid")
    async def mark_invalid(self, a: MarkInvalid) -> ActionResult:
        return await self._decide("mark_invalid", a)

    @mark_invalid.validator
    def _admit_mark_invalid(self, a: MarkInvalid) -> None:
        self._admit("mark_invalid", a)

    @workflow.update(name="review_invalid")
    async def review_invalid(self, a: ReviewInvalid) -> ActionResult:
        return await self._decide("review_invalid", a)

    @review_invalid.validator
    def _admit_review_invalid(self, a: ReviewInvalid) -> None:
        self._admit("review_invalid", a)

    # ---- news from a deliberation about this issue --------------------------------------------

    @workflow.signal(name="deliberation")
    async def deliberation(self, link: IssueLink) -> None:
        """A deliberation about this issue opened, went up, or decided (its run loop signals):
        decided here on a settled state like an action, acted on by the loop."""
        await workflow.wait_condition(self._settled)
        if deliberation_news(self.s, link, workflow.now()):
            self._decided = True

    # ---- registration handshake and query ----------------------------------------------------

    @workflow.update
    async def registered(self) -> ActionResult:
        """Answer once the first level is entered and in the read model: the API answers a
        registration with its clock, and the citizen may sign in with code and PIN at once."""
        await workflow.wait_condition(
            lambda: checks.registered(self.s) and self.s.recorded_seq > 1 and self._settled()
        )
        return self._result()

    @registered.validator
    def _admit_registered(self) -> None:
        if self._busy():
            raise reject("事项正在处理，请稍后重试", BUSY)

    def _busy(self) -> bool:
        """Whether the loop acts now, or already acted in this workflow task.

        A cold worker may hand over a timer's firing in one activation (with the history length
        of an older task) and a clock's or record's result together with an update in the next:
        the loop is then still acting when the update's validator runs. Either way the update
        goes again a moment later, into the next task.
        """
        return not self._settled() or self._acted_in == workflow.info().get_current_history_length()

    def _settled(self) -> bool:
        """No decision waits for its clock and the loop is not performing effects."""
        return self.s.awaiting is None and not self._acting

    @workflow.query(name=QUERY_STATE)
    def state(self) -> IssueState:
        return self.s
