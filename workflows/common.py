"""What every workflow shell refuses with, in one place: the API reads these types back
(``api.problems``: a ``Rejected`` refusal naming a field is a 422, ``Busy`` is retried at once)."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

REJECTED = "Rejected"  # the rules said no: the action cannot apply to this state
BUSY = "Busy"  # the run loop is acting: the update is turned away and the API sends it again


def reject(reason: str, type_: str = REJECTED) -> ApplicationError:
    """A refusal a person can read; non-retryable because retrying cannot change the answer."""
    return ApplicationError(reason, type=type_, non_retryable=True)
