"""DeliberationWorkflow: a thin shell around ``domain.deliberation``, on the one pattern
(``workflows.shell``). Its run loop also tells a linked issue what happened, after each record.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.deliberation import checks, clocks, transitions
    from domain.deliberation.models import (
        LIVE_STATUSES,
        Ballot,
        CloseRound,
        Complete,
        Decide,
        DeliberationResult,
        DeliberationStart,
        DeliberationState,
        DWithdraw,
        Evaluate,
        Opinion,
        ReportProgress,
    )
    from domain.deliberation.trail import live_deadline
    from domain.models import Action
    from workflows.deliberation import effects
    from workflows.shell import Shell

WORKFLOW_NAME = "DeliberationWorkflow"
QUERY_STATE = "state"


def workflow_id(deliberation_id: str) -> str:
    return f"deliberation-{deliberation_id}"


@workflow.defn(name=WORKFLOW_NAME)
class DeliberationWorkflow(Shell[DeliberationState, DeliberationResult]):
    """One deliberation: its rounds at each unit, the leadership's decision, the implementation."""

    BUSY_TEXT = "议事正在处理，请稍后重试"

    @workflow.init
    def __init__(self, start: DeliberationStart) -> None:
        self._setup(
            start.carried or DeliberationState(d=start.d, ladder=list(start.d.ladder)),
            start.history_limit,
        )

    @workflow.run
    async def run(self, start: DeliberationStart) -> DeliberationState:
        return await self._loop(fresh=start.carried is None)

    # ---- the rules and effects of a deliberation ---------------------------------------------

    def _begin(self) -> None:
        transitions.open_deliberation(self.s, workflow.now())

    def _live(self) -> bool:
        return self.s.status in LIVE_STATUSES

    def _next_due(self) -> datetime | None:
        return clocks.next_due(self.s)

    def _fire(self, due: datetime) -> None:
        clocks.fire(self.s, due)

    def _carried(self) -> DeliberationStart | None:
        if self.s.links:
            return None  # the issue hears of everything first: links are not carried over
        return DeliberationStart(d=self.s.d, carried=self.s, history_limit=self._history_limit)

    def _check_rules(self, name: str, a: Action) -> None:
        checks.check(self.s, name, a, workflow.now())

    def _apply(self, name: str, a: Action) -> None:
        transitions.apply(self.s, name, a, workflow.now())

    def _result(self, duplicate: bool = False) -> DeliberationResult:
        s = self.s
        return DeliberationResult(
            deliberation_id=s.d.deliberation_id,
            seq=s.next_seq - 1,
            status=s.status,
            unit=s.unit.code,
            round=len(s.rounds),
            deadline=live_deadline(s),
            duplicate=duplicate,
        )

    async def _compute_clock(self) -> None:
        await effects.compute_clock(self.s)

    async def _record(self) -> None:
        await effects.record(self.s)

    async def _after_record(self) -> bool:
        if not self.s.links:
            return False
        await effects.tell_issue(self.s)
        return True

    def _search_attributes(self) -> tuple[object, ...]:
        return effects.search_attributes(self.s)

    def _upsert_search_attributes(self, values: tuple[object, ...]) -> None:
        effects.upsert_search_attributes(values)

    # ---- updates: one per action -------------------------------------------------------------

    @workflow.update
    async def opinion(self, a: Opinion) -> DeliberationResult:
        return await self._decide("opinion", a)

    @opinion.validator
    def _admit_opinion(self, a: Opinion) -> None:
        self._admit("opinion", a)

    @workflow.update
    async def ballot(self, a: Ballot) -> DeliberationResult:
        return await self._decide("ballot", a)

    @ballot.validator
    def _admit_ballot(self, a: Ballot) -> None:
        self._admit("ballot", a)

    @workflow.update
    async def close_round(self, a: CloseRound) -> DeliberationResult:
        return await self._decide("close_round", a)

    @close_round.validator
    def _admit_close_round(self, a: CloseRound) -> None:
        self._admit("close_round", a)

    @workflow.update
    async def decide(self, a: Decide) -> DeliberationResult:
        return await self._decide("decide", a)

    @decide.validator
    def _admit_decide(self, a: Decide) -> None:
        self._admit("decide", a)

    @workflow.update
    async def progress(self, a: ReportProgress) -> DeliberationResult:
        return await self._decide("progress", a)

    @progress.validator
    def _admit_progress(self, a: ReportProgress) -> None:
        self._admit("progress", a)

    @workflow.update
    async def complete(self, a: Complete) -> DeliberationResult:
        return await self._decide("complete", a)

    @complete.validator
    def _admit_complete(self, a: Complete) -> None:
        self._admit("complete", a)

    @workflow.update
    async def evaluate(self, a: Evaluate) -> DeliberationResult:
        return await self._decide("evaluate", a)

    @evaluate.validator
    def _admit_evaluate(self, a: Evaluate) -> None:
        self._admit("evaluate", a)

    @workflow.update
    async def withdraw(self, a: DWithdraw) -> DeliberationResult:
        return await self._decide("withdraw", a)

    @withdraw.validator
    def _admit_withdraw(self, a: DWithdraw) -> None:
        self._admit("withdraw", a)

    # ---- opening handshake and query ---------------------------------------------------------

    @workflow.update
    async def opened(self) -> DeliberationResult:
        """Answer once the first round is open and recorded: the API answers with its deadline."""
        await workflow.wait_condition(
            lambda: checks.opened(self.s) and self.s.recorded_seq > 2 and self._settled()
        )
        return self._result()

    @opened.validator
    def _admit_opened(self) -> None:
        self._refuse_if_busy()

    @workflow.query(name=QUERY_STATE)
    def state(self) -> DeliberationState:
        return self.s
