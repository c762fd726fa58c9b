"""Sending an update to an issue's workflow, again at once when the workflow was busy.

An issue's workflow turns an update away as ``Busy`` when it arrives in a workflow task in which
the run loop has already acted (see ``workflows.issue.shell``: that keeps a cold worker's
histories replayable). Nothing was written; the same update goes again a moment later, within a
bound, and lands in the next task.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from workflows.common import BUSY

T = TypeVar("T")
PATIENCE_SECONDS = 10.0
_FIRST_PAUSE, _LONGEST_PAUSE = 0.01, 0.5


def busy(exc: BaseException) -> bool:
    cause = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else None
    return isinstance(cause, ApplicationError) and cause.type == BUSY


async def admitted(send: Callable[[], Awaitable[T]], patience: float = PATIENCE_SECONDS) -> T:
    """``await send()``, sent again while the workflow answers ``Busy`` (at most ``patience``)."""
    give_up = time.monotonic() + patience
    pause = _FIRST_PAUSE
    while True:
        try:
            return await send()
        except WorkflowUpdateFailedError as exc:
            if not busy(exc) or time.monotonic() + pause > give_up:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)
