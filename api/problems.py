"""RFC 9457 problem details (``application/problem+json``) for every error the API answers.

One shape for every failure, so a department's machine client and the dashboard handle errors
with one code path: ``type``, ``title``, ``status``, ``detail``, ``instance``, and for bad input
``field`` (the first offending field) plus ``errors: [{field, message}]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import (
    RPCTimeoutOrCancelledError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger("linkage.api")

MEDIA_TYPE = "application/problem+json"
# ApplicationError types of the workflows' refusals (``workflows.common``): the rules said no;
# the workflow acts and takes no update now.
REJECTED, BUSY = "Rejected", "Busy"
TEMPORAL_CONNECT_FAILURE = "Failed client connect"  # the SDK's RuntimeError for no server

# A trailing "(field)" in a workflow refusal names the request field it is about.
_TRAILING_FIELD = re.compile(r"\s*\((?P<field>[A-Za-z_][A-Za-z0-9_.]*)\)\s*$")

_TITLES = {
    400: "请求无效",
    401: "未认证",
    403: "无权操作",
    404: "未找到",
    405: "方法不允许",
    409: "与事项当前状态冲突",
    413: "请求体过大",
    415: "不支持的媒体类型",
    422: "请求参数无效",
    429: "尝试次数过多",
    500: "服务器内部错误",
    503: "服务暂不可用",
}


def problem_type(slug: str) -> str:
    """A stable URN per kind of problem: clients switch on it, never on the Chinese text."""
    return f"urn:linkage:problem:{slug}"


_DEFAULT_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "content-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-attempts",
    500: "internal-error",
    503: "unavailable",
}


class FieldError(BaseModel):
    field: str = Field(description="请求中出错的字段（点号分隔的路径）", examples=["village_code"])
    message: str = Field(description="中文错误说明", examples=["未知的村（社区）代码"])


class Problem(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str = Field(examples=["urn:linkage:problem:validation-error"])
    title: str = Field(examples=["请求参数无效"])
    status: int = Field(examples=[422])
    detail: str | None = Field(default=None, examples=["字段 village_code：未知的村（社区）代码"])
    instance: str | None = Field(default=None, examples=["/api/v1/issues"])
    field: str | None = Field(default=None, description="第一个出错的字段", examples=["title"])
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raised anywhere in the API to answer with a problem detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        field: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _DEFAULT_SLUGS.get(status, "error")
        self.title = title
        self.field = field
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})


def invalid(field: str, message: str) -> ProblemError:
    """A 422 naming one field, for checks that need the database (unknown codes …)."""
    return ProblemError(
        422,
        f"字段 {field}：{message}",
        field=field,
        errors=[FieldError(field=field, message=message)],
    )


def forbidden(detail: str, *, field: str | None = None) -> ProblemError:
    return ProblemError(403, detail, field=field)


def not_found(detail: str = "未找到该资源") -> ProblemError:
    return ProblemError(404, detail)


def unauthorized(detail: str = "请先登录") -> ProblemError:
    # RFC 9110: a 401 names the scheme the client should use.
    return ProblemError(401, detail, headers={"WWW-Authenticate": "Bearer"})


def problem_response(
    request: Request,
    status: int,
    detail: str | None,
    *,
    slug: str | None = None,
    title: str | None = None,
    field: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A problem detail response; ``extra`` adds extension members (RFC 9457 §3.2)."""
    body = Problem(
        type=problem_type(slug or _DEFAULT_SLUGS.get(status, "error")),
        title=title or _TITLES.get(status) or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        field=field,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        {**body.model_dump(exclude_none=True), **(extra or {})},
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=dict(headers or {}),
    )


# ---- validation errors --------------------------------------------------------------------------

# Pydantic's messages are English; county staff read Chinese. Unknown types keep pydantic's text.
_MESSAGES: dict[str, str] = {
    "missing": "必填",
    "string_too_short": "不能为空或过短",
    "string_too_long": "过长",
    "string_type": "须为字符串",
    "string_pattern_mismatch": "格式不正确",
    "enum": "取值无效",
    "literal_error": "取值无效",
    "bool_parsing": "须为 true 或 false",
    "bool_type": "须为 true 或 false",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_from_float": "须为整数",
    "greater_than": "过小",
    "greater_than_equal": "过小",
    "less_than": "过大",
    "less_than_equal": "过大",
    "datetime_parsing": "须为 ISO 8601 时间",
    "datetime_from_date_parsing": "须为 ISO 8601 时间",
    "timezone_aware": "须带时区",
    "url_parsing": "须为网址",
    "url_scheme": "须为 http(s) 网址",
    "too_long": "条目过多",
    "too_short": "条目过少",
    "list_type": "须为数组",
    "model_attributes_type": "须为对象",
    "dict_type": "须为对象",
    "json_invalid": "不是有效的 JSON",
    "extra_forbidden": "不允许的字段",
}


# Pydantic puts the member of a union that refused a value into the loc ("function-after[
# within_range(), datetime]", "constrained-str", "WorkingDays", "str"): no field of ours, so the
# field a client reads is the union's own (``decision.due``).
_UNION_MEMBER = re.compile(
    r".*\[.*\]|constrained-[a-z]+|[A-Z][A-Za-z0-9]*|str|int|float|bool|datetime|timedelta|decimal"
)


def _field_name(loc: Sequence[Any]) -> str:
    """``("body", "reporter", "phone")`` → ``reporter.phone``; the body itself → ``body``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    # A JSON syntax error's loc ends with a character offset, which names no field.
    names = [
        str(p)
        for p in parts
        if (not isinstance(p, int) or p >= 0)
        and not (isinstance(p, str) and _UNION_MEMBER.fullmatch(p))
    ]
    if loc and loc[0] == "body" and len(loc) == 2 and isinstance(loc[1], int):
        return "body"
    return ".".join(names) or "body"


def _message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    text = _MESSAGES.get(kind)
    if kind == "enum":
        expected = (error.get("ctx") or {}).get("expected")
        return f"取值须为 {expected}" if expected else "取值无效"
    if kind == "value_error":
        # Our own validators raise ValueError with a Chinese message: keep it, minus the prefix.
        return str(error.get("msg", "")).removeprefix("Value error, ")
    return text or str(error.get("msg", "无效"))


def validation_problem(request: Request, raw_errors: Sequence[Any]) -> JSONResponse:
    errors = [
        FieldError(field=_field_name(e.get("loc", ())), message=_message(e)) for e in raw_errors
    ]
    first = errors[0] if errors else FieldError(field="body", message="无效")
    detail = "；".join(f"字段 {e.field}：{e.message}" for e in errors[:5])
    return problem_response(request, 422, detail, field=first.field, errors=errors)


# ---- workflow and infrastructure errors ---------------------------------------------------------


def rejection_field(reason: str) -> str | None:
    """The field named by a trailing ``(name)`` in a workflow refusal, if any."""
    match = _TRAILING_FIELD.search(reason)
    return match["field"] if match else None


def rejection_reason(reason: str) -> str:
    """A workflow refusal in the words people read: without its trailing ``(name)``."""
    return _TRAILING_FIELD.sub("", reason)


def _update_failed(request: Request, exc: WorkflowUpdateFailedError) -> JSONResponse:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type == BUSY:
        # Still busy after the API's patience (its record waits for a worker, say): nothing was
        # applied; the same request with the same Idempotency-Key may be sent again.
        return temporal_unavailable(request)
    if isinstance(cause, ApplicationError) and cause.type == REJECTED:
        reason = cause.message
        field = rejection_field(reason)
        # A route may map the workflow's name for a field to the request's (term → duration).
        aliases: Mapping[str, str] = getattr(request.state, "field_aliases", {})
        field = aliases.get(field, field) if field else None
        errors = [FieldError(field=field, message=reason)] if field else None
        return problem_response(request, 409, reason, slug="rejected", field=field, errors=errors)
    log.error("workflow update failed unexpectedly: %r", cause)
    return problem_response(request, 500, "事项处理失败，请稍后重试", slug="update-failed")


def _rpc_error(request: Request, exc: RPCError) -> JSONResponse:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return problem_response(request, 404, "事项不存在")
    log.warning("temporal rpc failed: %s %s", exc.status, exc.message)
    return temporal_unavailable(request)


def temporal_unavailable(request: Request) -> JSONResponse:
    return problem_response(
        request,
        503,
        "流程引擎暂不可用，请稍后重试",
        slug="temporal-unavailable",
        headers={"Retry-After": "5"},
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into a problem detail."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(
            request,
            exc.status,
            exc.detail,
            slug=exc.slug,
            title=exc.title,
            field=exc.field,
            errors=exc.errors,
            headers=exc.headers,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 404 and detail == "Not Found":
            detail = "没有这个接口"
        elif exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "请求体无法解析（须为 UTF-8 编码的 JSON 或表单）"
        return problem_response(request, exc.status_code, detail, headers=exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_problem(request, exc.errors())

    async def on_update_failed(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, WorkflowUpdateFailedError)
        return _update_failed(request, exc)

    async def on_rpc(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RPCError)
        return _rpc_error(request, exc)

    async def on_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("temporal unavailable: %r", exc)
        return temporal_unavailable(request)

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable: %r", exc)
        return problem_response(
            request,
            503,
            "数据库暂不可用，请稍后重试",
            slug="database-unavailable",
            headers={"Retry-After": "5"},
        )

    async def on_runtime(request: Request, exc: Exception) -> JSONResponse:
        # A lazily connected Temporal client reports an unreachable server this way.
        if str(exc).startswith(TEMPORAL_CONNECT_FAILURE):
            return await on_unavailable(request, exc)
        return await on_unexpected(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(request, 500, "服务器内部错误")

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(WorkflowUpdateFailedError, on_update_failed)
    app.add_exception_handler(RPCError, on_rpc)
    app.add_exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError, on_unavailable)
    app.add_exception_handler(RPCTimeoutOrCancelledError, on_unavailable)
    app.add_exception_handler(WorkflowQueryFailedError, on_unavailable)
    app.add_exception_handler(OperationalError, on_database)
    app.add_exception_handler(RuntimeError, on_runtime)
    app.add_exception_handler(Exception, on_unexpected)
    _document_problems(app)


# ---- the OpenAPI document -----------------------------------------------------------------------

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# FastAPI's own 422 body, which this API never sends (validation errors are problem details).
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries documenting the problem responses a route may answer with.

    503 is always among them: every such route reaches the database or Temporal, and either may be
    briefly unavailable.
    """
    return {
        status: {"model": Problem, "description": _TITLES.get(status, HTTPStatus(status).phrase)}
        for status in sorted({*statuses, 503})
    }


def created_or_found(
    model: type[BaseModel], found: str, *statuses: int
) -> dict[int | str, dict[str, Any]]:
    """The responses of a POST that creates (201) or, sent again, answers 200 with what it made
    the first time (``found`` says when), beside its problem responses."""
    return {200: {"model": model, "description": found}, **responses(*statuses)}


def _document_problems(app: FastAPI) -> None:
    """Make the OpenAPI say what the handlers above send.

    FastAPI files a response model under the route's media type (``application/json``) and adds
    its own ``HTTPValidationError`` for 422; here every error response becomes a ``Problem`` under
    ``application/problem+json``, and an operation with a body documents the 400 for a body that
    cannot be parsed at all (not UTF-8, not a form) and the 413 for one over the size limit.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                if "requestBody" in operation:
                    answers.setdefault("400", {"description": _TITLES[400]})
                    answers.setdefault("413", {"description": _TITLES[413]})  # api.limits
                operation["responses"] = answers = dict(sorted(answers.items()))
                for status, answer in answers.items():
                    if status[0] in "45":
                        answer["content"] = {MEDIA_TYPE: {"schema": _PROBLEM_REF}}
                        if status == "422":
                            answer["description"] = _TITLES[422]
        components = schema.get("components", {}).get("schemas", {})
        for name in _FASTAPI_VALIDATION_SCHEMAS:
            components.pop(name, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
