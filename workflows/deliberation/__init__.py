"""The deliberation workflow: one consultation's rounds, outcomes, leadership decision and
implementation clock. ``shell`` holds the workflow class; its rules are ``domain.deliberation``."""

from workflows.deliberation.shell import (
    QUERY_STATE,
    WORKFLOW_NAME,
    DeliberationWorkflow,
    workflow_id,
)

__all__ = ["QUERY_STATE", "WORKFLOW_NAME", "DeliberationWorkflow", "workflow_id"]
