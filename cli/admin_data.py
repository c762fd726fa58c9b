"""``linkage keys …``, ``linkage channels …``: departments' API keys and notification channels,
through the functions the admin API calls (as ``cli.admin``'s commands do)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from api.admin.channels import (
    ChannelSet,
    channel_in_scope,
    channel_out,
    list_channels,
    record_test,
    send_test,
    set_channel,
)
from api.admin.keys import create_key, key_out, list_keys, revoke_key
from cli.admin import acting, choose_actor, read_password, run, session

keys_app = typer.Typer(help="Departments' API keys.", no_args_is_help=True)
channels_app = typer.Typer(
    help="Notification channels of units and departments.", no_args_is_help=True
)


@keys_app.command("create")
def keys_create(
    department: Annotated[str, typer.Argument(help="department code, e.g. zhenan-shuili")],
    name: Annotated[str, typer.Option(help="what the key is for (水利局工单系统)")],
) -> None:
    """Issue a key; it is printed once and never again."""
    with session() as opened:
        row, key = run(lambda: create_key(opened, acting(opened), department, name))
    typer.echo(f"prefix {row.prefix} for {row.department_code} ({row.name})")
    typer.echo(f"key (shown once): {key}")


@keys_app.command("list")
def keys_list(department: Annotated[str | None, typer.Option()] = None) -> None:
    """Keys: prefix, department, name, created, last used, revoked."""
    with session() as opened:
        rows = [
            key_out(opened, r) for r in run(lambda: list_keys(opened, acting(opened), department))
        ]
    for k in rows:
        used = k.last_used_at.isoformat() if k.last_used_at else "never"
        revoked = f"\trevoked {k.revoked_at.isoformat()}" if k.revoked_at else ""
        typer.echo(
            f"{k.prefix}\t{k.department}\t{k.name}\t{k.created_at.isoformat()}\t{used}{revoked}"
        )


@keys_app.command("revoke")
def keys_revoke(prefix: Annotated[str, typer.Argument()]) -> None:
    """Revoke a key; it stops working at once."""
    with session() as opened:
        run(lambda: revoke_key(opened, acting(opened), prefix))
    typer.echo(f"revoked {prefix}")


@channels_app.command("set")
def channels_set(
    owner: Annotated[str, typer.Argument(help="unit code, or department code with --department")],
    channel: Annotated[str, typer.Argument(help="webhook, dingtalk, wecom or email")],
    department: Annotated[bool, typer.Option("--department", help="owner is a department")] = False,
    url: Annotated[str | None, typer.Option(help="webhook URL (or a robot's own URL)")] = None,
    to: Annotated[list[str] | None, typer.Option(help="email address (repeatable)")] = None,
    smtp_host: Annotated[str | None, typer.Option()] = None,
    smtp_port: Annotated[int | None, typer.Option()] = None,
    smtp_from: Annotated[str | None, typer.Option()] = None,
    smtp_username: Annotated[str | None, typer.Option()] = None,
    secret: Annotated[
        bool, typer.Option("--secret", help="read the secret, token or key from stdin/prompt")
    ] = False,
    disabled: Annotated[bool, typer.Option("--disabled")] = False,
) -> None:
    """Set a channel; the secret (webhook HMAC key, DingTalk token then signing secret separated
    by a space, WeCom key, SMTP password) is read, never given as an argument."""
    value = read_password("Secret") if secret else None
    token = robot_key = None
    if channel == "dingtalk" and value:
        token, _, value = value.partition(" ")
    if channel == "wecom":
        robot_key, value = value, None
    body = ChannelSet.model_validate(
        {
            "owner_kind": "department" if department else "unit",
            "owner_code": owner,
            "channel": channel,
            "url": url,
            "to": to or None,
            "smtp_host": smtp_host,
            "smtp_port": smtp_port,
            "smtp_from": smtp_from,
            "smtp_username": smtp_username,
            "secret": value or None,
            "token": token,
            "key": robot_key,
            "enabled": not disabled,
        }
    )
    with session() as opened:
        row = run(lambda: set_channel(opened, acting(opened), body))
        shown = channel_out(opened, row)
    typer.echo(f"channel {shown.id}: {shown.owner_name} {shown.channel} {shown.config}")


@channels_app.command("list")
def channels_list() -> None:
    """Channel targets (secrets are never shown)."""
    with session() as opened:
        rows = [channel_out(opened, r) for r in list_channels(opened, acting(opened), None, None)]
    for t in rows:
        state = "enabled" if t.enabled else "disabled"
        typer.echo(f"{t.id}\t{t.owner_kind}:{t.owner_code}\t{t.channel}\t{t.config}\t{state}")


@channels_app.command("test")
def channels_test(
    target_id: Annotated[int, typer.Argument(help="the id `channels list` shows")],
) -> None:
    """Send a test message and print what the receiver answered (exit 1 if it failed)."""
    with session() as opened:
        admin = acting(opened)
        row, scope = run(lambda: channel_in_scope(opened, admin, target_id))
        result = asyncio.run(send_test(row, channel_out(opened, row).owner_name))
        record_test(opened, admin, row, scope, result)
    typer.echo(f"{'delivered' if result.ok else 'failed'}: {result.status_code} {result.detail}")
    if not result.ok:
        raise typer.Exit(1)


categories_app = typer.Typer(help="Issue categories.", no_args_is_help=True)
households_app = typer.Typer(help="Household codes of villages (polls).", no_args_is_help=True)
for group in (keys_app, channels_app, categories_app, households_app):
    group.callback()(choose_actor)


@categories_app.command("list")
def categories_list() -> None:
    """Categories: code, name, departments, notify at once, active."""
    from sqlmodel import col, select

    from store.tables import Category

    with session() as opened:
        rows = opened.exec(select(Category).order_by(col(Category.code))).all()
    for c in rows:
        state = "active" if c.active else "retired"
        at_once = "notify" if c.notify_departments else "-"
        typer.echo(f"{c.code}\t{c.name}\t{','.join(c.departments)}\t{at_once}\t{state}")


@categories_app.command("add")
def categories_add(
    code: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="Chinese name (流浪犬只)")],
    department: Annotated[list[str] | None, typer.Option(help="called in (repeatable)")] = None,
    notify: Annotated[bool, typer.Option(help="departments hear at once")] = False,
) -> None:
    """Add a category."""
    from api.admin.reference import CategoryIn, create_category

    body = CategoryIn(code=code, name=name, departments=department or [], notify_departments=notify)
    with session() as opened:
        run(lambda: create_category(opened, acting(opened), body))
    typer.echo(f"added {code}")


@categories_app.command("retire")
def categories_retire(code: Annotated[str, typer.Argument()]) -> None:
    """Retire a category: no new issue takes it; its issues keep it."""
    from api.admin.reference import CategoryPatch, update_category

    with session() as opened:
        run(lambda: update_category(opened, acting(opened), code, CategoryPatch(active=False)))
    typer.echo(f"retired {code}")


@households_app.command("add")
def households_add(
    village: Annotated[str, typer.Argument(help="village code")],
    count: Annotated[int, typer.Option(min=1, help="households to add")],
) -> None:
    """Issue household codes to a village."""
    from api.admin.households import add_households

    with session() as opened:
        run(lambda: add_households(opened, acting(opened), village, count))
    typer.echo(f"added {count} household codes to {village}")


@households_app.command("sheet")
def households_sheet(
    village: Annotated[str, typer.Argument(help="village code")],
    output: Annotated[str, typer.Option("--output", "-o", help="HTML file to write")],
) -> None:
    """Write the printable sheet of a village's household codes (HTML, A4, one slip each)."""
    from pathlib import Path

    from api.admin.households import households_of, sheet_html

    with session() as opened:
        unit, rows = run(lambda: households_of(opened, acting(opened), village))
    Path(output).write_text(sheet_html(unit, rows), encoding="utf-8")
    typer.echo(f"wrote {len(rows)} household codes to {output}")
