"""Dates and cursors: every time a request carries lies in a sane range, and a cursor is what the
API wrote or a 422 naming ``cursor``; never a 500, on SQLite and PostgreSQL.

Before, ``GET /issues?since=9999-12-31T23:59:59-23:59`` raised ``OverflowError`` (the instant is
past year 9999 in UTC), and a cursor decoding to a lone surrogate reached SQL and failed there.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.api.conftest import VILLAGE, Api, problem
from tests.api.read_models import any_read_model

__all__ = ["any_read_model"]  # the fixture, imported for pytest

ADMIN = "county-admin"
OUT_OF_RANGE = [
    "9999-12-31T23:59:59-23:59",  # past year 9999 once in UTC
    "0001-01-01T00:00:00+12:00",  # before year 1 once in UTC
    "0001-01-01T00:00:00",  # naive: read in the county's zone (+08:00), before year 1
    "1999-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
]


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("path", ["/issues", "/stats"])
async def test_times_out_of_range_are_refused_naming_the_parameter(
    any_read_model: Api, path: str, name: str, value: str
) -> None:
    r = await any_read_model.get(path, as_user=ADMIN, **{name: value})
    details = problem(r, 422)
    assert details["field"] == name, details


@pytest.mark.parametrize("path", ["/issues", "/stats"])
async def test_times_inside_the_range_are_answered(any_read_model: Api, path: str) -> None:
    for since, until in [  # the range's edges (a trend's period stays short enough)
        ("2000-01-01T00:00:00Z", "2001-01-01T00:00:00+14:00"),
        ("2099-01-01T00:00:00", "2099-12-31T23:59:59+00:00"),
    ]:
        r = await any_read_model.get(path, as_user=ADMIN, since=since, until=until)
        assert r.status_code == 200, r.text


def _cursor(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


ISSUE_ID = "0" * 32
BAD_CURSORS = [
    "!!!",  # not base64
    "é",  # not even ASCII
    _cursor(b"\xff\xfe"),  # not UTF-8
    _cursor(b'["\\ud800", "\\ud800"]'),  # lone surrogates, once decoded
    _cursor(b'["2026-01-01T00:00:00+00:00", "\\udfff"]'),
    _cursor(["2026-01-01T00:00:00+00:00"]),  # one element
    _cursor(["2026-01-01T00:00:00+00:00", ISSUE_ID, 3]),  # three
    _cursor({"at": "2026-01-01T00:00:00+00:00", "id": ISSUE_ID}),  # an object
    _cursor("ab"),  # a string unpacks into two characters
    _cursor([1, ISSUE_ID]),
    _cursor(["2026-01-01T00:00:00+00:00", 7]),
    _cursor(["2026-01-01T00:00:00+00:00", "not-an-issue-id"]),
    _cursor(["2026-01-01T00:00:00", ISSUE_ID]),  # naive
    _cursor(["9999-12-31T23:59:59-23:59", ISSUE_ID]),  # overflows in UTC
    _cursor(["0001-01-01T00:00:00+12:00", ISSUE_ID]),
    _cursor([[[[[]]]]]),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_cursors_the_api_did_not_write_are_refused_naming_cursor(
    any_read_model: Api, cursor: str
) -> None:
    r = await any_read_model.get("/issues", as_user=ADMIN, cursor=cursor)
    assert problem(r, 422)["field"] == "cursor"


async def test_a_cursor_the_api_wrote_still_pages(any_read_model: Api) -> None:
    api = any_read_model
    for n in range(3):
        await api.register(title=f"分页 {n}")
    first = (await api.get("/issues", as_user=f"village-{VILLAGE}", limit=2)).json()
    assert first["next_cursor"]
    second = await api.get("/issues", as_user=f"village-{VILLAGE}", cursor=first["next_cursor"])
    assert second.status_code == 200, second.text
    seen = {i["id"] for i in first["data"]} & {i["id"] for i in second.json()["data"]}
    assert not seen
