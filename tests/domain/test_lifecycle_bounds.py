"""The live state stays small whatever people send an issue (issue 14, item 1).

Temporal refuses a payload over 2 MB, and an issue whose state crossed it would answer no query
and take no action again. The workflow keeps its state bounded: the record writes the events and
notices to the read model and drops them (``record`` here does the same after every step), and
every other list has a cap. Sizes are measured in Temporal's own JSON (``payload_size``), where a
Chinese character costs 6 bytes.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from domain.lifecycle import limits
from domain.lifecycle.checks import Rejected
from domain.models import (
    Action,
    Actor,
    Event,
    Feedback,
    IssueState,
    Reporter,
    Satisfaction,
    Status,
    Transfer,
    UnitKind,
    UnitRef,
)
from tests.domain.conftest import (
    CITIZEN,
    COUNTY,
    DEPARTMENTS,
    HOUR,
    START,
    TOWNSHIP,
    VILLAGE,
    accepted,
    act,
    action,
    clerk,
    department,
    leader,
    payload_size,
    record,
    registered,
)

BUDGET = 512 * 1024  # what the live state may take: a quarter of Temporal's limit
TEMPORAL_LIMIT = 2 * 1024 * 1024
LONG = "办" * 2000  # the API's longest text
NOW = START + 2 * HOUR
# Communities and villages of 永乐街道, for an issue passed around the township.
YONGLE = [
    UnitRef(code, name, UnitKind.VILLAGE)
    for code, name in [
        ("611025001001", "新城社区居委会"),
        ("611025001002", "镇城社区居委会"),
        ("611025001003", "青槐社区居委会"),
        ("611025001004", "青河社区居委会"),
        ("611025001005", "王家坪社区居委会"),
        ("611025001006", "北城社区居委会"),
        ("611025001007", "太坪社区"),
        ("611025001200", "安山村委会"),
        ("611025001201", "山海村委会"),
        ("611025001202", "金花村委会"),
        ("611025001203", "中合村委会"),
    ]
]
TURNED_DOWN = Feedback(
    actor=CITIZEN, solved=False, satisfaction=Satisfaction.UNSATISFIED, comment=LONG
)


def staff(s: IssueState) -> Actor:
    return clerk(s.unit) if s.unit.kind is UnitKind.VILLAGE else leader(s.unit)


def step(s: IssueState, name: str, a: Action, trail: list[Event]) -> int:
    """Apply an action as the workflow would and measure the state it holds before its record
    (the step's own events still in it); then record. ``trail`` keeps what the record wrote."""
    act(s, name, a, NOW)
    size = payload_size(s)
    trail.extend(s.events)
    record(s)
    return size


def test_the_most_notes_of_the_longest_text_leave_the_state_small_and_the_issue_closes() -> None:
    s = accepted()
    record(s)
    trail: list[Event] = []
    sizes = []
    for n in range(limits.MAX_PROGRESS_NOTES):
        note = action("progress", clerk(VILLAGE), note=LONG, request_id=f"{n:032x}")
        sizes.append(step(s, "progress", note, trail))
    assert max(sizes) < BUDGET, f"the live state reached {max(sizes)} bytes"
    assert len(s.applied_requests) == limits.MAX_PROGRESS_NOTES
    # What the bounding saves: carried in the state, a trail of twice the cap's notes (UTF-8, three
    # bytes a character) would pass Temporal's limit; without a cap nothing stops at twice.
    assert payload_size(replace(s, events=trail * 2)) > TEMPORAL_LIMIT
    with pytest.raises(Rejected) as refused:
        act(s, "progress", action("progress", clerk(VILLAGE), note=LONG), NOW)
    assert refused.value.field == "note"
    sizes.append(step(s, "resolve", action("resolve", clerk(VILLAGE), summary=LONG), trail))
    rating = Feedback(actor=CITIZEN, satisfaction=Satisfaction.SATISFIED, comment=LONG)
    sizes.append(step(s, "feedback", rating, trail))
    assert s.status is Status.CLOSED and max(sizes) < BUDGET


def everything_at_its_cap() -> tuple[IssueState, int]:
    """Every list the state keeps at its cap, every text at its longest: 30 department calls
    with contributions; ten transfers, each village resolving and turned down once; then the
    township and the county, each turned down twice. The largest size it held, and the state."""
    s = registered(
        title="题" * 200,
        description="述" * 5000,
        location="址" * 500,
        attachments=["https://example.org/" + "a" * 200] * 20,
        reporter=Reporter(name="名" * 50, phone="13800000000"),
    )
    trail: list[Event] = []
    sizes = [payload_size(s)]
    record(s)
    sizes.append(step(s, "accept", action("accept", clerk(VILLAGE)), trail))
    codes = list(DEPARTMENTS)
    while len(s.departments) + len(codes) <= limits.MAX_DEPARTMENT_CALLS:
        whistle = action("whistle", clerk(VILLAGE), departments=codes, reason=LONG)
        sizes.append(step(s, "whistle", whistle, trail))
        for code in codes:
            report = action("report", department(code), contribution=LONG)
            sizes.append(step(s, "report", report, trail))
    for here, there in itertools.pairwise(YONGLE):
        sizes.append(step(s, "resolve", action("resolve", clerk(here), summary=LONG), trail))
        sizes.append(step(s, "feedback", TURNED_DOWN, trail))  # reopened here
        move = Transfer(actor=clerk(here), ladder=[there, TOWNSHIP, COUNTY], reason=LONG)
        sizes.append(step(s, "transfer", move, trail))
        sizes.append(step(s, "accept", action("accept", clerk(there)), trail))
    for _ in range(6):  # at most twice at each of the last village, the township, the county
        if s.status is Status.CLOSED:
            break
        sizes.append(step(s, "resolve", action("resolve", staff(s), summary=LONG), trail))
        sizes.append(step(s, "feedback", TURNED_DOWN, trail))
        if s.status is Status.PENDING_ACCEPT:
            sizes.append(step(s, "accept", action("accept", staff(s)), trail))
    assert s.status is Status.CLOSED and s.transfers == limits.MAX_TRANSFERS
    assert len(s.departments) == limits.MAX_DEPARTMENT_CALLS
    assert [lv.unit for lv in s.levels[-4:]] == [TOWNSHIP, TOWNSHIP, COUNTY, COUNTY]
    return s, max(sizes)


def test_every_list_at_its_cap_stays_well_under_temporals_limit() -> None:
    s, largest = everything_at_its_cap()
    assert len(s.feedback_history) == len(YONGLE) + 5  # one per village, two per level above
    assert largest < TEMPORAL_LIMIT / 2, f"the live state reached {largest} bytes"


def test_every_list_at_its_cap_stays_within_the_budget() -> None:
    _, largest = everything_at_its_cap()
    assert largest < BUDGET, f"the live state reached {largest} bytes"
