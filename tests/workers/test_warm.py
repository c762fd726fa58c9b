"""A worker builds the adapters of its workflows' start types before it polls: the types are read
off the runs' signatures, so a new workflow in ``WORKFLOWS`` is warmed without a list to edit."""

from __future__ import annotations

from domain import payloads
from domain.deliberation.models import DeliberationStart
from domain.duties.models import DutyStart
from domain.models import IssueStart
from workers.main import WORKFLOWS, start_types


def test_the_start_types_are_read_off_the_workflows_and_warmed() -> None:
    types = start_types(*WORKFLOWS)
    assert types == [IssueStart, DeliberationStart, DutyStart]
    payloads.warm(*types)
    assert all(payloads._ADAPTERS[t].pydantic_complete for t in types)
