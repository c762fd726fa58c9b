"""Policies: the time allowances of an issue by urgency and category, read from a TOML file.

A policy file has one ``[defaults.<urgency>]`` table per urgency holding every key, and optional
``[categories.<name>]`` tables that override some keys for one category — for every urgency at the
category's top level, or for one urgency in ``[categories.<name>.<urgency>]``. Terms are written
``"3wd"`` (working days on the statutory calendar) or as ISO-8601 durations such as ``"PT30M"``.
See ``policies/default.toml``.

Pure except ``load_policy``, which reads the file (never called from workflow code).
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.models import Level, Term, Terms, Urgency

if TYPE_CHECKING:
    from domain.deliberation.models import DeliberationTerms

_WORKING_DAYS = re.compile(r"(\d+)wd")
# The subset of ISO-8601 whose length never varies: days (taken as 24 h), hours, minutes, seconds.
# Years, months and weeks are refused: a month has no fixed length and nobody writes P1W here.
_ISO_DURATION = re.compile(
    r"P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?"
)
_POLICY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

TERM_KEYS = ("accept", "report", "feedback_window", "transfer_window", "overdue_reminder")
"""Keys of a policy table whose value is one term."""

OTHER_KEYS = ("resolve", "warnings", "extension_allowed")
REQUIRED_LEVELS = (Level.VILLAGE, Level.TOWNSHIP, Level.COUNTY)
OPTIONAL_LEVELS = (Level.GRID,)


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the policy and the offending key."""


# ---- terms --------------------------------------------------------------------------------------


def parse_iso_duration(text: str) -> int:
    """Seconds of an ISO-8601 duration of days/hours/minutes/seconds, e.g. ``"PT30M"``.

    Raises:
        ValueError: for anything else (fractions, signs, weeks, months, years, lower case, blanks).
    """
    match = _ISO_DURATION.fullmatch(text)
    # "P" and "P1DT" match the pattern but name no amount; ISO-8601 forbids both.
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(
            f"{text!r} is not an ISO-8601 duration of days/hours/minutes/seconds "
            "(e.g. 'PT30M', 'PT4H', 'P1DT12H')"
        )
    days, hours, minutes, seconds = (int(match[part] or 0) for part in "dhms")
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def parse_term(text: str) -> Term:
    """A term as written in a policy: ``"3wd"`` (working days) or an ISO-8601 duration."""
    match = _WORKING_DAYS.fullmatch(text)
    if match is not None:
        return Term(working_days=int(match[1]))
    try:
        return Term(seconds=parse_iso_duration(text))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a term: write working days as '3wd' or an ISO-8601 duration "
            "such as 'PT30M'"
        ) from None


def format_term(term: Term) -> str:
    """The policy-file spelling of a term (inverse of ``parse_term``)."""
    if term.working_days is not None:
        return f"{term.working_days}wd"
    days, rest = divmod(term.seconds or 0, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    text = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return text if text != "P" else "PT0S"


# ---- policy -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A parsed policy: the full ``Terms`` of every urgency, by default and per listed category."""

    name: str
    defaults: Mapping[Urgency, Terms]
    categories: Mapping[str, Mapping[Urgency, Terms]]
    # Deliberations' terms by kind and "default" (``domain.deliberation.policy``).
    deliberations: Mapping[str, DeliberationTerms] = field(default_factory=dict)

    def deliberation_terms(self, kind: str) -> DeliberationTerms:
        """The terms of a deliberation of ``kind``.

        Raises:
            ValueError: for an unknown kind, or a policy without a ``[deliberations]`` table.
        """
        from domain.deliberation.policy import terms_for

        return terms_for(self.deliberations, kind)

    def terms_for(self, category: str, urgency: Urgency | str) -> Terms:
        """The terms of an issue of this category and urgency (the defaults if not listed).

        Raises:
            ValueError: for an urgency that is not one of ``Urgency``.
        """
        try:
            key = Urgency(urgency)
        except ValueError:
            known = ", ".join(u.value for u in Urgency)
            raise ValueError(f"unknown urgency {urgency!r}; expected one of: {known}") from None
        terms = self.categories.get(category, self.defaults)[key]
        # A copy, so a caller mutating the resolve dict cannot change the policy for everyone.
        return replace(terms, resolve=dict(terms.resolve))


def parse_policy(text: str, name: str) -> Policy:
    """Parse and validate a policy file.

    Raises:
        PolicyError: naming the offending key (e.g. ``defaults.urgent.resolve.village``).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"policy {name!r} is not valid TOML: {error}") from error
    return _PolicyParser(name).parse(data)


def load_policy(name_or_path: str | Path) -> Policy:
    """Load ``policies/<name>.toml`` beside the packages, or a policy file by path.

    A value with a path separator or a ``.toml`` suffix is a path; the policy's name is then the
    file's stem.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        path = Path(name_or_path)
    else:
        if not _POLICY_NAME.fullmatch(text):
            raise PolicyError(f"{text!r} is not a policy name (letters, digits, '-', '_')")
        # Imported here so the domain package does not pull in pydantic-settings for everyone.
        from settings import ROOT

        path = ROOT / "policies" / f"{text}.toml"
        if not path.is_file():
            known = sorted(p.stem for p in path.parent.glob("*.toml"))
            raise PolicyError(f"no policy named {text!r}; available: {', '.join(known) or 'none'}")
    return parse_policy(path.read_text(encoding="utf-8"), path.stem)


class _PolicyParser:
    """Validation of one policy document; every error names the policy and the key path."""

    def __init__(self, name: str) -> None:
        self.name = name

    def error(self, where: str, message: str) -> PolicyError:
        return PolicyError(f"policy {self.name!r}: {where}: {message}")

    def parse(self, data: dict[str, Any]) -> Policy:
        self.check_keys(
            "(top level)", data, {"description", "defaults", "categories", "deliberations"}
        )
        if not isinstance(data.get("description", ""), str):
            raise self.error("description", "must be a string")
        defaults_table = self.table("defaults", data.get("defaults"))
        self.check_keys("defaults", defaults_table, {u.value for u in Urgency})
        defaults: dict[Urgency, Terms] = {}
        for urgency in Urgency:
            where = f"defaults.{urgency.value}"
            table = self.table(where, defaults_table.get(urgency.value))
            defaults[urgency] = Terms(policy=self.name, **self.terms(where, table, partial=False))

        categories: dict[str, dict[Urgency, Terms]] = {}
        for category, raw in self.table("categories", data.get("categories", {})).items():
            categories[category] = self.category(category, raw, defaults)
        # Imported here: the deliberation's parser builds on this module's terms.
        from domain.deliberation.policy import parse_deliberations

        deliberations = parse_deliberations(self.name, data.get("deliberations"))
        return Policy(self.name, defaults, categories, deliberations)

    def category(
        self, category: str, raw: Any, defaults: Mapping[Urgency, Terms]
    ) -> dict[Urgency, Terms]:
        where = f"categories.{category}"
        table = self.table(where, raw)
        urgencies = {u.value for u in Urgency}
        self.check_keys(where, table, set(TERM_KEYS) | set(OTHER_KEYS) | urgencies)
        common = {key: value for key, value in table.items() if key not in urgencies}
        merged: dict[Urgency, Terms] = {}
        for urgency in Urgency:
            specific = self.table(f"{where}.{urgency.value}", table.get(urgency.value, {}))
            # Parse each layer on its own so an error names the key where it was written.
            layers = [
                self.terms(where, common, partial=True),
                self.terms(f"{where}.{urgency.value}", specific, partial=True),
            ]
            merged[urgency] = self.merge(defaults[urgency], layers)
        return merged

    def terms(self, where: str, table: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        """The validated values of one table, parsed; all keys required unless ``partial``."""
        self.check_keys(where, table, set(TERM_KEYS) | set(OTHER_KEYS))
        if not partial:
            missing = [k for k in (*TERM_KEYS, *OTHER_KEYS) if k not in table]
            if missing:
                raise self.error(where, f"missing key(s): {', '.join(missing)}")
        parsed: dict[str, Any] = {}
        for key in TERM_KEYS:
            if key in table:
                parsed[key] = self.term(f"{where}.{key}", table[key])
        if "resolve" in table:
            parsed["resolve"] = self.resolve(f"{where}.resolve", table["resolve"], partial=partial)
        if "warnings" in table:
            parsed["warnings"] = self.warnings(f"{where}.warnings", table["warnings"])
        if "extension_allowed" in table:
            if not isinstance(table["extension_allowed"], bool):
                raise self.error(f"{where}.extension_allowed", "must be true or false")
            parsed["extension_allowed"] = table["extension_allowed"]
        return parsed

    def merge(self, base: Terms, layers: list[dict[str, Any]]) -> Terms:
        resolve = dict(base.resolve)
        values: dict[str, Any] = {}
        for layer in layers:
            resolve.update(layer.get("resolve", {}))
            values.update({k: v for k, v in layer.items() if k != "resolve"})
        return replace(base, resolve=resolve, **values)

    def term(self, where: str, value: Any) -> Term:
        if not isinstance(value, str):
            raise self.error(where, f"{value!r} must be a string such as '3wd' or 'PT30M'")
        try:
            term = parse_term(value)
        except ValueError as error:
            raise self.error(where, str(error)) from None
        # A zero allowance would fire the moment a level is entered, or spin a reminder loop.
        if not (term.seconds or term.working_days):
            raise self.error(where, f"{value!r} must be longer than zero")
        return term

    def resolve(self, where: str, value: Any, *, partial: bool) -> dict[str, Term]:
        table = self.table(where, value)
        allowed = {level.value for level in (*REQUIRED_LEVELS, *OPTIONAL_LEVELS)}
        self.check_keys(where, table, allowed)
        if not partial:
            missing = [level.value for level in REQUIRED_LEVELS if level.value not in table]
            if missing:
                raise self.error(where, f"missing level(s): {', '.join(missing)}")
        return {level: self.term(f"{where}.{level}", term) for level, term in table.items()}

    def warnings(self, where: str, value: Any) -> tuple[float, ...]:
        if not isinstance(value, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            raise self.error(where, f"{value!r} must be a list of fractions such as [0.5, 0.75]")
        fractions = tuple(float(v) for v in value)
        if any(not 0 < f < 1 for f in fractions):
            raise self.error(where, f"{value!r}: each fraction must lie strictly between 0 and 1")
        if any(a >= b for a, b in itertools.pairwise(fractions)):
            raise self.error(where, f"{value!r} must be strictly increasing")
        return fractions

    def table(self, where: str, value: Any) -> dict[str, Any]:
        if value is None:
            raise self.error(where, "missing table")
        if not isinstance(value, dict):
            raise self.error(where, "must be a table")
        return value

    def check_keys(self, where: str, table: dict[str, Any], allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            prefix = "" if where == "(top level)" else f"{where}."
            keys = ", ".join(f"{prefix}{key}" for key in unknown)
            raise PolicyError(
                f"policy {self.name!r}: unknown key {keys}; expected one of: "
                f"{', '.join(sorted(allowed))}"
            )
