"""DeliberationWorkflow: a thin shell around ``domain.deliberation``, on the issue's one pattern.

Handlers decide: a validator checks an action against the pure rules, the handler applies the
transition synchronously and waits until the run loop has recorded it. The run loop alone acts:
the clocks decisions wait for (local activities), one ``record_deliberation`` writing the read
model and the outbox, the signals to a linked issue, the search attributes, then the next clock.
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
    from domain.lifecycle import limits
    from domain.lifecycle.checks import Rejected
    from domain.models import Action
    from workflows.common import BUSY, reject
    from workflows.deliberation import effects

WORKFLOW_NAME = "DeliberationWorkflow"
QUERY_STATE = "state"
_SHORTEST_WAIT = 0.001


def workflow_id(deliberation_id: str) -> str:
    return f"deliberation-{deliberation_id}"


@workflow.defn(name=WORKFLOW_NAME)
class DeliberationWorkflow:
    """One deliberation: its rounds at each unit, the leadership's decision, the implementation."""

    @workflow.init
    def __init__(self, start: DeliberationStart) -> None:
        self.s: DeliberationState = start.carried or DeliberationState(
            d=start.d, ladder=list(start.d.ladder)
        )
        self._history_limit = start.history_limit
        self._decided = False
        self._acting = False
        self._acted_in = -1
        self._history_seen = (0, 0, False)
        self._waited = False
        self._attributes: tuple[object, ...] | None = None

    # ---- run loop --------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: DeliberationStart) -> DeliberationState:
        self._woke()
        if start.carried is None:
            transitions.open_deliberation(self.s, workflow.now())
        while True:
            await self._act_on_decisions()
            if self.s.status not in LIVE_STATUSES:
                break
            if self._continue_as_new_due():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._decided and not effects.unrecorded(self.s) and not self.s.links:
                    workflow.continue_as_new(
                        DeliberationStart(
                            d=self.s.d, carried=self.s, history_limit=self._history_limit
                        )
                    )
                continue
            due = clocks.next_due(self.s)
            try:
                await workflow.wait_condition(lambda: self._decided, timeout=self._wait_for(due))
            except TimeoutError:
                self._woke()
                assert due is not None
                clocks.fire(self.s, due)
            else:
                self._woke()
            self._waited = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s

    async def _act_on_decisions(self) -> None:
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
        if self.s.links:
            await effects.tell_issue(self.s)
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
        length, size, suggested = self._history_seen
        big = suggested or length > self._history_limit or size > limits.HISTORY_BYTES
        return self._waited and big

    # ---- the shared handler (the issue shell's, for the same reasons) ------------------------

    def _admit(self, name: str, a: Action) -> None:
        if self._busy():
            raise reject("议事正在处理，请稍后重试", BUSY)
        if not self._seen(a):
            self._check(name, a)

    def _check(self, name: str, a: Action) -> None:
        try:
            checks.check(self.s, name, a, workflow.now())
        except Rejected as refused:
            raise reject(str(refused)) from None

    async def _decide(self, name: str, a: Action) -> DeliberationResult:
        if self._seen(a):
            return self._result(duplicate=True)
        while not self._settled():
            await workflow.wait_condition(self._settled)
        self._check(name, a)
        transitions.apply(self.s, name, a, workflow.now())
        self._decided = True
        upto = self.s.next_seq
        await workflow.wait_condition(lambda: self._settled() and self.s.recorded_seq >= upto)
        return self._result()

    def _seen(self, a: Action) -> bool:
        return bool(a.request_id) and a.request_id in self.s.applied_requests

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

    def _busy(self) -> bool:
        return not self._settled() or self._acted_in == workflow.info().get_current_history_length()

    def _settled(self) -> bool:
        return self.s.awaiting is None and not self._acting

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
        if self._busy():
            raise reject("议事正在处理，请稍后重试", BUSY)

    @workflow.query(name=QUERY_STATE)
    def state(self) -> DeliberationState:
        return self.s
