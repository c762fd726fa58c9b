"""Run the benchmarks: ``python -m bench.run --quick`` (``make bench``, about 5½ min) or ``--full``.

Starts a private stack (Temporal dev server on SQLite, the read model on SQLite, ``--workers``
worker processes and one API) on free ports in a temporary directory, runs the chosen benchmarks
in order — intake, lag (with footprint and the SQL poller peer), reads (SQLite, PostgreSQL) — and
stops everything, also on Ctrl-C or SIGTERM. Figures go to stdout as they come and to
``bench/results.json`` and ``bench/results.md``; progress goes to stderr.

Sizes: ``--quick`` 1,000 open issues and 10,000 closed; ``--full`` 1,000 and 10,000 open, 100,000
closed (expect well over half an hour on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from temporalio.client import Client

from bench import intake, lag, reads
from bench.common import machine, say
from bench.context import Ctx
from bench.report import write
from bench.stack import Stack
from bench.workload import IssueMaker, villages
from domain.payloads import DATA_CONVERTER

BENCHMARKS: dict[str, Callable[[Ctx], Awaitable[None]]] = {
    "intake": intake.run,
    "lag": lag.run,  # includes footprint and the SQL poller
    "reads": reads.run,
}
OUT_DIR = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes, about 5½ min (default)")
    size.add_argument("--full", action="store_true", help="the sizes the goals are set at")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        help="run only these benchmarks (repeatable); default all",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--open",
        type=int,
        action="append",
        metavar="N",
        help="lag/footprint sizes instead of the mode's (repeatable)",
    )
    parser.add_argument("--closed", type=int, metavar="M", help="reads: closed issues")
    parser.add_argument(
        "--probe-rate", type=float, metavar="R", help="lag: steady probes per second (2)"
    )
    parser.add_argument(
        "--window", type=int, metavar="S", help="lag: probe window in seconds (60 quick, 120 full)"
    )
    parser.add_argument(
        "--worker-option",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="experiment: a temporalio Worker argument over build_worker's, e.g. "
        "max_cached_workflows=20000 or sandbox=false (repeatable)",
    )
    parser.add_argument(
        "--dynamic-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="experiment: a dev server --dynamic-config-value (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where results.* go")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, DBs)")
    return parser.parse_args(argv)


async def bench(args: argparse.Namespace, stack: Stack, header: dict[str, object]) -> Ctx:
    await stack.start_temporal()
    await asyncio.to_thread(stack.prepare_read_model)
    await stack.start_workers()
    selected = args.only or list(BENCHMARKS)
    # Only intake goes through this API (reads start their own, one per database): `--only lag`
    # measures without one.
    api_base = (await stack.start_api())[1] if "intake" in selected else ""
    client = await Client.connect(stack.address, data_converter=DATA_CONVERTER)
    engine = stack.engine()
    all_villages = villages(engine, stack.settings.county)
    ctx = Ctx(
        stack=stack,
        client=client,
        engine=engine,
        villages=all_villages,
        maker=IssueMaker(stack.settings, all_villages),
        api_base=api_base,
        full=bool(args.full),
        open_sizes=tuple(args.open or ()),
        closed_size=args.closed,
        probe_window_s=args.window,
        probe_rate=args.probe_rate,
    )
    timings: dict[str, float] = {}
    header["phase_seconds"] = timings
    failures: list[str] = []
    header["failures"] = failures
    try:
        for name in selected:
            began = time.monotonic()
            say(f"== {name} ==")
            try:
                await BENCHMARKS[name](ctx)
            except Exception:
                failures.append(f"{name}: {traceback.format_exc(limit=6)}")
                say(f"{name} FAILED:\n{traceback.format_exc()}")
            timings[name] = round(time.monotonic() - began, 1)
        for finish in ctx.finishers:
            try:
                await finish()
            except Exception:
                failures.append(f"finishing: {traceback.format_exc(limit=6)}")
                say(f"finishing FAILED:\n{traceback.format_exc()}")
    finally:
        engine.dispose()
    return ctx


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="linkage-bench-"))
    options = {}
    for item in args.worker_option:
        key, _, value = item.partition("=")
        options[key] = json.loads(value)
    stack = Stack(
        root, workers=args.workers, worker_options=options, dynamic_config=args.dynamic_config
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = datetime.now(UTC)
    clock = time.monotonic()
    mode = "full" if args.full else "quick"
    header: dict[str, object] = {
        "mode": mode,
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "workers": args.workers,
        "worker_options": options,
        "dynamic_config": args.dynamic_config,
        "notes": [
            "Each benchmark's baseline runs on the same servers in the same run.",
            "Burst: bench.worker pins the village deadline of the N ballast issues to one "
            "instant (only the level_clock activity's answer differs from production); "
            "steady probes use the bench policy's relative deadline.",
            "Bare SDK baseline (lag): bench.bare, a timer to one instant then one activity "
            "inserting one row into the read model's database, N at once, registered in the "
            "same bench.worker Worker as the issues (same task queue, slots, thread pool, "
            "sticky cache) and fired after ours's burst with the same N issues open.",
            f"Stack: Temporal dev server on SQLite (devstack pragmas), read model on SQLite, "
            f"{args.workers} worker process(es), one API process (uvicorn, 1 process).",
        ],
    }
    say(f"bench ({mode}) in {root}")
    ctx: Ctx | None = None
    code = 0
    try:
        ctx = asyncio.run(bench(args, stack, header))
    except KeyboardInterrupt:
        say("interrupted: stopping everything")
        code = 130
    except Exception:
        say("bench failed:\n" + traceback.format_exc())
        code = 1
    finally:
        stack.close()
    header["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    header["elapsed_s"] = round(time.monotonic() - clock, 1)
    header["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if ctx is not None:
        json_path, md_path = write(
            args.out,
            header=header,
            figures=ctx.figures,
            details=ctx.details,
            diagnosis=ctx.diagnosis,
        )
        print(md_path.read_text(encoding="utf-8"), flush=True)
        say(f"wrote {json_path} and {md_path} in {header['elapsed_s']} s")
        if header.get("failures"):
            code = code or 1
    if args.keep:
        say(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return code


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal SDK's runtime may crash at interpreter exit (PyGILState_Release).
    os._exit(status)
