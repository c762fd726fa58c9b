"""The deliberation recorder on the helpers it shares with the issue's (``activities.rows``):
idempotent under retries, never rolled back by a late snapshot, its trail appended once."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine, func
from sqlmodel import col, select

from activities.deliberation_record import write_deliberation
from domain.deliberation.models import (
    DeliberationSnapshot,
    DeliberationState,
    Opinion,
    RoundOutcome,
)
from store.db import session_scope
from store.deliberation_tables import Deliberation, DeliberationEvent, DeliberationRound
from tests.domain.conftest import START, VILLAGE
from tests.domain.deliberation_world import act, close_round, opened, staff

HOUR = timedelta(hours=1)


def _agreed() -> tuple[DeliberationState, DeliberationState]:
    """A deliberation just opened, and the same one after an opinion and a consensus."""
    first = opened()
    later = copy.deepcopy(first)
    act(later, "opinion", Opinion(actor=staff(VILLAGE), text="建议走北线"), START + HOUR)
    act(later, "close_round", close_round(staff(VILLAGE), RoundOutcome.CONSENSUS), START + 2 * HOUR)
    return first, later


def _stored(engine: Engine) -> tuple[Deliberation, list[tuple[int, str | None]], list[int]]:
    with session_scope(engine) as session:
        row = session.exec(select(Deliberation)).one()
        rounds = session.exec(
            select(DeliberationRound.number, DeliberationRound.outcome).order_by(
                col(DeliberationRound.number)
            )
        ).all()
        seqs = session.exec(select(DeliberationEvent.seq).order_by(col(DeliberationEvent.seq)))
        return row, [(number, outcome) for number, outcome in rounds], list(seqs.all())


def test_the_same_snapshot_twice_leaves_the_same_rows(db_engine: Engine) -> None:
    _, later = _agreed()
    write_deliberation(db_engine, DeliberationSnapshot(later, from_seq=1))
    once = _stored(db_engine)

    write_deliberation(db_engine, DeliberationSnapshot(later, from_seq=1))

    assert _stored(db_engine) == once
    assert once[0].last_seq == later.next_seq - 1
    assert once[2] == [e.seq for e in later.events]


def test_a_stale_snapshot_keeps_the_newer_row_and_rounds_but_adds_its_events(
    db_engine: Engine,
) -> None:
    first, later = _agreed()
    write_deliberation(db_engine, DeliberationSnapshot(later, from_seq=first.next_seq))
    newer = _stored(db_engine)

    write_deliberation(db_engine, DeliberationSnapshot(first, from_seq=1))

    row, rounds, seqs = _stored(db_engine)
    assert (row.status, row.last_seq, row.decision_text) == (
        later.status.value,
        later.next_seq - 1,
        later.decision.text if later.decision else None,
    )
    assert rounds == newer[1] == [(1, RoundOutcome.CONSENSUS.value)]
    assert seqs == [e.seq for e in later.events]


def test_event_rows_carry_the_actor_the_unit_and_the_data(db_engine: Engine) -> None:
    _, later = _agreed()
    write_deliberation(db_engine, DeliberationSnapshot(later, from_seq=1))

    with session_scope(db_engine) as session:
        rows = session.exec(select(DeliberationEvent).order_by(col(DeliberationEvent.seq))).all()
        count = session.exec(select(func.count()).select_from(DeliberationEvent)).one()
    assert count == len(later.events)
    for row, e in zip(rows, later.events, strict=True):
        assert (row.type, row.at, row.unit_code) == (e.type.value, e.at, e.unit)
        assert (row.actor_user, row.actor_role, row.actor_unit) == (
            e.actor.user,
            e.actor.role.value,
            e.actor.unit_code,
        )
        assert row.data == e.data  # the trail already holds it JSON-plain


def test_overlapping_first_attempts_all_succeed(db_engine: Engine) -> None:
    """A timed-out attempt may still run when Temporal starts the next: on PostgreSQL two first
    inserts would race, and the loser fail on the idempotency key's unique index (ON CONFLICT (id)
    does not arbitrate it) but for the recorder's lock on the row's id."""
    _, later = _agreed()
    later.d.idempotency_key = "clerk\nkey-1"
    snapshot = DeliberationSnapshot(later, from_seq=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for done in [pool.submit(write_deliberation, db_engine, snapshot) for _ in range(8)]:
            done.result()
    row, rounds, seqs = _stored(db_engine)
    assert row.last_seq == later.next_seq - 1 and len(rounds) == 1
    assert seqs == [e.seq for e in later.events]
