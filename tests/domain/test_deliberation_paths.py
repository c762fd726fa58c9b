"""Every path of a deliberation on the pure core, with the default policy's terms on the real
calendar (opened Monday 2026-03-02 09:00): refusals that change nothing, rounds, each outcome,
the cap on rounds, adopt, refer_up by hand and by timeout to the county, overdue implementation
with daily reminders, evaluation, withdraw, polls and 四议两公开."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.deliberation.models import (
    Attendance,
    Ballot,
    CloseRound,
    Complete,
    Decide,
    DEventType,
    DStatus,
    DWithdraw,
    Evaluate,
    Kind,
    Opinion,
    ReportProgress,
    RoundOutcome,
    Step,
    Verdict,
    Votes,
)
from domain.lifecycle.checks import Rejected
from domain.models import Role, Satisfaction
from domain.payloads import PAYLOADS
from tests.domain.conftest import COUNTY, START, TOWNSHIP, VILLAGE
from tests.domain.deliberation_world import (
    act,
    advance,
    close_round,
    opened,
    spec,
    staff,
    types,
)

V, VL, T, C = staff(VILLAGE), staff(VILLAGE, Role.LEADER), staff(TOWNSHIP, Role.LEADER), None
CL = staff(COUNTY, Role.LEADER)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def refused(s: object, name: str, a: object, field: str | None) -> Rejected:
    with pytest.raises(Rejected) as caught:
        act(s, name, a, START + HOUR)  # type: ignore[arg-type]
    assert caught.value.field == field, caught.value
    return caught.value


def test_opening_starts_a_round_with_the_policy_deadline_and_tells_participants() -> None:
    s = opened()
    assert s.status is DStatus.OPEN and len(s.rounds) == 1
    assert s.rounds[0].deadline.date().isoformat() == "2026-03-09"  # 5 working days
    assert types(s.events) == [DEventType.OPENED, DEventType.ROUND_OPENED]
    notice = s.outbox[-1]
    assert notice.subject == "deliberation" and notice.kind == "deliberation_round_opened"
    assert VILLAGE.code in notice.units and notice.departments == ["zhenan-zhujian"]


def test_below_quorum_no_majority_and_missing_decision_are_refused_naming_the_field() -> None:
    s = opened()
    refused(
        s,
        "close_round",
        close_round(V, RoundOutcome.CONSENSUS, present=16, expected=25, approve=12),
        "attendance",
    )
    refused(s, "close_round", close_round(V, RoundOutcome.CONSENSUS, approve=10), "votes")
    refused(s, "close_round", close_round(V, RoundOutcome.CONSENSUS, approve=None), "votes")
    refused(s, "close_round", close_round(V, RoundOutcome.CONSENSUS, decision=False), "decision")
    refused(s, "close_round", close_round(V, RoundOutcome.CONSENSUS, present=30), "attendance")
    bad_votes = close_round(V, RoundOutcome.NO_CONSENSUS)
    bad_votes.votes = Votes(15, 5, 1)
    refused(s, "close_round", bad_votes, "votes")
    refused(s, "close_round", close_round(T, RoundOutcome.HARD), None)  # not the township's
    # Below quorum a round may still close without consensus.
    act(
        s,
        "close_round",
        close_round(V, RoundOutcome.NO_CONSENSUS, present=3, approve=None),
        START + HOUR,
    )
    assert s.rounds[0].outcome is RoundOutcome.NO_CONSENSUS and len(s.rounds) == 2


def test_consensus_goes_to_implementation_with_warnings_overdue_and_daily_reminders() -> None:
    s = opened()
    act(s, "opinion", Opinion(actor=staff(VILLAGE), text="建议走北线"), START + HOUR)
    act(s, "close_round", close_round(V, RoundOutcome.CONSENSUS), START + 2 * HOUR)
    d = s.decision
    assert s.status is DStatus.IMPLEMENTING and d is not None and d.via == "consensus"
    assert d.decided_level == "village" and len(d.warnings) == 2
    act(s, "progress", ReportProgress(actor=V, percent=40, note="已开工"), START + DAY)
    refused(s, "progress", ReportProgress(actor=V, percent=30, note="倒退"), "percent")
    events = advance(s, d.due + 3 * DAY)
    kinds = types(events)
    assert kinds[:2] == [DEventType.WARNING, DEventType.WARNING]
    assert DEventType.OVERDUE in kinds and kinds.count(DEventType.OVERDUE_REMINDER) >= 2
    overdue = next(n for n in s.outbox if n.kind == "deliberation_overdue")
    assert overdue.supervisors_of == [TOWNSHIP.code]  # the responsible unit's parent
    act(s, "complete", Complete(actor=V, summary="已完工"), d.due + 4 * DAY)
    assert s.status is DStatus.AWAITING_EVALUATION and d.on_time is False
    act(s, "evaluate", Evaluate(actor=T, satisfaction=Satisfaction.SATISFIED), d.due + 4 * DAY)
    with pytest.raises(Rejected):
        act(s, "evaluate", Evaluate(actor=T), d.due + 4 * DAY)
    with pytest.raises(Rejected):
        act(s, "evaluate", Evaluate(actor=V), d.due + 4 * DAY)  # the responsible unit itself
    assert s.evaluation_deadline is not None
    advance(s, s.evaluation_deadline)
    assert s.status is DStatus.CLOSED
    assert s.events[-1].data["evaluations"] == {"satisfied": 1}


def test_no_consensus_three_times_is_hard_and_the_leadership_adopts() -> None:
    s = opened()
    for n in range(3):
        act(s, "close_round", close_round(V, RoundOutcome.NO_CONSENSUS), START + (n + 1) * HOUR)
    assert s.status is DStatus.SUBMITTED and len(s.rounds) == 3
    assert s.submission is not None and s.submission.reason == "max_rounds"
    with pytest.raises(Rejected):
        act(s, "decide", Decide(actor=V, verdict=Verdict.ADOPT, decision=spec()), START + 4 * HOUR)
    act(s, "decide", Decide(actor=VL, verdict=Verdict.ADOPT, decision=spec()), START + 4 * HOUR)
    assert s.status is DStatus.IMPLEMENTING and s.decision and s.decision.via == "adopt"


def test_refer_up_by_hand_then_by_timeout_to_the_county_where_it_is_overdue() -> None:
    s = opened(issue_id="i" * 32)
    act(s, "close_round", close_round(V, RoundOutcome.HARD), START + HOUR)
    assert s.status is DStatus.SUBMITTED
    refused(s, "decide", Decide(actor=VL, verdict=Verdict.REFER_UP), "reason")
    act(
        s, "decide", Decide(actor=VL, verdict=Verdict.REFER_UP, reason="涉及跨村"), START + 2 * HOUR
    )
    assert (s.status, s.unit.code, s.rounds_here) == (DStatus.OPEN, TOWNSHIP.code, 1)
    assert [link.kind for link in s.links] == ["opened", "referred_up"]
    act(s, "close_round", close_round(staff(TOWNSHIP), RoundOutcome.HARD), START + 3 * HOUR)
    assert s.submission is not None
    events = advance(s, s.submission.deadline)
    assert DEventType.REFERRED_UP in types(events) and s.unit.code == COUNTY.code
    assert events[types(events).index(DEventType.REFERRED_UP)].data["auto"] is True
    act(s, "close_round", close_round(staff(COUNTY), RoundOutcome.HARD), s.rounds[-1].opened_at)
    refused_at = s.submission
    assert refused_at is not None
    with pytest.raises(Rejected) as caught:
        act(
            s,
            "decide",
            Decide(actor=CL, verdict=Verdict.REFER_UP, reason="x"),
            refused_at.submitted_at,
        )
    assert caught.value.field == "decision"
    events = advance(s, refused_at.deadline + 3 * DAY)
    assert DEventType.DECISION_OVERDUE in types(events) and s.overdue
    assert types(events).count(DEventType.OVERDUE_REMINDER) >= 2
    assert all(n.supervisors_of == [COUNTY.code] for n in s.outbox if "overdue" in n.kind)
    act(
        s,
        "decide",
        Decide(actor=CL, verdict=Verdict.ADOPT, decision=spec(COUNTY)),
        refused_at.deadline + 4 * DAY,
    )
    assert s.status is DStatus.IMPLEMENTING and not s.overdue
    assert s.decision is not None and s.decision.decided_level == "county"


def test_a_round_that_runs_out_reminds_the_unit_once() -> None:
    s = opened()
    events = advance(s, s.rounds[0].deadline + 2 * DAY)
    assert types(events) == [DEventType.ROUND_DUE]
    with pytest.raises(Rejected):
        act(s, "opinion", Opinion(actor=V, text="迟到的意见"), s.rounds[0].deadline + 2 * DAY)


def test_withdraw_while_open_or_submitted_only() -> None:
    s = opened()
    act(s, "withdraw", DWithdraw(actor=V, reason="已另行解决"), START + HOUR)
    assert s.status is DStatus.WITHDRAWN
    with pytest.raises(Rejected):
        act(s, "opinion", Opinion(actor=V, text="x"), START + 2 * HOUR)


def test_a_poll_counts_each_household_once_and_publishes_the_tally_at_close() -> None:
    s = opened(Kind.POLL, options=["北线", "南线"])
    act(s, "ballot", Ballot(actor=V, household="h1", option="北线"), START + HOUR)
    refused(s, "ballot", Ballot(actor=V, household="h1", option="南线"), "household")
    refused(s, "ballot", Ballot(actor=V, household="h2", option="东线"), "option")
    act(s, "ballot", Ballot(actor=V, household="h2", option="南线"), START + HOUR)
    act(s, "ballot", Ballot(actor=V, household="h3", option="北线"), START + HOUR)
    closing = CloseRound(
        actor=V,
        outcome=RoundOutcome.CONSENSUS,
        attendance=Attendance(expected=40, present=3),
        summary="北线得票多",
        decision=spec(),
    )
    events = act(s, "close_round", closing, START + 2 * HOUR)
    assert events[0].data["tally"] == {"北线": 2, "南线": 1}
    trail = [e for e in s.events if e.type is DEventType.BALLOT]
    assert all(set(e.data) == {"ballots"} for e in trail)  # no household, no option


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.sampled_from(["甲", "乙"])), max_size=30))
def test_whatever_the_channel_sends_a_household_is_counted_once(
    ballots: list[tuple[str, str]],
) -> None:
    s = opened(Kind.POLL, options=["甲", "乙"])
    first_choice: dict[str, str] = {}
    for household, option in ballots:
        try:
            act(s, "ballot", Ballot(actor=V, household=household, option=option), START + HOUR)
            first_choice[household] = option
        except Rejected as refusal:
            assert refusal.field == "household" and household in first_choice
    assert sum(s.tally.values()) == len(first_choice) == len(set(s.voted))
    for option in ("甲", "乙"):
        assert s.tally.get(option, 0) == list(first_choice.values()).count(option)


def test_four_deliberations_in_order_with_two_thirds_of_party_members() -> None:
    s = opened(Kind.FOUR_DELIBERATIONS)
    step = close_round(V, RoundOutcome.CONSENSUS, decision=False, step=Step.COMMITTEES)
    refused(s, "close_round", step, "step")
    refused(s, "close_round", close_round(V, RoundOutcome.CONSENSUS), "step")
    for n, name in enumerate((Step.PARTY_PROPOSAL, Step.COMMITTEES)):
        act(
            s,
            "close_round",
            close_round(V, RoundOutcome.CONSENSUS, decision=False, step=name),
            START + (n + 1) * HOUR,
        )
    members = close_round(
        V, RoundOutcome.CONSENSUS, present=19, expected=30, decision=False, step=Step.PARTY_MEMBERS
    )
    refused(s, "close_round", members, "attendance")
    members.attendance = Attendance(30, 20)
    act(s, "close_round", members, START + 3 * HOUR)
    assert s.status is DStatus.OPEN and len(s.rounds[0].steps) == 3
    act(
        s,
        "close_round",
        close_round(V, RoundOutcome.CONSENSUS, step=Step.RESOLUTION),
        START + 4 * HOUR,
    )
    assert s.status is DStatus.IMPLEMENTING
    act(s, "complete", Complete(actor=V, summary="完成"), START + 5 * HOUR)
    assert [r.step for r in s.rounds[0].steps] == list(Step)  # all six, in order


def test_the_state_crosses_temporal_whole() -> None:
    s = opened(Kind.POLL, options=["甲"], issue_id="i" * 32)
    act(s, "ballot", Ballot(actor=V, household="h", option="甲"), START + HOUR)
    payload = PAYLOADS.to_payloads([s])
    assert PAYLOADS.from_payloads(payload, [type(s)])[0] == s
