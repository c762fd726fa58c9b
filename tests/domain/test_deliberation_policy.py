"""Deliberations' terms in the policy files: the default's working days, the drill's seconds, per
kind overrides, and errors that name the key."""

from __future__ import annotations

import pytest

from activities.deadlines import Clocks
from domain.calendar import WorkCalendar
from domain.deliberation.models import DeliberationTermsRequest, Kind
from domain.models import Term
from domain.policy import PolicyError, load_policy, parse_policy
from settings import ROOT


def test_the_default_policy_gives_every_kind_its_terms() -> None:
    policy = load_policy("default")
    for kind in Kind:
        terms = policy.deliberation_terms(kind)
        assert terms.decision == Term(working_days=5) and terms.max_rounds == 3
        assert terms.warnings == (0.5, 0.75) and terms.overdue_reminder == Term(working_days=1)
    assert policy.deliberation_terms(Kind.HEARING).round == Term(working_days=10)
    assert policy.deliberation_terms(Kind.POLL).round == Term(working_days=5)


def test_the_drill_policy_counts_seconds_as_the_design_says() -> None:
    terms = Clocks(WorkCalendar(), load_policy("drill")).deliberation_terms(
        DeliberationTermsRequest(Kind.VILLAGE_COUNCIL)
    )
    assert (terms.round, terms.decision, terms.implementation, terms.evaluation) == (
        Term(seconds=10),
        Term(seconds=10),
        Term(seconds=20),
        Term(seconds=10),
    )
    assert terms.policy == "drill"


def _with(extra: str) -> str:
    return (ROOT / "policies" / "drill.toml").read_text(encoding="utf-8").split(
        "[deliberations.defaults]"
    )[0] + extra


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("[deliberations.defaults]\nround = 'PT10S'\n", "missing key"),
        (
            "[deliberations.defaults]\nround='PT1S'\ndecision='PT1S'\nimplementation='PT1S'\n"
            "evaluation='PT1S'\noverdue_reminder='PT1S'\nwarnings=[0.5]\nmax_rounds=0\n",
            "deliberations.defaults.max_rounds",
        ),
        (
            "[deliberations.defaults]\nround='PT1S'\ndecision='PT1S'\nimplementation='PT1S'\n"
            "evaluation='PT1S'\noverdue_reminder='PT1S'\nwarnings=[0.5]\nmax_rounds=2\n"
            "[deliberations.kinds.party]\nround = 'PT10S'\n",
            "deliberations.kinds.party",
        ),
    ],
)
def test_a_bad_deliberations_table_is_refused_naming_the_key(extra: str, named: str) -> None:
    with pytest.raises(PolicyError, match=named.replace(".", r"\.")):
        parse_policy(_with(extra), "bad")


def test_a_policy_without_deliberations_still_loads_and_refuses_to_time_one() -> None:
    policy = parse_policy(_with(""), "issues-only")
    with pytest.raises(ValueError, match="deliberations"):
        policy.deliberation_terms(Kind.POLL)
