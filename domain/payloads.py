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

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

DATA_CONVERTER: DataConverter = pydantic_data_converter
PAYLOADS = DATA_CONVERTER.payload_converter
