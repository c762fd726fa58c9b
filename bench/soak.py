"""The soak, run again and again: ``python -m bench.soak --runs 20``.

Each run is ``pytest tests/faults/test_soak.py`` in a process of its own (two hundred issues on
random paths, the worker killed twice, every history replayed strictly), with a seed of its own
so the runs walk different paths. Prints one line a run and the count at the end; a failed run's
histories and worker log are kept under ``test-artifacts/`` by the fault tests. Not in CI: twenty
runs take about an hour on two cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20240611, help="the first run's seed")
    parser.add_argument("--stop-on-failure", action="store_true")
    args = parser.parse_args()
    passed = 0
    for run in range(1, args.runs + 1):
        seed = args.seed + run - 1
        began = time.monotonic()
        env = {**os.environ, "LINKAGE_SOAK_SEED": str(seed)}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/faults/test_soak.py",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.monotonic() - began
        ok = done.returncode == 0
        passed += ok
        tail = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
        print(
            f"run {run:2d} seed {seed}: {'passed' if ok else 'FAILED'} in {took:.0f} s — {tail[0]}"
        )
        if not ok:
            kept = ROOT / "test-artifacts" / f"soak-run-{run}-seed-{seed}.log"
            kept.parent.mkdir(exist_ok=True)
            kept.write_text(done.stdout + done.stderr)
            reasons = [line for line in done.stdout.splitlines() if line.startswith("E  ")]
            print(*reasons[:12], f"whole output: {kept}", sep="\n")
            if args.stop_on_failure:
                break
        sys.stdout.flush()
    print(f"{passed} of {run} runs passed")
    return 0 if passed == run else 1


if __name__ == "__main__":
    sys.exit(main())
