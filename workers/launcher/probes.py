"""What the launcher asks of the machine: free ports, listeners, HTTP answers, live processes.

Only the standard library and ``/proc``: these run in ``linkage up``'s supervisor, which must not
load the Temporal SDK (its native runtime can crash at interpreter exit, ``PyGILState_Release``).
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from contextlib import ExitStack, suppress
from pathlib import Path


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Distinct ports nobody listens on now: every socket stays open until all are picked.

    The kernel may hand a port out again once its socket closes, so a caller should bind it soon.
    """
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind ``host:port`` now."""
    # SO_REUSEADDR as the servers set it, so a port in TIME_WAIT counts as free (they can bind it).
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# No proxies: a CI machine's HTTP_PROXY must not swallow a request to 127.0.0.1.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status a GET of ``url`` answers, or None when nothing answers."""
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


def reports_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether a GET of ``url`` answers 200 with a JSON body whose ``status`` is ``ok``.

    ``/healthz`` answers 200 ``degraded`` while the API works but no worker polls yet: a stack
    is up only when every part of it is.
    """
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return response.status == 200 and json.load(response).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


def _stat_fields(pid: int | str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name: state, ppid, pgrp, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a process that can still run (a zombie only waits to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with suppress(OSError, IndexError):
        return _stat_fields(pid)[0] != "Z"
    return True


def group_members(pgids: set[int]) -> list[int]:
    """Live pids whose process group is one of ``pgids``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(entry.name)
        except OSError:
            continue
        if fields and fields[0] != "Z" and int(fields[2]) in pgids:
            members.append(int(entry.name))
    return members


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 if it is gone)."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of the whole line (1-based), in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
