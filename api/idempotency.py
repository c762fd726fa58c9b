"""An ``Idempotency-Key`` names one request: the same key with another body is refused.

The fingerprint of a registration (the sha256 of its validated body as canonical JSON) travels
with the issue into the workflow's input and the read model's row, beside the key. A retry with
the key compares its own fingerprint with whichever of the two it finds first: every field
counts, so a changed urgency or reporter is never silently dropped for the first issue.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel

from api.problems import ProblemError, invalid

KEY_FIELD = "Idempotency-Key"


def fingerprint(body: BaseModel) -> str:
    """The sha256 (hex) of a validated body: defaults filled in, whitespace stripped, keys sorted,
    so two requests that mean the same thing have the same fingerprint."""
    canonical = json.dumps(
        body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_reused() -> ProblemError:
    return invalid(KEY_FIELD, "该 Idempotency-Key 已用于另一项登记（请求内容不同）")


def check_same(kept: str | None, offered: str | None) -> None:
    """Refuse a retry whose body differs from the first request's.

    ``kept`` is None for an issue registered before fingerprints were kept: nothing to compare.

    Raises:
        ProblemError: 422 naming ``Idempotency-Key``.
    """
    if kept is not None and offered is not None and kept != offered:
        raise key_reused()
