"""How values cross Temporal's boundaries: one data converter for every client, worker and replay.

Pydantic's (``temporalio.contrib.pydantic``, Temporal's own) rather than the SDK's default. The
JSON is the same shape, so either side reads the other's payloads (recorded histories included),
but the default converter re-derives every dataclass's type hints on every decode, re-evaluating
``domain.models``' string annotations: about 2 ms to decode one issue's state, which the recorder
pays on every escalation, against 0.03 ms for pydantic-core's compiled validator (encode 0.30 →
0.05 ms; `bench/README.md` has the measurement). It also writes Chinese text as UTF-8 instead of
six-byte ``\\uXXXX`` escapes, so a payload of Chinese notes is about half the size it was, well
inside the limits ``domain.lifecycle.limits`` keeps from Temporal's 2 MB blob cap.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import TypeAdapter
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import DataConverter

# One cache of type adapters for the whole process. The SDK makes a new payload converter for
# every workflow run a worker takes up (and every replay), and pydantic's converter caches its
# adapters per instance: each cold run rebuilt the schema of its start, its updates and its
# activities' results (about 15 ms a type; tens of ms a run, seconds on a loaded machine, where
# the SDK's deadlock detector then failed the task). The types are the passed-through domain
# classes, the same objects in every sandbox; an adapter holds no state.
_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}
_BUILDING = threading.Lock()
_MOST = 1024


def _adapter(type_hint: Any) -> TypeAdapter[Any]:
    """The process's adapter for ``type_hint``, built once.

    Built under a lock, so that runs activated together on the worker's threads build a type's
    schema once between them. Only a complete adapter is kept: built inside a sandbox that lacks
    a module its types name, pydantic hands back a stand-in that fails every validation (seen
    when a shell stopped importing ``domain.models``), and a shared cache must not pass that on
    to every later run. ``warm`` builds the starts outside any sandbox for that reason too.
    """
    found = _ADAPTERS.get(type_hint)
    if found is not None:
        return found
    with _BUILDING:
        found = _ADAPTERS.get(type_hint)
        if found is None:
            found = TypeAdapter(type_hint)
            # A bound, should a type ever come from a module each sandbox imports afresh.
            if found.pydantic_complete and len(_ADAPTERS) < _MOST:
                _ADAPTERS[type_hint] = found
    return found


def warm(*types: Any) -> None:
    """Build the adapters of ``types`` now, outside any workflow sandbox: a worker's first cold
    runs (and a replay's first activation) then decode their starts without building a schema
    inside the deadlock detector's 2 s."""
    for type_hint in types:
        _adapter(type_hint)


class SharedAdapterPayloadConverter(PydanticPayloadConverter):
    """Pydantic's payload converter, its JSON part reading the process-wide adapter cache."""

    def __init__(self) -> None:
        super().__init__()
        for converter in self.converters.values():
            if isinstance(converter, PydanticJSONPlainPayloadConverter):
                # The SDK's converter calls this attribute for an adapter (pinned in uv.lock;
                # tests/domain/test_payloads.py fails if an upgrade changes that).
                converter._type_adapter = _adapter  # type: ignore[assignment]


DATA_CONVERTER = DataConverter(payload_converter_class=SharedAdapterPayloadConverter)
PAYLOADS = DATA_CONVERTER.payload_converter
