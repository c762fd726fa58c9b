"""The data converter every client, worker and replay uses (``domain.payloads``): the workflow
runs' converters share one cache of pydantic type adapters, so a run a worker takes up cold does
not rebuild its types' schemas."""

from __future__ import annotations

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter

from domain.models import IssueStart
from domain.payloads import DATA_CONVERTER, PAYLOADS, SharedAdapterPayloadConverter
from tests.domain.conftest import new_issue


def _json_part(converter: SharedAdapterPayloadConverter) -> PydanticJSONPlainPayloadConverter:
    (json,) = [
        c for c in converter.converters.values() if isinstance(c, PydanticJSONPlainPayloadConverter)
    ]
    return json


def test_each_runs_converter_reads_the_one_adapter_cache() -> None:
    # As the SDK does for every workflow run it takes up, and for every replay.
    first, second = (DATA_CONVERTER.payload_converter_class() for _ in range(2))
    assert isinstance(first, SharedAdapterPayloadConverter)
    assert isinstance(second, SharedAdapterPayloadConverter)
    cache = _json_part(first)._type_adapter
    assert _json_part(second)._type_adapter is cache

    start = IssueStart(issue=new_issue())
    (payload,) = PAYLOADS.to_payloads([start])
    assert isinstance(payload, Payload)
    first.from_payloads([payload], [IssueStart])
    built = cache.cache_info().currsize
    hits = cache.cache_info().hits
    decoded = second.from_payloads([payload], [IssueStart])
    assert decoded == [start]
    assert cache.cache_info().currsize == built  # nothing rebuilt for the second run
    assert cache.cache_info().hits > hits
