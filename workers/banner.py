"""What ``linkage up`` tells the person who started it: the policy, the seeded read model, the
demo accounts, and the banner with every URL and process."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from settings import Settings
from workers.launcher import Child


def warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def connect_host(host: str) -> str:
    """Where to reach a server bound to ``host``: a wildcard bind is reached on loopback."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def describe_policy(settings: Settings) -> str:
    """The policy's name and its headline terms; loading it here fails fast on a bad name.

    Raises:
        PolicyError, OSError: the policy cannot be read.
    """
    from domain.models import Urgency
    from domain.policy import load_policy

    policy = load_policy(settings.policy)
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


def demo_accounts(engine: Any, settings: Settings) -> list[tuple[str, str]]:
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
        warn(f"linkage up: cannot list demo accounts from the read model ({error})")
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


def seed_summary(report: object) -> str:
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


def banner(
    settings: Settings,
    *,
    data_dir: Path,
    temporal_address: str,
    embedded: bool,
    policy: str,
    accounts: list[tuple[str, str]],
    children: Sequence[Child],
) -> str:
    from sqlalchemy.engine import make_url

    base = f"http://{connect_host(settings.api_host)}:{settings.api_port}"
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
