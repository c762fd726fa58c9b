"""Schemathesis over the published OpenAPI: whatever a client sends, the API answers within what
it documents.

Every operation gets schema-valid and schema-invalid requests as ``county-admin``, who may act on
every issue, so the action endpoints reach real workflows and their validators. Every Schemathesis
check runs on each response: no 5xx, a documented status code and content type, a body matching
the documented model (a problem detail, ``application/problem+json``, for every error), invalid
data refused, valid data accepted, authentication not ignored.

Two phases: every operation fuzzed alone (schema-valid and schema-invalid data), then stateful
scenarios that follow the links Schemathesis infers between operations (a registration's ``id``
into the actions, reads and lists of that issue).

The app is reached in process through Schemathesis's ASGI client, which runs it on its own event
loop thread; the examples run in a worker thread, so the session loop stays free for the Temporal
worker that the actions wait for.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, CheckContext, GenerationMode, Response
from schemathesis.core.result import Err
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

# Imported here, at collection, not lazily by ``from_asgi`` in the worker thread the test loads
# the schema on: pytest rewrites the asserts of a plugin's modules as they are first imported,
# and CPython 3.11 then sometimes fails to parse them off the main thread ("AST constructor
# recursion depth mismatch"), which failed one fresh-clone run.
from schemathesis.specs.openapi.schemas import OpenApiSchema  # noqa: F401
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from api.problems import MEDIA_TYPE
from settings import Settings

from .conftest import COUNTY, TOWNSHIP, Api

FUZZ_VILLAGE = "611025001006"  # 北城社区: no other API test registers or counts issues here
USER = "county-admin"
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
STATEFUL_SCENARIOS, STATEFUL_STEPS = 25, 8
# Sign-in runs argon2 on every attempt, even for unknown users: a few examples are enough.
FEW_EXAMPLES = {"POST /api/v1/auth/token": 3}

# Request fields whose validity no JSON schema can state, so a schema-valid request may still get
# a 422 naming one of them: references to stored data (units, categories, departments, pages
# already served, the issue a duplicate repeats, an Idempotency-Key already used for another
# registration), and a period whose ends are each fine but not together (until before since, too
# long for a trend).
REFERENCES = frozenset(
    {"village_code", "category", "departments", "unit", "cursor", "grid", "duplicate_of"}
)
REFERENCE_HEADERS = frozenset({"Idempotency-Key"})
PERIOD = frozenset({"since", "until", "bucket"})
# Instants a request carries (api.inputs.Instant) lie in 2000–2100: JSON Schema has no bounds for a
# date-time, so the API's 422 naming the field is the answer to a year like 2833.
INSTANTS = frozenset({"started_at", "ended_at", "recorded_at", "meeting_at", "due"})
# Administration: references (a department, a unit or department owning a channel, a village,
# a county), the password policy (not the username, letters and digits), a sheet's contents
# (``file``, ``rows.<line>.<column>``), and a channel's fields, which each channel needs or not.
ADMIN = frozenset(
    {"department", "owner_code", "village", "county", "password", "new_password", "file", "rows"}
    | {"url", "token", "key", "secret", "to", "smtp_host", "smtp_from"}
)
# A deliberation's rules across fields and state (domain.deliberation.checks): a quorum, a
# majority, the next 四议 step, a household's one ballot, a poll's options, a decision's parts.
DELIBERATION_RULES = frozenset(
    {
        "attendance",
        "votes",
        "step",
        "household",
        "option",
        "options",
        "kind",
        "participants",
        "issue_id",
        "decision",
        "decision.text",
        "decision.responsible_unit",
        "decision.due",
        "reason",
        "percent",
        "satisfaction",
    }
)
KNOWN: dict[str, Any] = {
    "village_code": FUZZ_VILLAGE,
    "category": "sanitation",
    "departments": ["zhenan-zhujian"],
    "unit": "611025001007",  # 太坪社区, a neighbour: a transfer's target, a subtree to count
}


def valid_data_accepted(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Schemathesis's ``positive_data_acceptance``, except that a 422 naming one of the fields
    above is an answer; any other refusal of schema-valid data means the schema promises more
    than the API accepts."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    status = response.status_code
    if status < 400 or status in (401, 403, 404, 409, 429) or status >= 500:
        return None  # 5xx: not_a_server_error's business
    field = response.json().get("field") if status == 422 else None
    # ``departments.1``, ``rows.7.手机``: the field is the list's.
    named = field.split(".")[0] if field else field
    assert (
        named in ADMIN | REFERENCES
        or field in REFERENCES | REFERENCE_HEADERS | PERIOD | DELIBERATION_RULES | INSTANTS
    ), (
        f"Schema-valid data refused with {status} (field {field!r}): the schema should say "
        f"what the API refuses\n{response.text}"
    )
    return True


def problems_are_problem_json(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx and 5xx is an RFC 9457 problem detail, whatever the schema says."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith(MEDIA_TYPE), f"{response.status_code} as {content_type}"
    body = response.json()
    assert body["status"] == response.status_code and body["type"].startswith("urn:"), body
    return True


_ENFORCED: set[str] = set()  # operations whose bearer token was shown to be required


def bearer_token_enforced(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """What ``ignored_auth`` does for the bearer token, which it cannot see: Schemathesis takes
    only apiKey and http schemes for credentials, and ours is OAuth2's password flow.

    Once per operation, a request that succeeded is sent again without the token and with a
    forged one; both must be a 401.
    """
    if not 200 <= response.status_code < 300 or not case.operation.definition.raw.get("security"):
        return None
    if case.operation.label in _ENFORCED:
        return None
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    for probe_headers in (headers, {**headers, "Authorization": "Bearer forged.token.value"}):
        probe = case.operation.Case(
            path_parameters=case.path_parameters,
            headers=probe_headers,
            cookies=case.cookies,
            query=case.query,
            body=case.body,
            media_type=case.media_type,
        ).call()
        assert probe.status_code == 401, (
            f"{case.operation.label} answered {probe.status_code} to "
            f"{probe_headers.get('Authorization', 'no token')!r}"
        )
    _ENFORCED.add(case.operation.label)
    return True


# Ours, beside every Schemathesis check but positive_data_acceptance (which the first replaces).
CHECKS = [valid_data_accepted, problems_are_problem_json, bearer_token_enforced]


@pytest.fixture(scope="module")
def app(settings: Settings, engine: Engine, temporal_env: WorkflowEnvironment) -> Iterator[FastAPI]:
    app = create_app(settings, temporal=temporal_env.client, engine=engine)
    yield app
    asgi.shutdown_lifespans()


def _takes_input(operation: APIOperation) -> bool:
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))


def _known_references(case: Case) -> Case:
    """The case with every reference it makes replaced by one that exists."""
    if isinstance(case.body, dict):
        case.body = {k: KNOWN.get(k, v) for k, v in case.body.items()}
    if case.query:
        case.query = {k: KNOWN.get(k, v) for k, v in case.query.items()}
    return case


def _strategy(operation: APIOperation, mode: GenerationMode, known: dict[str, list[Any]]) -> Any:
    """Generated cases; for valid data, half of them about real issues, units, departments and
    notifications, so they get past the lookups and reach the workflows."""
    generated = operation.as_strategy(generation_mode=mode)
    if mode is not GenerationMode.POSITIVE:
        return generated
    fixed = {p.name: st.sampled_from(known[p.name]) for p in operation.path_parameters}
    real = st.fixed_dictionaries(fixed).flatmap(
        lambda path: operation.as_strategy(generation_mode=mode, path_parameters=path)
    )
    return st.one_of(generated, real.map(_known_references))


def _fuzz(
    operation: APIOperation, session: Any, auth: dict[str, str], known: dict[str, list[Any]]
) -> None:
    for mode, examples in EXAMPLES.items():
        if mode is GenerationMode.NEGATIVE and not _takes_input(operation):
            continue  # nothing to get wrong

        @settings(
            max_examples=FEW_EXAMPLES.get(operation.label, examples),
            deadline=None,
            database=None,
            derandomize=True,
            # Both are about generating quickly, not about the API: a body whose fields are each
            # one of several shapes (a deliberation's ``due``) is drawn with much filtering.
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(case=_strategy(operation, mode, known))
        def check(case: Case) -> None:
            case.call_and_validate(
                session=session,
                # Named here, the token is one ignored_auth knows it cannot remove: it probes
                # only the API key, and bearer_token_enforced does the rest.
                headers=auth,
                excluded_checks=[positive_data_acceptance],
                additional_checks=CHECKS,
            )

        check()


def _stateful(schema: BaseSchema, auth: dict[str, str]) -> tuple[str, int]:
    """The stateful phase: sequences of calls along the links Schemathesis infers between
    operations (an issue registered, then acted on, read and listed), every check on every
    answer. Returns the failure's report (or nothing) and how many actions succeeded on an issue
    registered earlier in their scenario."""
    machine = schema.as_state_machine()
    chained = 0

    class Scenarios(machine):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            self.registered: set[str] = set()

        def after_call(self, response: Response, case: Case) -> None:
            nonlocal chained
            if case.operation.label == "POST /api/v1/issues" and response.status_code == 201:
                self.registered.add(response.json()["id"])
            issue = (case.path_parameters or {}).get("issue_id")
            chained += issue in self.registered and response.status_code == 200

        def before_call(self, case: Case) -> None:
            # Valid data names a village, category and departments that exist, so registrations
            # succeed and their issues flow into the actions.
            if case.meta is not None and case.meta.generation.mode.is_positive:
                _known_references(case)

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"session": session, "headers": auth}

        def validate_response(
            self,
            response: Response,
            case: Case,
            additional_checks: list[Any] | None = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                excluded_checks=[positive_data_acceptance],
                additional_checks=CHECKS,
                transport_kwargs=kwargs,
            )

    with asgi.get_client(schema.app) as session:
        try:
            Scenarios.run(
                settings=settings(
                    max_examples=STATEFUL_SCENARIOS,
                    stateful_step_count=STATEFUL_STEPS,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    suppress_health_check=list(HealthCheck),
                )
            )
        except (Exception, BaseExceptionGroup) as failure:
            return f"stateful phase: {failure}", chained
    return "", chained


def _fuzz_all(schema: BaseSchema, auth: dict[str, str], known: dict[str, list[Any]]) -> str:
    """Every operation, each to its first failure; the failures' reports, one after another."""
    reports = []
    with asgi.get_client(schema.app) as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                reports.append(f"an operation Schemathesis cannot read: {result.err()}")
                continue
            operation = result.ok()
            try:
                _fuzz(operation, session, auth, known)
            except (Exception, BaseExceptionGroup) as failure:
                reports.append(f"{operation.label}: {failure}")
    return "\n\n".join(reports)


async def _admin_targets(api: Api, auth: dict[str, str]) -> dict[str, list[Any]]:
    """Accounts, a key and a channel of the fuzz village for the admin operations' paths: never
    the signed-in admin (a fuzzed reset of its own password would sign every later call out)."""
    usernames = [f"fuzz-{role}-{uuid.uuid4().hex[:6]}" for role in ("clerk", "leader")]
    for username, role in zip(usernames, ("clerk", "leader"), strict=True):
        r = await api.http.post(
            "/admin/users",
            headers=auth,
            json={
                "username": username,
                "display_name": "模糊测试",
                "role": role,
                "unit": FUZZ_VILLAGE,
            },
        )
        assert r.status_code == 201, r.text
    key = await api.http.post(
        "/admin/api-keys", headers=auth, json={"department": "zhenan-zhujian", "name": "模糊测试"}
    )
    # A port nothing listens on: a test send is refused at once and never leaves the machine.
    channel = await api.http.post(
        "/admin/channels",
        headers=auth,
        json={
            "owner_kind": "unit",
            "owner_code": FUZZ_VILLAGE,
            "channel": "webhook",
            "url": "http://127.0.0.1:9/hook",
            "secret": "fuzz-secret",
        },
    )
    return {
        "username": usernames,
        "prefix": [key.json()["prefix"]],
        "target_id": [channel.json()["id"]],
    }


@pytest.mark.timeout(240)
async def test_every_operation_answers_as_documented(api: Api, app: FastAPI) -> None:
    # Real values for every path parameter: actions move these issues along, so there are
    # enough of them for the later operations to find some still open.
    issues = [
        (await api.register(FUZZ_VILLAGE, as_user=USER, title=f"接口模糊测试 {n}"))["id"]
        for n in range(6)
    ]
    inbox = (await api.get("/inbox", as_user=USER)).json()["data"]
    opened = [
        await api.http.post(
            "/deliberations",
            json={"unit": FUZZ_VILLAGE, "topic": f"模糊测试议题 {n}", "kind": kind},
            headers=await api.headers(USER),
        )
        for n, kind in enumerate(("representatives_meeting", "hearing", "four_deliberations"))
    ]
    assert all(r.status_code == 201 for r in opened), [r.text for r in opened]
    known: dict[str, list[Any]] = {
        "issue_id": issues,
        "deliberation_id": [r.json()["id"] for r in opened],
        "code": [COUNTY, TOWNSHIP, FUZZ_VILLAGE],
        "document_id": ["no-such-report"],
        "duty_id": ["no-such-run"],
        "notification_id": [n["id"] for n in inbox] or [1],
        **await _admin_targets(api, await api.headers(USER)),
    }
    auth = await api.headers(USER)
    # Schemathesis sends the token on every request and generates no other credentials.
    token = auth["Authorization"].removeprefix("Bearer ")
    config = schemathesis.Config.from_dict(
        {"auth": {"openapi": {"OAuth2PasswordBearer": {"bearer": token}}}}
    )
    schema = await asyncio.to_thread(
        schemathesis.openapi.from_asgi, "/api/v1/openapi.json", app, config=config
    )
    assert len(list(schema.get_all_operations())) >= 20
    failures = await asyncio.to_thread(_fuzz_all, schema, auth, known)
    stateful, chained = await asyncio.to_thread(_stateful, schema, auth)
    assert not failures + stateful, failures + stateful
    assert chained > 0, "the stateful phase never acted on an issue it had registered"


async def test_the_openapi_documents_every_error_as_a_problem(api: Api) -> None:
    doc = (await api.http.get("/openapi.json")).json()
    problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            label = f"{method.upper()} {path}"
            errors = {status: a["content"] for status, a in answers.items() if status >= "400"}
            assert all(content == problem for content in errors.values()), (label, errors)
            if operation.get("security"):
                assert "401" in answers, label
            if "requestBody" in operation or operation.get("parameters"):
                assert "422" in answers, label
            if "requestBody" in operation:
                assert "400" in answers, label
    assert "HTTPValidationError" not in doc["components"]["schemas"]
