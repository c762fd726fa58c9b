"""The caps that keep one issue's live state bounded, whatever people send it.

A workflow's state travels in every query answer and every continue-as-new; Temporal refuses a
payload over 2 MB, and an issue whose state crossed it would answer nothing ever again. Texts are
capped by the API (2,000 characters); these cap how many of each an issue keeps.
"""

from __future__ import annotations

MAX_PROGRESS_NOTES = 200  # 办理进展 per issue; each lives in the read model, not in the state
MAX_TRANSFERS = 10  # 转派 per issue: a ping-pong between villages stops and goes to the parent
MAX_DEPARTMENT_CALLS = 24  # 吹哨 per issue (one call per department and whistle)
REQUEST_MEMORY = 256  # request ids remembered to apply a retried update once
HISTORY_EVENTS = 10_000  # history length before the run continues as new
HISTORY_BYTES = 4 * 1024 * 1024  # history size before the run continues as new
