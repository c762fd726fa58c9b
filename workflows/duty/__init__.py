"""The duty workflow: one run of a recurring duty that a Temporal Schedule started. ``shell``
holds the workflow class; its rules are ``domain.duties``."""

from workflows.duty.shell import (
    QUERY_STATE,
    SIGNAL_FULFILLED,
    WORKFLOW_NAME,
    DutyWorkflow,
    action_id,
)

__all__ = ["QUERY_STATE", "SIGNAL_FULFILLED", "WORKFLOW_NAME", "DutyWorkflow", "action_id"]
