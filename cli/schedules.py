"""``linkage schedules sync|list``: the duties' Temporal Schedules (``workers.schedules``).

Both open a Temporal client, so both end with ``os._exit`` (the SDK's ``PyGILState_Release`` crash
at interpreter exit); ``linkage up`` runs ``sync`` as a child process for the same reason.
"""

from __future__ import annotations

import asyncio
import os
import sys

import typer

from settings import get_settings

schedules_app = typer.Typer(
    help="Duties on a calendar: one Temporal Schedule per unit and duty.", no_args_is_help=True
)


def _finish(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@schedules_app.command("sync")
def sync_command() -> None:
    """Create, rewrite or delete schedules so Temporal holds exactly what the tree asks for."""
    from sqlmodel import Session

    from store.db import make_engine
    from workers.main import connect
    from workers.schedules import sync, tree_units

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    with Session(engine) as session:
        units = tree_units(session)
    engine.dispose()

    async def run() -> str:
        client = await connect(settings)
        report = await sync(client, units, settings.task_queue, settings.timezone)
        return str(report)

    try:
        typer.echo(asyncio.run(run()))
    except Exception as error:  # one clear line, then the status: the caller may be `linkage up`
        typer.echo(f"error: schedules sync: {error}", err=True)
        _finish(1)
    _finish(0)


@schedules_app.command("list")
def list_command() -> None:
    """List the duties' schedules: id, next run, paused, note."""
    from workers.main import connect
    from workers.schedules import list_duties

    settings = get_settings()

    async def run() -> list[str]:
        client = await connect(settings)
        return [
            f"{d.schedule_id}\t{d.next_run}\t{'paused' if d.paused else 'running'}\t{d.note}"
            for d in await list_duties(client)
        ]

    try:
        lines = asyncio.run(run())
    except Exception as error:
        typer.echo(f"error: schedules list: {error}", err=True)
        _finish(1)
    for line in lines:
        typer.echo(line)
    typer.echo(f"{len(lines)} schedules")
    _finish(0)
