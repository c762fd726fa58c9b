"""What one escalation's ``record`` input costs to decode and encode: ``python -m bench.payloads``.

Reads the record inputs of a recorded history (``tests/workflows/histories``) and times the SDK's
default converter beside pydantic's (``domain.payloads``, what every client and worker uses), on
one thread. Prints milliseconds per decode and encode and the payload's size with each; then what
a run taken up cold pays for its first decode, with a converter of its own as the SDK makes one
for every run: pydantic's (adapters cached per converter) beside ours (one cache per process).
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, PayloadConverter

from domain.models import Snapshot
from domain.payloads import PAYLOADS, SharedAdapterPayloadConverter

HISTORY = (
    Path(__file__).resolve().parents[1]
    / "tests/workflows/histories/escalated_on_timeout_twice_then_overdue.json.gz"
)
ROUNDS = 300
COLD_ROUNDS = 30


def record_inputs() -> list[Payload]:
    events = json.loads(gzip.decompress(HISTORY.read_bytes()))["events"]
    scheduled = [e.get("activityTaskScheduledEventAttributes") or {} for e in events]
    return [
        json_format.ParseDict(a["input"]["payloads"][0], Payload())
        for a in scheduled
        if a.get("activityType", {}).get("name") == "record"
    ]


def timed(converter: PayloadConverter, payload: Payload) -> tuple[float, float, int]:
    value = converter.from_payloads([payload], [Snapshot])[0]
    began = time.perf_counter()
    for _ in range(ROUNDS):
        converter.from_payloads([payload], [Snapshot])
    decode = (time.perf_counter() - began) / ROUNDS * 1000
    began = time.perf_counter()
    for _ in range(ROUNDS):
        encoded = converter.to_payloads([value])[0]
    encode = (time.perf_counter() - began) / ROUNDS * 1000
    return decode, encode, len(encoded.data)


def cold(make: type[PayloadConverter], payload: Payload) -> float:
    """Milliseconds of a first decode by a new converter, as each cold run's."""
    make().from_payloads([payload], [Snapshot])
    began = time.perf_counter()
    for _ in range(COLD_ROUNDS):
        make().from_payloads([payload], [Snapshot])
    return (time.perf_counter() - began) / COLD_ROUNDS * 1000


def main() -> None:
    payload = record_inputs()[-1]  # the escalation's record, the largest state
    default = timed(DataConverter.default.payload_converter, payload)
    ours = timed(PAYLOADS, payload)
    for name, (decode, encode, size) in (("SDK default", default), ("pydantic (ours)", ours)):
        print(f"{name:16} decode {decode:.3f} ms  encode {encode:.3f} ms  {size:,} bytes")
    print(f"decode ours ÷ default: {ours[0] / default[0]:.3f}×")
    per_run = cold(PydanticPayloadConverter, payload)
    shared = cold(SharedAdapterPayloadConverter, payload)
    print(f"a cold run's first decode: pydantic's {per_run:.2f} ms, ours {shared:.3f} ms")


if __name__ == "__main__":
    main()
