"""A refusal names the field a client sent, never pydantic's name for the member of a union that
refused it: a decision's due (an instant, a duration or working days) out of range is ``due``."""

from __future__ import annotations

from tests.api.conftest import Api, problem


async def test_a_union_fields_refusal_names_the_field(api: Api) -> None:
    headers = await api.headers("village-611025001001")
    body = {"decision": "adopt", "due": "0322-09-11T19:57:12Z"}
    r = await api.http.post("/deliberations/no-such/decide", json=body, headers=headers)
    assert problem(r, 422)["field"] == "due"
    nested = {
        "outcome": "consensus",
        "attendance": {"expected": 10, "present": 8},
        "summary": "纪要",
        "decision": {
            "text": "修路",
            "responsible_unit": "611025001001",
            "due": "2833-01-01T00:00:00Z",
        },
    }
    r = await api.http.post("/deliberations/no-such/close_round", json=nested, headers=headers)
    assert problem(r, 422)["field"] == "decision.due"
    # A field's own name stays whole, a list's item too.
    r = await api.http.post(
        "/issues",
        json={"village_code": "611025001001", "category": 7, "title": "t", "description": "d"},
        headers=headers,
    )
    assert problem(r, 422)["field"] == "category"
