"""The administration commands: ``linkage admin create``, ``linkage users …``.

They call the functions the admin API calls (``api.admin``), as an admin attached to no unit
(``cli_admin``): whoever runs them on the server holds the database anyway; ``--as USERNAME``
before the command acts as that administrator's account instead, inside their unit's subtree
and audited under their name (``acting``). Passwords are read
from a prompt or stdin, never from an argument (arguments show in ``ps`` and shell history).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlmodel import Session

from api.admin.accounts import (
    BootstrapRefused,
    NewAccount,
    bootstrap_admin,
    create_account,
    list_accounts,
    problem_text,
    reset_password,
    update_account,
)
from api.admin.scope import acting_admin, cli_admin
from api.deps import Principal
from api.problems import ProblemError
from settings import get_settings

T = TypeVar("T")

admin_app = typer.Typer(help="The first administrator of a database.", no_args_is_help=True)
users_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)

_ACTING_AS: ContextVar[str | None] = ContextVar("acting_as", default=None)


def choose_actor(
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="USERNAME",
            help="act as this administrator's account: inside their unit's subtree, audited "
            "under their name (default: the command line, every unit)",
        ),
    ] = None,
) -> None:
    """The option every administration command group takes before its command."""
    _ACTING_AS.set(as_user)


def acting(opened: Session) -> Principal:
    """Who the command acts as: the ``--as`` administrator, else the command line itself."""
    as_user = _ACTING_AS.get()
    if not as_user:
        return cli_admin()
    return run(lambda: acting_admin(opened, as_user))


users_app.callback()(choose_actor)


@contextmanager
def session(*, prepare: bool = False) -> Iterator[Session]:
    """A session on the read model; ``prepare`` migrates and seeds first (a fresh database)."""
    from store.db import make_engine, migrate

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if prepare:
        migrate(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        if prepare:
            from store.seed import seed

            seed(engine, settings)
        with Session(engine, expire_on_commit=False) as opened:
            yield opened
    finally:
        engine.dispose()


def run(action: Callable[[], T]) -> T:
    """Run an admin action; a refusal is one line on stderr and exit status 2."""
    try:
        return action()
    except ProblemError as error:
        typer.echo(f"error: {problem_text(error)}", err=True)
        for item in (error.errors or [])[1:]:
            typer.echo(f"error: {item.field}: {item.message}", err=True)
        raise typer.Exit(2) from error


def read_password(prompt: str = "Password") -> str:
    """A password from a prompt (typed twice, hidden) or, when stdin is not a terminal, its first
    line."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            typer.echo("error: no password on stdin", err=True)
            raise typer.Exit(2)
        return line
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return value


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Argument(help="the administrator's username")],
    unit: Annotated[str, typer.Option(help="division code of the unit they administer")],
    force: Annotated[bool, typer.Option(help="create one although an admin exists")] = False,
) -> None:
    """Create the first administrator (password from a prompt or stdin); migrates and seeds the
    tree first, so it works on a fresh database."""
    password = read_password()
    with session(prepare=True) as opened:
        try:
            user = run(
                lambda: bootstrap_admin(opened, cli_admin(), username, unit, password, force=force)
            )
        except BootstrapRefused as refused:
            typer.echo(f"refused: {refused}", err=True)
            raise typer.Exit(1) from refused
    typer.echo(f"created administrator {user.username} of unit {user.unit_code}")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="admin, supervisor, leader, clerk or department")],
    name: Annotated[str, typer.Option(help="display name (姓名 or 单位名)")],
    unit: Annotated[str | None, typer.Option(help="unit code (staff)")] = None,
    department: Annotated[str | None, typer.Option(help="department code")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    password: Annotated[
        bool, typer.Option("--password", help="read a password (else a temporary one is made)")
    ] = False,
) -> None:
    """Create an account; prints a temporary password unless --password reads one."""
    secret = read_password() if password else None
    spec = NewAccount(username, name, role, unit, department, phone)
    with session() as opened:
        user, temporary = run(lambda: create_account(opened, acting(opened), spec, secret))
    typer.echo(f"created {user.username} ({user.role})")
    if temporary:
        typer.echo(f"temporary password (must be changed at first login): {temporary}")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account (never deleted: the audit trail names it)."""
    with session() as opened:
        run(lambda: update_account(opened, acting(opened), username, {"disabled": True}))
    typer.echo(f"disabled {username}")


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled account again."""
    with session() as opened:
        run(lambda: update_account(opened, acting(opened), username, {"disabled": False}))
    typer.echo(f"enabled {username}")


@users_app.command("reset")
def users_reset(
    username: Annotated[str, typer.Argument()],
    password: Annotated[
        bool, typer.Option("--password", help="read the new password (else a temporary one)")
    ] = False,
) -> None:
    """Reset a password and lift a lockout; the user must change it at next login."""
    secret = read_password() if password else None
    with session() as opened:
        issued = run(lambda: reset_password(opened, acting(opened), username, secret))
    typer.echo(f"reset {username}; must change it at next login")
    if secret is None:
        typer.echo(f"temporary password: {issued}")


@users_app.command("list")
def users_list(
    unit: Annotated[str | None, typer.Option(help="only this unit's subtree")] = None,
    role: Annotated[str | None, typer.Option()] = None,
) -> None:
    """List accounts."""
    with session() as opened:
        users = run(
            lambda: list_accounts(opened, acting(opened), unit=unit, role=role, limit=10_000)
        )
    for u in users:
        where = u.unit_code or u.department_code or "-"
        state = "active" if u.active else "disabled"
        typer.echo(f"{u.username}\t{u.role}\t{where}\t{u.display_name}\t{state}")


@users_app.command("import")
def users_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or XLSX")],
    dry_run: Annotated[bool, typer.Option(help="check every row, import nothing")] = False,
) -> None:
    """Import staff from a sheet (姓名, 手机, 单位代码 or 单位名称, 角色): all rows or none."""
    from api.admin.staff_import import import_staff

    with session() as opened:
        report = run(
            lambda: import_staff(
                opened, acting(opened), file.name, file.read_bytes(), dry_run=dry_run
            )
        )
    verb = "would import" if dry_run else "imported"
    typer.echo(f"{verb} {len(report.rows)} accounts")
    for row in report.rows:
        password = f"\t{row.temporary_password}" if row.temporary_password else ""
        typer.echo(f"{row.line}\t{row.username}\t{row.role}\t{row.where}\t{row.name}{password}")
