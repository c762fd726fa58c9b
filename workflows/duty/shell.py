"""DutyWorkflow: a thin shell around ``domain.duties.rules``, on the issue's one pattern.

The one handler (the unit's fulfilment, a signal) only decides: it waits until the run loop is
settled, applies the rule synchronously and wakes the loop. The run loop alone acts: what a step
asks for (the calendar, the read model, the schedule's state, a council's deliberation), one
``record_duty`` writing the read model and the outbox, then the next instant to wait for.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from domain.duties import rules
    from domain.duties.models import DutyStart, DutyState, Fulfilment
    from workflows import effects as common_effects
    from workflows.duty import effects
    from workflows.shell import wait_seconds

WORKFLOW_NAME = "DutyWorkflow"
QUERY_STATE = "state"
SIGNAL_FULFILLED = "fulfilled"
# Set by Temporal on every run a schedule starts: the nominal instant, also for a backfill.
SCHEDULED_AT = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


def action_id(schedule_id: str) -> str:
    """The workflow id a schedule gives its runs (Temporal appends the nominal instant)."""
    return f"duty-{schedule_id}"


@workflow.defn(name=WORKFLOW_NAME)
class DutyWorkflow:
    """One run of one unit's duty: plan, wait for the working-day instant, act, remind."""

    @workflow.init
    def __init__(self, start: DutyStart) -> None:
        self.s = DutyState(start=start, duty_id=workflow.info().workflow_id)
        self._decided = False
        self._acting = False

    @workflow.run
    async def run(self, start: DutyStart) -> DutyState:
        rules.begin(self.s, start.nominal or self._scheduled_at())
        while True:
            await self._act_on_decisions()
            if not self.s.live:
                break
            due = rules.next_due(self.s)
            try:
                await workflow.wait_condition(lambda: self._decided, timeout=wait_seconds(due))
            except TimeoutError:
                rules.fire(self.s, workflow.now())
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s

    async def _act_on_decisions(self) -> None:
        self._acting = True
        self._decided = False
        while True:
            while self.s.awaiting is not None:
                await effects.perform(self.s)
            if not common_effects.unrecorded(self.s):
                break
            await effects.record(self.s)
        self._acting = False

    def _scheduled_at(self) -> datetime:
        scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_AT)
        return scheduled or workflow.now()

    def _settled(self) -> bool:
        return self.s.awaiting is None and not self._acting

    # ---- the unit's word, and the query ----------------------------------------------------

    @workflow.signal(name=SIGNAL_FULFILLED)
    async def fulfilled(self, f: Fulfilment) -> None:
        """The unit published or checked in: decided here, recorded by the run loop."""
        await workflow.wait_condition(self._settled)
        try:
            rules.fulfil(self.s, f)
        except rules.NotNow as why:
            # A signal cannot be refused; one that comes too late changes nothing.
            workflow.logger.info("fulfilment ignored: %s", why)
            return
        self._decided = True

    @workflow.query(name=QUERY_STATE)
    def state(self) -> DutyState:
        return self.s
