"""The bare SDK baseline the lag benchmark weighs an escalation against, and how it is compared.

The baseline must stay what the comparison says it is: a timer to the instant, then one activity
round trip that writes one row, two workflow tasks in all (read from its history, as the bench
reads ours). The table puts ours beside it with ours ÷ bare.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench import bare_activity
from bench.bare import ID_PREFIX, WORKFLOW_NAME, BareStart, BareTimerWorkflow
from bench.burst import Burst, Shape, shape
from bench.common import Dist
from bench.lag_figures import beside_bare
from domain.payloads import DATA_CONVERTER
from store.db import make_engine
from tests.conftest import venv_binary


async def test_bare_workflow_sleeps_to_its_instant_then_writes_one_row_in_one_round_trip(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'read-model.db'}")
    bare_activity.reset(engine)
    queue = f"bare-{uuid.uuid4().hex[:8]}"
    keys = [f"{ID_PREFIX}test-{i}" for i in range(3)]
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        data_converter=DATA_CONVERTER,
        ui=False,
    ) as env:
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[BareTimerWorkflow],
            activities=[bare_activity.BareWriter(engine).write],
            activity_executor=ThreadPoolExecutor(4),
        ):
            due = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
            handles = [
                await env.client.start_workflow(
                    WORKFLOW_NAME, BareStart(key=k, due=due.timestamp()), id=k, task_queue=queue
                )
                for k in keys
            ]
            for handle in handles:
                await handle.result()
        rows = bare_activity.instants(engine, ID_PREFIX)
        assert sorted(rows) == keys
        for row_due, fired, written in rows.values():
            assert row_due == due
            assert due <= fired <= written  # the timer never fires early; the row comes after
        assert sorted(bare_activity.written_keys(engine, ID_PREFIX)) == keys
        assert await shape(env.client, keys) == Shape(
            workflow_tasks=2, activity_round_trips=1, local_activities=0, samples=3
        )
    engine.dispose()


def _burst(due: int, server_s: float, worker_s: float, last_s: float) -> Burst:
    return Burst(
        due=due,
        all_done=True,
        seen_after=Dist.of([last_s / 2, last_s]),
        cpu={"temporal": {"cpu_s": server_s}, "worker": {"cpu_s": worker_s}, "bench": {"cpu_s": 9}},
    )


def test_the_table_sets_ours_beside_bare_per_firing_with_ours_over_bare() -> None:
    ours = _burst(1000, server_s=12.0, worker_s=24.0, last_s=40.0)
    bare = _burst(1000, server_s=8.0, worker_s=8.0, last_s=20.0)
    assert ours.cpu_ms() == 36.0  # server and worker; the bench's own polling is not charged
    assert ours.rate == 25.0
    rows = {row[0]: row[1:] for row in beside_bare(ours, bare, 1000).rows}
    assert rows["server + worker CPU per firing, ms"] == ["36", "16", "2.25×"]
    assert rows["worker CPU per firing, ms"] == ["24", "8", "3×"]
    assert rows["rate, per s"] == ["25", "50", "0.5×"]
    assert rows["all done after, s"] == ["40", "20", "2×"]


def test_a_burst_that_overlapped_its_starts_reports_no_cpu() -> None:
    burst = _burst(1000, server_s=12.0, worker_s=24.0, last_s=40.0)
    burst.overlap = "the instant came before the last of the starts"
    assert burst.cpu_ms() != burst.cpu_ms()  # NaN: the window held the starts' work too
    assert burst.seconds != burst.seconds
