"""The issue workflow: one issue's life up the ladder village → township → county.

``shell`` holds the workflow class (handlers decide, the run loop acts); the rules, transitions
and clock plan it runs are pure functions in ``domain.lifecycle``.
"""

from workflows.issue.shell import QUERY_STATE, WORKFLOW_NAME, IssueWorkflow, workflow_id

__all__ = ["QUERY_STATE", "WORKFLOW_NAME", "IssueWorkflow", "workflow_id"]
