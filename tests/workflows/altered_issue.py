"""Variants of IssueWorkflow for ``test_replay``: one changed carelessly, one behind a patch.

They live in a module of their own, not in the test module, because the workflow sandbox
re-imports the module that defines a workflow class and should not drag pytest in with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.models import EventType, IssueStart, IssueState
    from workflows.issue import WORKFLOW_NAME, IssueWorkflow

PATCH_ID = "replay-demo-pause-before-terms"


@workflow.defn(name=WORKFLOW_NAME)
class PausesBeforeRegistering(IssueWorkflow):
    """Waits a second before loading the policy: a timer where the history has a local activity."""

    @workflow.run
    async def run(self, start: IssueStart) -> IssueState:
        if start.carried is None:
            await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


@workflow.defn(name=WORKFLOW_NAME)
class PausesBeforeRegisteringPatched(IssueWorkflow):
    """The same change behind ``workflow.patched``: runs recorded before it replay unchanged."""

    @workflow.run
    async def run(self, start: IssueStart) -> IssueState:
        if start.carried is None and workflow.patched(PATCH_ID):
            await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


@workflow.defn(name=WORKFLOW_NAME)
class ForgetsToRecordAcceptance(IssueWorkflow):
    """Deep in the run: accepting no longer writes the read model (one local activity fewer)."""

    async def _act_on_decisions(self) -> None:
        accepted = any(e.type is EventType.ACCEPTED for e in self.s.events)
        if accepted and self.s.awaiting is None:
            self.s.recorded_seq, self.s.events, self.s.outbox = self.s.next_seq, [], []
        await super()._act_on_decisions()

    @workflow.run
    async def run(self, start: IssueStart) -> IssueState:
        return await super().run(start)


@workflow.defn(name=WORKFLOW_NAME)
class ActsAtOnceWhenDue(IssueWorkflow):
    """Sets no timer for a clock already due and acts at once, at the task's own time: what the
    loop did before it became free of the task's time (see ``test_late_tasks``)."""

    def _wait_for(self, due: datetime | None) -> float | None:
        if due is None:
            return None
        return max((due - workflow.now()).total_seconds(), 0.0)

    @workflow.run
    async def run(self, start: IssueStart) -> IssueState:
        return await super().run(start)
