"""A carelessly changed DutyWorkflow for ``test_duty_replay``, in a module of its own: the
workflow sandbox re-imports the module that defines a workflow class."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import domain.models  # noqa: F401 - the names the models' annotations resolve against
    from domain.duties.models import DutyStart, DutyState
    from workflows.duty import WORKFLOW_NAME, DutyWorkflow


@workflow.defn(name=WORKFLOW_NAME)
class WaitsBeforePlanning(DutyWorkflow):
    """A timer before the calendar is asked, where the history has a local activity: unpatched."""

    @workflow.run
    async def run(self, start: DutyStart) -> DutyState:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)
