"""A policy file's ``[deliberations]`` table: round, decision, implementation and evaluation terms,
the cap on rounds, warnings and the 督办 cadence, by default and per kind.

    [deliberations.defaults]          # every key
    round = "5wd"
    ...
    [deliberations.kinds.hearing]     # some keys, for one kind
    round = "10wd"
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from domain.deliberation.models import DeliberationTerms, Kind
from domain.policy import PolicyError, parse_term

TERM_KEYS = ("round", "decision", "implementation", "evaluation", "overdue_reminder")
KEYS = (*TERM_KEYS, "max_rounds", "warnings")
DEFAULT_KEY = "default"


def parse_deliberations(name: str, raw: Any) -> dict[str, DeliberationTerms]:
    """The terms of every kind (and ``"default"``); an empty mapping when the file has none.

    Raises:
        PolicyError: naming the key at fault (``deliberations.kinds.poll.max_rounds`` …).
    """
    if raw is None:
        return {}
    table = _table(name, "deliberations", raw)
    _keys(name, "deliberations", table, {"defaults", "kinds"})
    where = "deliberations.defaults"
    defaults_table = _table(name, where, table.get("defaults"))
    missing = [k for k in KEYS if k not in defaults_table]
    if missing:
        raise PolicyError(f"policy {name!r}: {where}: missing key(s): {', '.join(missing)}")
    defaults = DeliberationTerms(policy=name, **_values(name, where, defaults_table))
    result = {DEFAULT_KEY: defaults}
    kinds = _table(name, "deliberations.kinds", table.get("kinds", {}))
    _keys(name, "deliberations.kinds", kinds, {k.value for k in Kind})
    for kind, override in kinds.items():
        at = f"deliberations.kinds.{kind}"
        result[kind] = replace(defaults, **_values(name, at, _table(name, at, override)))
    return result


def terms_for(
    deliberations: Mapping[str, DeliberationTerms], kind: Kind | str
) -> DeliberationTerms:
    """The terms of a kind; a policy without a ``[deliberations]`` table has none to give."""
    if DEFAULT_KEY not in deliberations:
        raise ValueError("the policy has no [deliberations] table")
    return deliberations.get(Kind(kind).value, deliberations[DEFAULT_KEY])


def _values(name: str, where: str, table: dict[str, Any]) -> dict[str, Any]:
    _keys(name, where, table, set(KEYS))
    values: dict[str, Any] = {}
    for key in TERM_KEYS:
        if key in table:
            try:
                term = parse_term(table[key]) if isinstance(table[key], str) else None
            except ValueError as error:
                raise PolicyError(f"policy {name!r}: {where}.{key}: {error}") from None
            if term is None or not (term.seconds or term.working_days):
                raise PolicyError(f"policy {name!r}: {where}.{key}: must be a term longer than 0")
            values[key] = term
    if "max_rounds" in table:
        rounds = table["max_rounds"]
        if not isinstance(rounds, int) or isinstance(rounds, bool) or not 1 <= rounds <= 10:
            raise PolicyError(f"policy {name!r}: {where}.max_rounds: a whole number 1–10")
        values["max_rounds"] = rounds
    if "warnings" in table:
        values["warnings"] = _warnings(name, f"{where}.warnings", table["warnings"])
    return values


def _warnings(name: str, where: str, value: Any) -> tuple[float, ...]:
    ok = isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 1 for v in value
    )
    if not ok or any(a >= b for a, b in itertools.pairwise(value)):
        raise PolicyError(f"policy {name!r}: {where}: increasing fractions such as [0.5, 0.75]")
    return tuple(float(v) for v in value)


def _table(name: str, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"policy {name!r}: {where}: must be a table")
    return value


def _keys(name: str, where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PolicyError(
            f"policy {name!r}: unknown key {', '.join(f'{where}.{k}' for k in unknown)}; "
            f"expected one of: {', '.join(sorted(allowed))}"
        )
