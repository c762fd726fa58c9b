"""Policy files: the term syntax, parsing, category overrides, validation, the shipped policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.models import Term, Terms, Urgency
from domain.policy import (
    PolicyError,
    format_term,
    load_policy,
    parse_iso_duration,
    parse_policy,
    parse_term,
)


def wd(n: int) -> Term:
    return Term(working_days=n)


def secs(n: int) -> Term:
    return Term(seconds=n)


# ---- terms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT30M", 1800),
        ("PT4H", 14400),
        ("PT8H", 28800),
        ("PT24H", 86400),
        ("PT10S", 10),
        ("PT5S", 5),
        ("P1D", 86400),
        ("P1DT2H30M", 95400),
        ("PT1H1M1S", 3661),
        ("PT0S", 0),
    ],
)
def test_iso_duration_seconds(text: str, seconds: int) -> None:
    assert parse_iso_duration(text) == seconds


NOT_DURATIONS = [
    "",
    "P",
    "PT",
    "P1DT",  # a T needs a time part after it
    "30M",
    "PT1.5H",  # fractions
    "PT0,5H",
    "P1W",  # weeks, months, years: refused
    "P1M",
    "P1Y",
    "pt30m",  # lower case
    "PT-5M",
    " PT5M",
    "PT5M ",
    "P1H",  # hours without T
    "PT30M1H",  # out of order
    "PTM",
    "3wd",
]


@pytest.mark.parametrize("text", NOT_DURATIONS)
def test_iso_duration_parser_refuses_everything_else(text: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_iso_duration(text)


def test_terms_are_working_days_or_durations() -> None:
    assert parse_term("3wd") == wd(3)
    assert parse_term("0wd") == wd(0)
    assert parse_term("PT30M") == secs(1800)
    for bad in ("3WD", "3 wd", "wd", "-1wd", "1.5wd", "3d"):
        with pytest.raises(ValueError, match="not a term"):
            parse_term(bad)


@pytest.mark.parametrize("text", ["3wd", "PT30M", "PT4H", "PT10S", "P1D", "P1DT2H30M", "PT0S"])
def test_format_term_round_trips(text: str) -> None:
    assert format_term(parse_term(text)) == text


# ---- parsing and overrides -----------------------------------------------------------------------

BASE = """
[defaults.normal]
accept = "1wd"
report = "PT30M"
warnings = [0.5, 0.75]
extension_allowed = true
feedback_window = "5wd"
transfer_window = "2wd"
overdue_reminder = "1wd"
resolve = { village = "3wd", township = "5wd", county = "7wd" }

[defaults.urgent]
accept = "PT30M"
report = "PT30M"
warnings = [0.5, 0.75]
extension_allowed = false
feedback_window = "5wd"
transfer_window = "2wd"
overdue_reminder = "1wd"
resolve = { village = "PT4H", township = "PT8H", county = "PT24H" }
"""


def test_unlisted_category_gets_the_urgency_defaults() -> None:
    policy = parse_policy(BASE, "test")
    terms = policy.terms_for("道路维修", Urgency.NORMAL)
    assert terms == Terms(
        policy="test",
        accept=wd(1),
        resolve={"village": wd(3), "township": wd(5), "county": wd(7)},
        report=secs(1800),
        warnings=(0.5, 0.75),
        extension_allowed=True,
        feedback_window=wd(5),
        transfer_window=wd(2),
        overdue_reminder=wd(1),
    )


def test_category_override_merges_over_urgency_defaults() -> None:
    text = (
        BASE
        + """
[categories."安全隐患"]
extension_allowed = false
warnings = [0.25, 0.5, 0.75]

[categories."安全隐患".urgent]
resolve = { village = "PT2H" }
report = "PT15M"
"""
    )
    policy = parse_policy(text, "test")
    urgent = policy.terms_for("安全隐患", "urgent")
    assert urgent.resolve == {"village": secs(7200), "township": secs(28800), "county": secs(86400)}
    assert urgent.report == secs(900)
    assert urgent.warnings == (0.25, 0.5, 0.75)
    assert urgent.accept == secs(1800)  # untouched: the urgent default
    normal = policy.terms_for("安全隐患", Urgency.NORMAL)
    assert normal.extension_allowed is False  # the category-wide override
    assert normal.warnings == (0.25, 0.5, 0.75)
    assert normal.resolve == {"village": wd(3), "township": wd(5), "county": wd(7)}
    assert normal.report == secs(1800)  # the urgent-only override does not leak
    # Other categories keep the defaults.
    assert policy.terms_for("other", Urgency.NORMAL).extension_allowed is True


def test_optional_grid_level() -> None:
    text = BASE.replace('resolve = { village = "3wd"', 'resolve = { grid = "1wd", village = "3wd"')
    policy = parse_policy(text, "test")
    assert policy.terms_for("x", Urgency.NORMAL).resolve["grid"] == wd(1)
    assert "grid" not in policy.terms_for("x", Urgency.URGENT).resolve


def test_terms_for_returns_a_copy() -> None:
    policy = parse_policy(BASE, "test")
    policy.terms_for("x", Urgency.NORMAL).resolve["village"] = wd(99)
    assert policy.terms_for("x", Urgency.NORMAL).resolve["village"] == wd(3)


def test_terms_for_unknown_urgency_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown urgency 'critical'"):
        parse_policy(BASE, "test").terms_for("x", "critical")


# ---- validation errors name the key --------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('accept = "1wd"', 'acept = "1wd"', "defaults.normal.acept"),
        ('accept = "1wd"', 'accept = "1 day"', "defaults.normal.accept"),
        ('accept = "1wd"', "accept = 1", "defaults.normal.accept"),
        ('accept = "1wd"', 'accept = "0wd"', "defaults.normal.accept"),
        ('accept = "1wd"', "", "defaults.normal: missing key(s): accept"),
        ('village = "PT4H"', 'village = "PT4.5H"', "defaults.urgent.resolve.village"),
        ('village = "PT4H"', 'villag = "PT4H"', "defaults.urgent.resolve.villag"),
        ('{ village = "3wd", ', "{ ", "defaults.normal.resolve: missing level(s): village"),
        ("warnings = [0.5, 0.75]", "warnings = [0.75, 0.5]", "defaults.normal.warnings"),
        ("warnings = [0.5, 0.75]", "warnings = [0.5, 1.0]", "defaults.normal.warnings"),
        ("warnings = [0.5, 0.75]", 'warnings = ["half"]', "defaults.normal.warnings"),
        ("extension_allowed = true", 'extension_allowed = "yes"', "extension_allowed"),
        ('feedback_window = "5wd"', 'feedback_window = "P1M"', "defaults.normal.feedback_window"),
        ("[defaults.urgent]", "[defaults.critical]", "defaults.critical"),
    ],
)
def test_validation_errors_name_the_key(old: str, new: str, key: str) -> None:
    text = BASE.replace(old, new, 1)
    assert text != BASE
    with pytest.raises(PolicyError, match="policy 'test'") as raised:
        parse_policy(text, "test")
    assert key in str(raised.value)


def test_missing_urgency_table_is_named() -> None:
    text = BASE[: BASE.index("[defaults.urgent]")]
    with pytest.raises(PolicyError, match=r"defaults\.urgent: missing table"):
        parse_policy(text, "test")


def test_unknown_top_level_key_is_named() -> None:
    with pytest.raises(PolicyError, match="unknown key name"):
        parse_policy('name = "x"\n' + BASE, "test")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ('[categories.x]\nreslove = { village = "1wd" }', "categories.x.reslove"),
        (
            '[categories.x.urgent]\nresolve = { village = "PT0S" }',
            "categories.x.urgent.resolve.village",
        ),
        ('[categories.x.critical]\naccept = "PT1H"', "categories.x.critical"),
        ('[categories.x]\naccept = "soon"', "categories.x.accept"),
    ],
)
def test_category_errors_name_the_key(override: str, key: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(BASE + override, "test")
    assert key in str(raised.value)


def test_bad_toml_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy("[defaults.normal\n", "test")


# ---- the shipped policies match the design's table -----------------------------------------------


def test_default_policy_normal_matches_design() -> None:
    terms = load_policy("default").terms_for("任意类别", Urgency.NORMAL)
    assert terms == Terms(
        policy="default",
        accept=wd(1),
        resolve={"village": wd(3), "township": wd(5), "county": wd(7)},
        report=secs(30 * 60),
        warnings=(0.5, 0.75),
        extension_allowed=True,
        feedback_window=wd(5),
        transfer_window=wd(2),
        overdue_reminder=wd(1),
    )


def test_default_policy_urgent_matches_design() -> None:
    terms = load_policy("default").terms_for("任意类别", Urgency.URGENT)
    assert terms == Terms(
        policy="default",
        accept=secs(30 * 60),
        resolve={"village": secs(4 * 3600), "township": secs(8 * 3600), "county": secs(24 * 3600)},
        report=secs(30 * 60),
        warnings=(0.5, 0.75),
        extension_allowed=False,
        feedback_window=wd(5),
        transfer_window=wd(2),
        overdue_reminder=wd(1),
    )


@pytest.mark.parametrize(
    ("urgency", "extension"), [(Urgency.NORMAL, True), (Urgency.URGENT, False)]
)
def test_drill_policy_matches_design(urgency: Urgency, extension: bool) -> None:
    terms = load_policy("drill").terms_for("任意类别", urgency)
    assert terms == Terms(
        policy="drill",
        accept=secs(5),
        resolve={"village": secs(10), "township": secs(10), "county": secs(10)},
        report=secs(5),
        warnings=(0.5,),
        extension_allowed=extension,
        feedback_window=secs(10),
        transfer_window=secs(10),
        overdue_reminder=secs(10),
    )


def test_load_policy_by_path_names_it_after_the_file(tmp_path: Path) -> None:
    path = tmp_path / "county-611025.toml"
    path.write_text(BASE, encoding="utf-8")
    assert load_policy(str(path)).name == "county-611025"
    assert load_policy(path).terms_for("x", Urgency.NORMAL).policy == "county-611025"


def test_load_policy_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(PolicyError, match=r"no policy named 'nope'; available: .*default.*drill"):
        load_policy("nope")
    with pytest.raises(PolicyError, match="not a policy name"):
        load_policy("..")
