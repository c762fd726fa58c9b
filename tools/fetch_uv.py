"""Put a uv binary into the checkout without installing anything into the system's Python.

``make`` runs this with the system's ``python3`` when no uv is on PATH. Debian 12 and Ubuntu 24.04
mark their Python externally managed (PEP 668) and refuse ``pip install``, even ``--user``; but
``pip download`` installs nothing, so it is allowed. It fetches the uv wheel from whatever index
pip is configured with (pip.conf, PIP_INDEX_URL: a county's mirror works as it does for pip), and
the wheel, a zip, carries the uv binary, which this unpacks to the path given.

Usage: python3 tools/fetch_uv.py VERSION DEST

Runs on the system's Python whatever its version (3.7 and newer), with the standard library only;
every failure is one line naming what to do, never a traceback.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


class SetupError(Exception):
    """A step that cannot go on; its text is the one line the user reads."""


def _as_root(command: str) -> str:
    """The command as the user must type it: through sudo unless they are root already."""
    return command if os.geteuid() == 0 or not shutil.which("sudo") else f"sudo {command}"


def _require_pip() -> None:
    if importlib.util.find_spec("pip") is not None:
        return
    if shutil.which("apt-get"):
        fix = _as_root("apt-get install python3-pip")
        raise SetupError(f"{sys.executable} has no pip; install it with: {fix}")
    raise SetupError(f"{sys.executable} has no pip; install pip for it, then run make again")


def _download_wheel(version: str, into: Path) -> Path:
    """The uv wheel for this machine, downloaded by pip (which checks the index's hash)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"uv=={version}",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(into),
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise SetupError(
            f"pip could not download uv {version} (its message is above); "
            "check the index pip uses: python3 -m pip config list"
        )
    wheels = sorted(into.glob("uv-*.whl"))
    if not wheels:
        raise SetupError(f"pip downloaded no uv wheel for this machine into {into}")
    return wheels[0]


def _unpack_binary(wheel: Path, dest: Path) -> None:
    """Copies the wheel's ``uv-*.data/scripts/uv`` to dest, executable, replacing it at once."""
    with zipfile.ZipFile(wheel) as archive:
        members = [
            name
            for name in archive.namelist()
            if name.endswith("/scripts/uv") and name.split("/", 1)[0].endswith(".data")
        ]
        if not members:
            raise SetupError(f"{wheel.name} holds no uv binary")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        with archive.open(members[0]) as source, partial.open("wb") as target:
            shutil.copyfileobj(source, target)
    partial.chmod(0o755)
    os.replace(partial, dest)


def _check_runs(dest: Path) -> str:
    try:
        done = subprocess.run([str(dest), "--version"], capture_output=True, text=True, check=False)
    except OSError as error:
        raise SetupError(f"{dest} does not run on this machine: {error.strerror}") from error
    if done.returncode != 0:
        raise SetupError(f"{dest} does not run on this machine: {done.stderr.strip()}")
    return done.stdout.strip()


def fetch_uv(version: str, dest: Path) -> str:
    """Downloads uv ``version`` with pip, unpacks its binary to dest; returns its version line."""
    _require_pip()
    print(f"linkage: fetching uv {version} with pip (it installs nothing) into {dest.parent}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # The download sits beside the destination: /tmp may be small or mounted noexec.
    with tempfile.TemporaryDirectory(prefix="download-", dir=dest.parent) as scratch:
        _unpack_binary(_download_wheel(version, Path(scratch)), dest)
    return _check_runs(dest)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python3 tools/fetch_uv.py VERSION DEST", file=sys.stderr)
        return 2
    try:
        print(f"linkage: {fetch_uv(argv[1], Path(argv[2]))} ready")
    except SetupError as error:
        print(f"linkage: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"linkage: cannot fetch uv: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
