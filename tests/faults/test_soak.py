"""Soak: two hundred issues on random paths while the worker is killed and restarted twice.

Each issue follows a path drawn from a seeded random generator: left alone up the whole ladder,
resolved (with satisfied, unsatisfied or no feedback), escalated on request, departments
whistled, an extension asked and granted, transferred, or withdrawn, with random pauses between
the steps, as people act. A step that the clocks overtook (the issue escalated before the
village resolved it) is refused by the workflow and the path simply stops there. Meanwhile the
only worker is killed with ``kill -9`` twice (once restarted at once, once after a pause) and
queries keep coming. At the end every issue is closed or withdrawn, or open with no clock owed
in the past; each transition happened once; and the read model agrees with every workflow.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session
from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.models import (
    Accept,
    Action,
    ActionResult,
    Actor,
    Escalate,
    ExtensionDecision,
    ExtensionRequest,
    Feedback,
    Report,
    Resolve,
    Role,
    Satisfaction,
    Status,
    Term,
    Transfer,
    Whistle,
    Withdraw,
)
from store.units_import import ladder
from tests.faults.conftest import (
    Stack,
    StackFactory,
    assert_clocks_kept,
    assert_histories_replay,
    assert_ladder_walked_once,
    assert_read_model_agrees,
    register_many,
    watched,
    withdraw_open,
)
from tests.faults.stack import eventually
from tests.workflows.conftest import TOWNSHIP, VILLAGE, clerk, leader

ISSUES = 200
# The paths' generator; bench/soak.py varies it run by run (LINKAGE_SOAK_SEED).
SEED = int(os.environ.get("LINKAGE_SOAK_SEED", "20240611"))
OTHER_VILLAGE = "611025101202"  # a village of 回龙镇, the transfer target
DEPARTMENT = "zhenan-sifa"
CITIZEN = Actor(user="citizen", role=Role.CITIZEN)
SLACK = 20.0
PATIENCE = 120.0  # seconds a step is retried while the worker is down or saturated
PATHS = (
    "alone",
    "resolve",
    "resolve_no_feedback",
    "resolve_unsatisfied",
    "escalate",
    "whistle",
    "extension",
    "transfer",
    "withdraw",
)


class Refused(Exception):
    """The workflow refused a step: the clocks moved the issue first."""


class Person:
    """Acts on one issue as the people at its current unit would."""

    def __init__(self, stack: Stack, handle: WorkflowHandle[Any, Any], rng: random.Random):
        self.stack = stack
        self.handle = handle
        self.rng = rng
        self.unit = VILLAGE
        self.steps = 0

    async def pause(self, low: float, high: float) -> None:
        await asyncio.sleep(self.rng.uniform(low, high))

    def at_unit(self) -> Actor:
        return clerk(self.unit) if len(self.unit) == 12 else leader(self.unit)

    async def act(self, update: str, make: Callable[[str], Action]) -> ActionResult:
        """One step, sent again under the same request id while the worker is down or busy."""
        self.steps += 1
        action = make(f"{self.handle.id}-{self.steps}")
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                result = await asyncio.wait_for(
                    self.stack.harness.act(self.handle, update, action), 40
                )
            except WorkflowUpdateFailedError as refused:
                raise Refused(update) from refused
            except RPCError as gone:
                if gone.status is RPCStatusCode.NOT_FOUND:  # closed meanwhile (feedback window)
                    raise Refused(update) from gone
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
                continue
            except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
                continue
            self.unit = result.unit
            return result

    async def accept(self) -> None:
        await self.act("accept", lambda rid: Accept(actor=self.at_unit(), request_id=rid))

    async def resolve(self, satisfaction: Satisfaction | None) -> None:
        await self.accept_if_pending()
        await self.pause(0, 2)
        await self.act(
            "resolve",
            lambda rid: Resolve(actor=self.at_unit(), summary="已办结", request_id=rid),
        )
        if satisfaction is None:
            return  # no feedback: the window closes the issue
        await self.pause(0, 3)
        solved = satisfaction is not Satisfaction.UNSATISFIED
        await self.act(
            "feedback",
            lambda rid: Feedback(
                actor=CITIZEN, solved=solved, satisfaction=satisfaction, request_id=rid
            ),
        )

    async def accept_if_pending(self) -> None:
        state = await self.stack.state(self.handle)
        self.unit = state.unit.code
        if state.status is Status.PENDING_ACCEPT:
            await self.accept()


async def walk(person: Person, path: str) -> None:
    """One issue's path; a refused step ends it (the clocks took over)."""
    with_feedback = {
        "resolve": Satisfaction.SATISFIED,
        "resolve_no_feedback": None,
        "resolve_unsatisfied": Satisfaction.UNSATISFIED,
    }
    p = person
    try:
        await p.pause(0, 3)
        if path == "alone":
            return
        if path == "withdraw":
            await p.pause(0, 12)
            await p.act("withdraw", lambda rid: Withdraw(actor=CITIZEN, request_id=rid))
        elif path in with_feedback:
            await p.resolve(with_feedback[path])
            if path == "resolve_unsatisfied":  # reopened at the same level: once more
                await p.pause(0, 3)
                await p.resolve(Satisfaction.BASICALLY_SATISFIED)
        elif path == "escalate":
            await p.accept()
            await p.act(
                "escalate",
                lambda rid: Escalate(actor=p.at_unit(), reason="超出村级权限", request_id=rid),
            )
            await p.pause(0, 3)
            await p.resolve(Satisfaction.SATISFIED)
        elif path == "whistle":
            await p.accept()
            await p.act(
                "whistle",
                lambda rid: Whistle(
                    actor=p.at_unit(), departments=[DEPARTMENT], reason="需部门协同", request_id=rid
                ),
            )
            if p.rng.random() < 0.5:  # else the department misses its report deadline
                await p.pause(0, 3)
                department = Actor(user="dept", role=Role.DEPARTMENT, department_code=DEPARTMENT)
                await p.act("report", lambda rid: Report(actor=department, request_id=rid))
            await p.resolve(Satisfaction.SATISFIED)
        elif path == "extension":
            await p.accept()
            await p.act(
                "extension",
                lambda rid: ExtensionRequest(
                    actor=p.at_unit(), term=Term(seconds=5), reason="需要更多时间", request_id=rid
                ),
            )
            await p.pause(0, 2)
            await p.act(
                "extension_decision",
                lambda rid: ExtensionDecision(actor=leader(TOWNSHIP), approve=True, request_id=rid),
            )
        elif path == "transfer":
            with Session(p.stack.engine) as session:
                target = ladder(session, OTHER_VILLAGE)
            await p.act(
                "transfer",
                lambda rid: Transfer(
                    actor=p.at_unit(), ladder=target, reason="属地错误", request_id=rid
                ),
            )
    except Refused:
        return


@pytest.mark.slow
@pytest.mark.timeout(360)
async def test_soak_random_paths_through_two_worker_crashes(make_stack: StackFactory) -> None:
    rng = random.Random(SEED)
    paths = [PATHS[i % len(PATHS)] for i in range(ISSUES)]
    rng.shuffle(paths)
    async with make_stack() as stack:
        began = time.monotonic()
        registering = asyncio.Semaphore(6)
        walking = asyncio.Semaphore(24)

        async def life(path: str, seed: float) -> WorkflowHandle[Any, Any]:
            """Register one issue, then walk its path at once (people act as issues arrive)."""
            async with registering:
                (handle,) = await register_many(stack, 1)
            async with walking:
                await walk(Person(stack, handle, random.Random(seed)), path)
            return handle

        async def crashes() -> None:
            await asyncio.sleep(8)
            stack.worker.kill()
            await stack.worker.restart()
            await asyncio.sleep(10)
            stack.worker.kill()
            await asyncio.sleep(3)
            await stack.worker.restart()

        seeds = [rng.random() for _ in paths]
        lives = [
            asyncio.create_task(life(path, seed)) for path, seed in zip(paths, seeds, strict=True)
        ]
        async with watched(stack, stack.harness.handles, most=12):
            await crashes()
            handles = list(await asyncio.gather(*lives))
        registered = time.monotonic() - began

        alone = [h for h, path in zip(handles, paths, strict=True) if path == "alone"]

        async def settled() -> bool:
            states = await stack.states(alone)
            return all(s.overdue for s in states)

        await eventually(settled, 180, "the issues left alone reaching the county, overdue")
        states = await stack.states(handles)
        assert_clocks_kept(states, SLACK)
        for state in states:
            assert_ladder_walked_once(state)
        outcome = Counter(
            (path, s.status.value, s.levels[-1].level)
            for path, s in zip(paths, states, strict=True)
        )
        print(f"{ISSUES} issues walked in {registered:.0f} s: {sorted(outcome.items())}")
        seen = {s.status for s in states}
        assert {Status.CLOSED, Status.WITHDRAWN} <= seen, outcome
        assert seen & {Status.PENDING_ACCEPT, Status.IN_PROGRESS}, outcome  # some left overdue

        await withdraw_open(stack, handles)
        await assert_read_model_agrees(stack, handles)
        await assert_histories_replay(stack, handles)
