"""The one workflow pattern (DESIGN.md, "One workflow pattern for every workflow"), once.

Handlers decide: a validator checks an action against the rules, the handler applies the
transition synchronously and waits until the run loop has recorded it. The run loop alone acts:
it computes the clocks decisions wait for, writes the read model and the outbox in one record,
upserts the search attributes, and waits for the next clock or decision. No handler awaits an
activity; notices leave through the outbox, so nothing waits on a receiver.

A workflow (the issue's, a deliberation's) subclasses ``Shell`` and names its rules and effects
in the hooks at the end; its ``@workflow.run`` calls ``_loop`` and its updates call ``_decide``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.lifecycle import limits
    from domain.lifecycle.checks import Rejected
    from domain.models import Action
    from workflows import effects as shared
    from workflows.common import BUSY, reject

_SHORTEST_WAIT = 0.001  # seconds: a clock already due still gets its timer


def wait_seconds(due: datetime | None) -> float | None:
    """How long a run loop waits for ``due`` (None: for a decision only)."""
    if due is None:
        return None
    return max((due - workflow.now()).total_seconds(), _SHORTEST_WAIT)


class Decidable(shared.Recorded, Protocol):
    """What a state must hold for the pattern: besides what its record takes, the clock a
    decision waits for and the request ids already applied."""

    awaiting: Any
    applied_requests: list[str]


StateT = TypeVar("StateT", bound=Decidable)
ResultT = TypeVar("ResultT")


class Shell(Generic[StateT, ResultT]):
    """The run loop and the shared handler of a workflow on the one pattern."""

    BUSY_TEXT: ClassVar[str]  # the refusal a person reads while the loop acts
    s: StateT

    def _setup(self, state: StateT, history_limit: int) -> None:
        self.s = state
        self._history_limit = history_limit
        self._decided = False  # a handler changed the state: the loop acts on it
        self._acting = False  # the loop is performing effects
        self._acted_in = -1  # the workflow task in which the loop last acted (history length)
        self._history_seen = (0, 0, False)  # (length, size, suggested) at the last wake-up
        self._waited = False  # this run has waited once: it may continue as new
        self._attributes: tuple[object, ...] | None = None

    # ---- run loop --------------------------------------------------------------------------

    async def _loop(self, fresh: bool) -> StateT:
        """Act on what was decided, then wait for the nearest clock or a decision; until over."""
        self._woke()
        if fresh:
            self._begin()
        while True:
            await self._act_on_decisions()
            if not self._live():
                break
            if self._continue_as_new_due():
                await workflow.wait_condition(workflow.all_handlers_finished)
                carried = self._carried()
                if not self._decided and not self._unrecorded() and carried is not None:
                    workflow.continue_as_new(carried)
                continue
            due = self._next_due()
            try:
                await workflow.wait_condition(lambda: self._decided, timeout=self._wait_for(due))
            except TimeoutError:
                self._woke()
                assert due is not None
                # Clocks fire at the timer's own instant, whenever a worker applies it.
                self._fire(due)
            else:
                self._woke()
            self._waited = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s

    async def _act_on_decisions(self) -> None:
        """The effects of every decision taken so far, in order: clocks, one record, what follows
        a record, attributes."""
        self._acting = True
        while True:
            self._decided = False
            while self.s.awaiting is not None:
                await self._compute_clock()
                self._mark_acted()
            if not self._unrecorded():
                break
            await self._record()
            self._mark_acted()
        if await self._after_record():
            self._mark_acted()
        attributes = self._search_attributes()
        if attributes != self._attributes:
            self._upsert_search_attributes(attributes)
            self._attributes = attributes
        self._acting = False

    def _wait_for(self, due: datetime | None) -> float | None:
        return wait_seconds(due)

    def _woke(self) -> None:
        """The loop wakes (a timer, a decision): note the history as a replay sees it here."""
        info = workflow.info()
        self._history_seen = (
            info.get_current_history_length(),
            info.get_current_history_size(),
            info.is_continue_as_new_suggested(),
        )
        self._mark_acted()

    def _mark_acted(self) -> None:
        self._acted_in = workflow.info().get_current_history_length()

    def _continue_as_new_due(self) -> bool:
        """Long or large enough, read where a replay reads it too; never before the new run has
        waited once (a limit below the start's own length would otherwise loop)."""
        length, size, suggested = self._history_seen
        big = suggested or length > self._history_limit or size > limits.HISTORY_BYTES
        return self._waited and big

    # ---- the shared handler ------------------------------------------------------------------

    def _admit(self, name: str, a: Action) -> None:
        """The validator of every action: the busy guard, then the rules (nothing is written).

        Busy: while the loop acts, and once it has acted in a workflow task, an update that
        arrives is turned away (rejected updates leave no trace) and the API sends it again at
        once. A worker taking up a workflow cold may hand it a timer's firing first and an update
        after, where a replay applies the update first (temporalio/sdk-python#1591); an update
        admitted only before the loop acts reads the same on both.
        """
        self._refuse_if_busy()
        if not self._seen(a):
            self._check(name, a)

    def _refuse_if_busy(self) -> None:
        if self._busy():
            raise reject(self.BUSY_TEXT, BUSY)

    def _check(self, name: str, a: Action) -> None:
        try:
            self._check_rules(name, a)
        except Rejected as refused:
            raise reject(str(refused)) from None

    async def _decide(self, name: str, a: Action) -> ResultT:
        if self._seen(a):
            return self._result(duplicate=True)
        # Several handlers may wake together: each decides only on a settled state.
        while not self._settled():
            await workflow.wait_condition(self._settled)
        self._check(name, a)
        self._apply(name, a)
        self._decided = True
        upto = self.s.next_seq
        await workflow.wait_condition(lambda: self._settled() and self.s.recorded_seq >= upto)
        return self._result()

    def _seen(self, a: Action) -> bool:
        """True for a retried request (the validator lets it through to return the state)."""
        return bool(a.request_id) and a.request_id in self.s.applied_requests

    def _busy(self) -> bool:
        """Whether the loop acts now, or already acted in this workflow task.

        A cold worker may hand over a timer's firing in one activation (with the history length
        of an older task) and a clock's or record's result together with an update in the next:
        the loop is then still acting when the update's validator runs. Either way the update
        goes again a moment later, into the next task.
        """
        return not self._settled() or self._acted_in == workflow.info().get_current_history_length()

    def _settled(self) -> bool:
        """No decision waits for its clock and the loop is not performing effects."""
        return self.s.awaiting is None and not self._acting

    # ---- what each workflow names: its rules and its effects -----------------------------------

    def _begin(self) -> None:
        """The first transition of a fresh run (not of one continued as new)."""
        raise NotImplementedError

    def _live(self) -> bool:
        raise NotImplementedError

    def _next_due(self) -> datetime | None:
        raise NotImplementedError

    def _fire(self, due: datetime) -> None:
        raise NotImplementedError

    def _carried(self) -> Any | None:
        """The start of the run this one continues as, or None while it may not yet."""
        raise NotImplementedError

    def _check_rules(self, name: str, a: Action) -> None:
        """Raise ``Rejected`` if the rules refuse ``a`` now."""
        raise NotImplementedError

    def _apply(self, name: str, a: Action) -> None:
        raise NotImplementedError

    def _result(self, duplicate: bool = False) -> ResultT:
        raise NotImplementedError

    async def _compute_clock(self) -> None:
        raise NotImplementedError

    def _unrecorded(self) -> bool:
        return shared.unrecorded(self.s)

    async def _record(self) -> None:
        raise NotImplementedError

    async def _after_record(self) -> bool:
        """What follows a record (a deliberation tells its issue); True if it acted."""
        return False

    def _search_attributes(self) -> tuple[object, ...]:
        raise NotImplementedError

    def _upsert_search_attributes(self, values: tuple[object, ...]) -> None:
        raise NotImplementedError
