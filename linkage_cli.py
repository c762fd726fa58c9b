"""The ``linkage`` command: the embedded stack, one process per role, and admin tools.

Each command is thin: it reads the settings, then hands over to the package that owns the work.
Long-running commands that opened a Temporal client end with ``os._exit`` to dodge the SDK's
known ``PyGILState_Release`` crash at interpreter exit.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from settings import Settings, SettingsInvalid, get_settings

app = typer.Typer(
    name="linkage",
    help="Linkage — 县—乡镇—村三级联动: issues carried up the ladder by durable workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
units_app = typer.Typer(help="The jurisdiction tree (units).", no_args_is_help=True)
app.add_typer(units_app, name="units")
db_app = typer.Typer(help="The SQL read model.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _admin_commands() -> None:
    # Administration lives in cli/admin.py and cli/admin_more.py beside the API they share.
    from cli.admin import admin_app, users_app
    from cli.admin_data import categories_app, channels_app, households_app, keys_app
    from cli.schedules import schedules_app

    app.add_typer(admin_app, name="admin")
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    app.add_typer(channels_app, name="channels")
    app.add_typer(categories_app, name="categories")
    app.add_typer(households_app, name="households")
    app.add_typer(schedules_app, name="schedules")


_admin_commands()


def _settings_with(**overrides: object) -> Settings:
    """Settings from the environment, with command-line flags taking precedence."""
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"LINKAGE_{key.upper()}"] = str(value)
    get_settings.cache_clear()
    return get_settings()


@app.command()
def up(
    policy: Annotated[str | None, typer.Option(help="policy name (default, drill) or path")] = None,
    county: Annotated[str | None, typer.Option(help="division code of the county")] = None,
    port: Annotated[int | None, typer.Option(help="API port")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="where SQLite files live")] = None,
) -> None:
    """Start the whole embedded stack: Temporal dev server, migrations, seed, worker and API."""
    from workers.devstack import run_devstack

    settings = _settings_with(policy=policy, county=county, api_port=port, data_dir=data_dir)
    code = run_devstack(settings)
    raise typer.Exit(code)


@app.command()
def worker() -> None:
    """Run one worker process (workflows and activities) against LINKAGE_TEMPORAL_ADDRESS."""
    import asyncio

    from workers.main import run_worker

    asyncio.run(run_worker(get_settings()))
    sys.stdout.flush()
    os._exit(0)


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
) -> None:
    """Run the HTTP API (uvicorn) against LINKAGE_TEMPORAL_ADDRESS and LINKAGE_DATABASE_URL."""
    from api.main import run_api

    run_api(_settings_with(api_host=host, api_port=port))
    sys.stdout.flush()
    os._exit(0)


@app.command()
def deadline(
    from_: Annotated[str, typer.Option("--from", help="start, ISO 8601 (naive = Asia/Shanghai)")],
    working_days: Annotated[int | None, typer.Option(help="working days on the calendar")] = None,
    duration: Annotated[str | None, typer.Option(help="ISO 8601 duration, e.g. PT4H")] = None,
) -> None:
    """Print the deadline of a term starting at --from."""
    from activities.deadlines import describe_deadline

    if (working_days is None) == (duration is None):
        raise typer.BadParameter("give exactly one of --working-days or --duration")
    try:
        start = datetime.fromisoformat(from_)
    except ValueError as exc:
        raise typer.BadParameter(f"--from: {exc}") from exc
    typer.echo(describe_deadline(get_settings(), start, working_days, duration))


def _when(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{option}: {exc}") from exc


@app.command()
def stats(
    unit: Annotated[str | None, typer.Option(help="unit code (default: the county)")] = None,
    since: Annotated[str | None, typer.Option(help="from DATE or ISO datetime (included)")] = None,
    until: Annotated[str | None, typer.Option(help="to DATE or ISO datetime (excluded)")] = None,
    category: Annotated[str | None, typer.Option(help="only this category code")] = None,
    bucket: Annotated[str | None, typer.Option(help="trend by day or week")] = None,
    top: Annotated[int, typer.Option(help="rows of each ranking")] = 10,
) -> None:
    """Print the statistics of a unit's subtree (read model, LINKAGE_DATABASE_URL) as tables."""
    from rich.console import Console
    from sqlmodel import Session

    from api.problems import ProblemError
    from api.statistics.figures import Weights
    from api.statistics.report import build_stats
    from api.statistics.scope import resolve_scope
    from api.statistics.trend import Bucket
    from cli.stats_console import render_stats
    from store.db import make_engine

    settings = get_settings()
    try:
        width = Bucket(bucket) if bucket is not None else None
    except ValueError as exc:
        raise typer.BadParameter("--bucket: day or week") from exc
    start, end = _when("--since", since), _when("--until", until)
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            scope = resolve_scope(
                session, unit or settings.county, start, end, category, settings.timezone
            )
            result = build_stats(
                session,
                scope,
                settings.timezone,
                width,
                weights=Weights(*settings.composite_weights),
            )
    except ProblemError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(2) from error
    finally:
        engine.dispose()
    render_stats(result, Console(), top=top)


@app.command()
def simulate(
    count: Annotated[int, typer.Option(min=0, help="issues to register")] = 100,
    rate: Annotated[float, typer.Option(min=0.001, help="arrivals per second")] = 2.0,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same workload")] = 1,
    api_url: Annotated[
        str | None, typer.Option(help="base URL of the API (default: LINKAGE_PUBLIC_URL)")
    ] = None,
    unit: Annotated[str | None, typer.Option(help="only villages of this township")] = None,
    villages: Annotated[
        int | None, typer.Option(min=1, help="how many villages take part (the busiest)")
    ] = None,
    urgent: Annotated[float, typer.Option(min=0, max=1, help="share of urgent issues")] = 0.1,
    pace: Annotated[float, typer.Option(min=0, help="mean seconds between two steps")] = 0.5,
    concurrency: Annotated[int, typer.Option(min=1, help="issues played at once")] = 16,
) -> None:
    """Play a realistic workload through the HTTP API as the demo accounts (password demo)."""
    import asyncio

    import httpx
    from rich.console import Console

    from simulation.workload import (
        SimulationError,
        WorkloadConfig,
        WorkloadReport,
        report_table,
        run_workload,
    )

    settings = get_settings()
    config = WorkloadConfig(
        count=count,
        rate=rate,
        seed=seed,
        county=settings.county,
        unit=unit,
        villages=villages,
        urgent_share=urgent,
        pace=pace,
        concurrency=concurrency,
    )
    base = (api_url or settings.public_url).rstrip("/") + "/api/v1/"
    console = Console()

    async def play() -> WorkloadReport:
        async with httpx.AsyncClient(base_url=base, timeout=60, trust_env=False) as http:
            return await run_workload(http, config, console)

    try:
        report = asyncio.run(play())
    except (httpx.HTTPError, SimulationError) as error:
        typer.echo(f"error: {base}: {error}", err=True)
        raise typer.Exit(2) from error
    console.print(report_table(report))
    for message in report.errors:
        console.print(message, style="red", soft_wrap=True, markup=False)
    if report.failed:
        raise typer.Exit(1)


@db_app.command("migrate")
def db_migrate() -> None:
    """Bring the read model's schema up to date (Alembic)."""
    from store.db import migrate

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    typer.echo("migrated")


@db_app.command("seed")
def db_seed() -> None:
    """Load the county tree, departments, categories (and demo accounts outside production)."""
    from store.db import make_engine, migrate
    from store.seed import seed

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    report = seed(make_engine(settings.resolved_database_url), settings)
    typer.echo(str(report))


@units_app.command("import")
def units_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="division JSON file")],
    county: Annotated[str | None, typer.Option(help="only this county's subtree")] = None,
) -> None:
    """Load a division tree (统计用区划代码) of the shape of data/divisions-611025-zhenan.json."""
    from store.db import make_engine, migrate
    from store.units_import import import_units

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    report = import_units(make_engine(settings.resolved_database_url), file, county=county)
    typer.echo(str(report))


def main() -> None:
    """Console-script entry point: a setting at fault is one line naming its variable, exit 2."""
    try:
        app()
    except SettingsInvalid as error:
        for line in error.lines:
            typer.echo(f"linkage: {line}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
