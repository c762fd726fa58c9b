"""A workflow still busy after the API's patience is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import json

from starlette.requests import Request
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from api.problems import _update_failed
from workflows.common import BUSY


def test_busy_after_the_patience_is_a_503_to_send_again() -> None:
    request = Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/issues/x/accept",
            "headers": [],
            "query_string": b"",
        }
    )
    busy = WorkflowUpdateFailedError(ApplicationError("事项正在处理，请稍后重试", type=BUSY))
    answer = _update_failed(request, busy)
    assert answer.status_code == 503
    assert answer.headers["retry-after"]
    assert json.loads(answer.body)["type"].endswith("temporal-unavailable")
