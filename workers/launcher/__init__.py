"""The one launcher of Linkage's processes: ``linkage up``, the benchmarks and the e2e and fault
tests start, watch and stop the Temporal dev server, workers and APIs through it.

- ``process``: a ``Child`` in its own process group that dies with its parent, its log file, a
  stop (SIGTERM, grace, SIGKILL to the group), its log's tail, memory and CPU; ``wait_until``.
- ``probes``: free ports, listeners, HTTP answers, live pids and process groups, from ``/proc``.
- ``temporal``: the dev server's command line and search attributes, ``DevServer``, readiness.
- ``linkage``: the command and environment of ``linkage worker`` and ``linkage api``.
"""

from workers.launcher.linkage import child_environment, linkage_command
from workers.launcher.probes import (
    cpu_seconds,
    free_port,
    free_ports,
    group_members,
    http_status,
    pid_alive,
    port_free,
    port_open,
    reports_ok,
    rss_bytes,
)
from workers.launcher.process import (
    READY_TIMEOUT,
    STOP_GRACE,
    Child,
    LaunchError,
    describe_exit,
    signal_group,
    wait_until,
)
from workers.launcher.temporal import (
    TEMPORAL_LOG,
    DevServer,
    ensure_search_attributes,
    split_address,
    temporal_binary,
    temporal_server_command,
    wait_for_temporal,
)

__all__ = [
    "READY_TIMEOUT",
    "STOP_GRACE",
    "TEMPORAL_LOG",
    "Child",
    "DevServer",
    "LaunchError",
    "child_environment",
    "cpu_seconds",
    "describe_exit",
    "ensure_search_attributes",
    "free_port",
    "free_ports",
    "group_members",
    "http_status",
    "linkage_command",
    "pid_alive",
    "port_free",
    "port_open",
    "reports_ok",
    "rss_bytes",
    "signal_group",
    "split_address",
    "temporal_binary",
    "temporal_server_command",
    "wait_for_temporal",
    "wait_until",
]
