"""The data converter every client, worker and replay uses (``domain.payloads``): the workflow
runs' converters share one cache of pydantic type adapters, so a run a worker takes up cold does
not rebuild its types' schemas, and runs decoding at once on several threads all get a complete
adapter."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter

from domain import payloads
from domain.models import IssueStart
from domain.payloads import DATA_CONVERTER, PAYLOADS, SharedAdapterPayloadConverter
from tests.domain.conftest import new_issue


@dataclass
class Leaf:
    name: str


@dataclass
class Tree:
    """A type no other test decodes, so its adapter is built here."""

    leaves: list[Leaf] = field(default_factory=list)
    parent: Tree | None = None


def _json_part(converter: object) -> PydanticJSONPlainPayloadConverter:
    assert isinstance(converter, SharedAdapterPayloadConverter)
    (json,) = [
        c for c in converter.converters.values() if isinstance(c, PydanticJSONPlainPayloadConverter)
    ]
    return json


def test_each_runs_converter_reads_the_one_adapter_cache() -> None:
    # As the SDK does for every workflow run it takes up, and for every replay.
    first, second = (DATA_CONVERTER.payload_converter_class() for _ in range(2))
    assert _json_part(first)._type_adapter is _json_part(second)._type_adapter

    start = IssueStart(issue=new_issue())
    payload = PAYLOADS.to_payloads([start])
    first.from_payloads(payload, [IssueStart])
    adapter = payloads._ADAPTERS[IssueStart]
    assert second.from_payloads(payload, [IssueStart]) == [start]
    assert payloads._ADAPTERS[IssueStart] is adapter  # nothing rebuilt for the second run


def test_runs_decoding_at_once_all_get_a_complete_adapter() -> None:
    tree = Tree(leaves=[Leaf("龙池村")], parent=Tree())
    payload = PAYLOADS.to_payloads([tree])

    def decode(_: int) -> object:
        return DATA_CONVERTER.payload_converter_class().from_payloads(payload, [Tree])[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        decoded = list(pool.map(decode, range(32)))
    assert decoded == [tree] * 32
    assert payloads._ADAPTERS[Tree].pydantic_complete


def test_warming_builds_a_complete_adapter_before_any_decode() -> None:
    """What a worker does for the three starts when it starts (``workers.main.make_worker``)."""

    @dataclass
    class Fresh:
        tree: Tree

    payloads.warm(Fresh)
    assert payloads._ADAPTERS[Fresh].pydantic_complete
