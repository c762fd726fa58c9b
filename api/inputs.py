"""Input hygiene in one place: text that no field may hold, and instants no query may ask for.

Control characters (C0 but tab, newline and return; C1) and lone surrogates are refused wherever
text comes in (every JSON body at any depth, forms, query and path parameters, the headers the API
reads) by one app-wide dependency, before any route looks at the request: PostgreSQL cannot store
a NUL, so an issue accepted with one would live in Temporal and never reach the read model, and
SQLite would keep what PostgreSQL refuses. The OpenAPI says so on every string it documents, so
clients (and Schemathesis) know what will be refused.

Instants are bounded to a sane range: beyond it a time zone's offset carries the datetime past
Python's year 1 or 9999 (an ``OverflowError``, once a 500).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Request, params
from fastapi.routing import APIRoute
from pydantic import AfterValidator

from api.problems import invalid
from api.security import API_KEY_HEADER

CONTROL_CLASS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x80-\x9f"
"""C0 but tab, newline and carriage return, then C1, as a regex class body: one definition for
the check, the OpenAPI and the patterns of ``api.schemas``."""
CLEAN_PATTERN = f"^[^{CONTROL_CLASS}]*$"
"""What a documented string may hold (ECMA, Python and Rust regex alike)."""
# Lone surrogates cannot be written in a JSON-schema pattern (no UTF-8 string holds one); JSON's
# \ud800 escape still yields one in Python, so the check looks for them too.
_FORBIDDEN = re.compile(f"[{CONTROL_CLASS}\ud800-\udfff]")
# The headers the API reads as text; others (User-Agent …) are not its business.
CHECKED_HEADERS = ("Authorization", API_KEY_HEADER, "Idempotency-Key")
_JSON = re.compile(r"^application/(?:[\w.+-]+\+)?json\b", re.IGNORECASE)
_FORM = re.compile(r"^(?:application/x-www-form-urlencoded|multipart/form-data)\b", re.IGNORECASE)

# Formats whose syntax leaves no room for control characters (``password`` is only a UI hint).
_STRUCTURED = frozenset({"date-time", "date", "time", "duration", "uri", "uuid", "email", "binary"})

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""The instants the API accepts: [EARLIEST, LATEST), far inside what every offset can convert."""


def forbidden_character(text: str) -> str | None:
    """The first character no field may hold, or None."""
    found = _FORBIDDEN.search(text)
    return found.group() if found else None


def _refuse(field: str, char: str) -> None:
    raise invalid(field, f"含有不允许的控制字符 U+{ord(char):04X}")


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a parsed JSON value with its dotted path (keys included), depth first.

    Iterative: a JSON document nested as deep as the parser allows must not overflow the stack.
    """
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            yield where, item
            continue
        children: list[tuple[Any, str]] = []
        if isinstance(item, dict):
            for key, child in item.items():
                # A bad key is named by the object that holds it: the key itself names nothing.
                children += [(str(key), where), (child, f"{where}.{key}" if where else str(key))]
        elif isinstance(item, list):
            children = [(c, f"{where}.{i}" if where else str(i)) for i, c in enumerate(item)]
        pending += reversed(children)


@dataclass(frozen=True)
class _Taken:
    """The names of what a route reads: query parameters, headers, form fields; and whether it
    reads a JSON body."""

    query: frozenset[str]
    headers: frozenset[str]
    form: frozenset[str]
    body: bool


# Per route, computed once (routes compare by value, so they cannot key a dict themselves; the
# route is kept beside its answer so that its id is never reused).
_TAKEN: dict[int, tuple[APIRoute, _Taken]] = {}


def _taken(route: APIRoute) -> _Taken:
    if (known := _TAKEN.get(id(route))) is not None:
        return known[1]
    query: set[str] = set()
    headers = set(CHECKED_HEADERS)
    form: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        query |= {field.alias for field in dependant.query_params}
        for field in dependant.header_params:
            info = field.field_info
            convert = isinstance(info, params.Header) and info.convert_underscores
            headers.add(field.alias.replace("_", "-") if convert else field.alias)
        form |= {f.alias for f in dependant.body_params if isinstance(f.field_info, params.Form)}
        pending += dependant.dependencies
    taken = _Taken(
        frozenset(query), frozenset(headers), frozenset(form), route.body_field is not None
    )
    _TAKEN[id(route)] = (route, taken)
    return taken


def _check(pairs: Iterable[tuple[str, Any]], taken: frozenset[str]) -> None:
    for name, value in pairs:
        if name in taken and isinstance(value, str) and (char := forbidden_character(value)):
            _refuse(name, char)


async def refuse_control_characters(request: Request) -> None:
    """App-wide dependency: a 422 naming the first field that holds a forbidden character.

    Looks at what the route takes (its path, its query parameters, the headers it reads, its form
    fields or its JSON body at any depth): what it ignores is none of its business. Runs before
    the route's own dependencies and body validation, so nothing has been read from or written to
    the database or Temporal when it refuses.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    taken = _taken(route)
    _check(request.path_params.items(), frozenset(request.path_params))
    _check(request.query_params.multi_items(), taken.query)
    _check(((h, v) for h in taken.headers for v in request.headers.getlist(h)), taken.headers)
    content_type = request.headers.get("content-type", "")
    if taken.form and _FORM.match(content_type):
        form = await request.form()  # parsed once: FastAPI has read it already, Starlette caches
        _check(form.multi_items(), taken.form)
    elif taken.body and _JSON.match(content_type) and await request.body():
        try:
            body = await request.json()  # cached: FastAPI parsed it for the route
        except (ValueError, RecursionError):
            return  # not JSON: the route answers for that
        for where, text in _strings(body, ""):
            if char := forbidden_character(text):
                _refuse(where or "body", char)


def document_clean_strings(app: FastAPI) -> None:
    """Make the OpenAPI say what ``refuse_control_characters`` refuses: every string a request
    documents (parameters, bodies, forms) without a pattern of its own gets ``CLEAN_PATTERN``.

    Strings with a pattern state it themselves (``api.schemas``); enums and structured formats
    (dates, URLs) exclude control characters already.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        components = schema.get("components", {}).get("schemas", {})
        requested: set[str] = set()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    _clean(parameter.get("schema", {}), components, requested)
                for content in operation.get("requestBody", {}).get("content", {}).values():
                    _clean(content.get("schema", {}), components, requested)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _clean(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    """Add ``CLEAN_PATTERN`` to the free strings of ``schema``, following references once."""
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                pending.append(components.get(name))
            continue
        free = not {"pattern", "enum", "const"} & set(node)
        if node.get("type") == "string" and free and node.get("format") not in _STRUCTURED:
            node["pattern"] = CLEAN_PATTERN
        pending += node.get("properties", {}).values()
        pending += [node.get(key) for key in ("items", "anyOf", "oneOf", "allOf")]
        pending.append(node.get("additionalProperties"))


# ---- instants -----------------------------------------------------------------------------------


def within_range(value: datetime) -> datetime:
    """Refuse an instant outside [EARLIEST, LATEST).

    An aware time is compared as the instant it is (comparing never converts, so never
    overflows); a naive one, which a route reads in the county's zone later, as if it were UTC:
    at most a day off at the edges of a range meant for sanity, not for precision.
    """
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"时间须在 {EARLIEST:%Y-%m-%d} 至 {LATEST:%Y-%m-%d} 之间")
    return value


Instant = Annotated[datetime, AfterValidator(within_range)]
"""A datetime a request may carry (a query's ``since``, a meeting's time): ISO 8601, bounded."""
