"""Variants of IssueWorkflow for ``test_replay``: one changed carelessly, one behind a patch.

They live in a module of their own, not in the test module, because the workflow sandbox
re-imports the module that defines a workflow class and should not drag pytest in with it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.models import Accept, IssueStart, IssueState
    from workflows.issue import WORKFLOW_NAME, IssueWorkflow

PATCH_ID = "replay-demo-pause-before-terms"


@workflow.defn(name=WORKFLOW_NAME)
class PausesBeforeRegistering(IssueWorkflow):
    """Waits a second before loading the policy: a timer where the history has an activity."""

    @workflow.run
    async def run(self, start: IssueStart) -> IssueState:
        return await super().run(start)

    async def _register(self) -> None:
        await workflow.sleep(timedelta(seconds=1))
        await super()._register()


@workflow.defn(name=WORKFLOW_NAME)
class PausesBeforeRegisteringPatched(IssueWorkflow):
    """The same change behind ``workflow.patched``: runs recorded before it replay unchanged."""

    @workflow.run
    async def run(self, start: IssueStart) -> IssueState:
        return await super().run(start)

    async def _register(self) -> None:
        if workflow.patched(PATCH_ID):
            await workflow.sleep(timedelta(seconds=1))
        await super()._register()


@workflow.defn(name=WORKFLOW_NAME)
class ForgetsToRecordAcceptance(IssueWorkflow):
    """Deep in the run: accepting no longer writes the read model (one activity fewer)."""

    _skip_next_record = False

    @workflow.run
    async def run(self, start: IssueStart) -> IssueState:
        return await super().run(start)

    async def _do_accept(self, a: Accept) -> None:
        self._skip_next_record = True
        await super()._do_accept(a)

    async def _record(self) -> None:
        if self._skip_next_record:
            self._skip_next_record = False
            return
        await super()._record()
