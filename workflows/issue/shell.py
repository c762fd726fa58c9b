"""IssueWorkflow: a thin shell around ``domain.lifecycle``, on the one pattern
(``workflows.shell``): its updates decide through the shared handler, its run loop is the shared
loop, and the hooks here name the issue's rules and effects.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.deliberation.models import IssueLink
    from domain.lifecycle import checks, clocks, transitions
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
    from workflows.issue import effects
    from workflows.shell import Shell

WORKFLOW_NAME = "IssueWorkflow"
QUERY_STATE = "state"


def workflow_id(issue_id: str) -> str:
    """The workflow id of an issue: one workflow per issue, so registration is idempotent."""
    return f"issue-{issue_id}"


@workflow.defn(name=WORKFLOW_NAME)
class IssueWorkflow(Shell[IssueState, ActionResult]):
    """The escalation ladder of one issue, its clocks and the human actions on it."""

    BUSY_TEXT = "事项正在处理，请稍后重试"

    @workflow.init
    def __init__(self, start: IssueStart) -> None:
        self._setup(
            start.carried or IssueState(issue=start.issue, ladder=list(start.issue.ladder)),
            start.history_limit,
        )

    @workflow.run
    async def run(self, start: IssueStart) -> IssueState:
        return await self._loop(fresh=start.carried is None)

    # ---- the rules and effects of an issue ---------------------------------------------------

    def _begin(self) -> None:
        transitions.register(self.s, workflow.now())

    def _live(self) -> bool:
        return transitions.running(self.s)

    def _next_due(self) -> datetime | None:
        return clocks.next_due(self.s)

    def _fire(self, due: datetime) -> None:
        clocks.fire(self.s, due)

    def _carried(self) -> IssueStart:
        return IssueStart(issue=self.s.issue, carried=self.s, history_limit=self._history_limit)

    def _check_rules(self, name: str, a: Action) -> None:
        checks.check(self.s, name, a, workflow.now())

    def _apply(self, name: str, a: Action) -> None:
        transitions.apply(self.s, name, a, workflow.now())

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

    async def _compute_clock(self) -> None:
        await effects.compute_clock(self.s)

    async def _record(self) -> None:
        await effects.record(self.s)

    def _search_attributes(self) -> tuple[object, ...]:
        return effects.search_attributes(self.s)

    def _upsert_search_attributes(self, values: tuple[object, ...]) -> None:
        effects.upsert_search_attributes(values)

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
        self._refuse_if_busy()

    @workflow.query(name=QUERY_STATE)
    def state(self) -> IssueState:
        return self.s
