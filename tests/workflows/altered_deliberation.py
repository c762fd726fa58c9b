"""A carelessly changed DeliberationWorkflow for ``test_deliberation_replay``, in a module of its
own: the workflow sandbox re-imports the module that defines a workflow class."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import domain.models  # noqa: F401 - the names the models' annotations resolve against
    from domain.deliberation.models import DeliberationStart, DeliberationState
    from workflows.deliberation import WORKFLOW_NAME, DeliberationWorkflow


@workflow.defn(name=WORKFLOW_NAME)
class WaitsBeforeOpening(DeliberationWorkflow):
    """A timer before the policy's terms, where the history has a local activity: unpatched."""

    @workflow.run
    async def run(self, start: DeliberationStart) -> DeliberationState:
        if start.carried is None:
            await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)
