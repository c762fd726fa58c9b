"""Fixtures shared by the end-to-end tests; ``stack.py`` drives ``linkage up`` itself."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # trust_env=False: a proxy configured for the machine must not see requests to 127.0.0.1.
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client
