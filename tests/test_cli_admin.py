"""``linkage admin create`` and ``linkage users …`` on a fresh database, as a county's IT officer
runs them: the password on stdin, never an argument."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import Result
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

from api.security import LoginCheck, login
from linkage_cli import app
from settings import get_settings
from store.db import make_engine
from store.tables import AuditRecord, User

PASSWORD = "Linkage2026pass"
T = TypeVar("T", bound=SQLModel)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("LINKAGE_DATABASE_URL", url)
    monkeypatch.setenv("LINKAGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LINKAGE_DEMO_ACCOUNTS", "false")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def rows(url: str, table: type[T]) -> list[T]:
    """Every row of ``table`` in the database at ``url``, as the command left it."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(table)))
    finally:
        engine.dispose()


def users(url: str) -> list[User]:
    return rows(url, User)


def test_admin_create_makes_the_first_administrator_once(database: str) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["admin", "create", "it-officer", "--unit", "611025"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    [admin] = users(database)
    assert (admin.username, admin.role, admin.unit_code) == ("it-officer", "admin", "611025")
    assert PASSWORD not in admin.password_hash
    engine = make_engine(database)
    with Session(engine) as session:
        assert login(session, "it-officer", PASSWORD).result is LoginCheck.OK
        record = session.exec(select(AuditRecord)).one()
    engine.dispose()
    assert record.action == "user.create" and record.actor.startswith("cli:")

    again = runner.invoke(
        app, ["admin", "create", "second", "--unit", "611025"], input=PASSWORD + "\n"
    )
    assert again.exit_code == 1
    assert "it-officer" in again.output and "--force" in again.output
    assert [u.username for u in users(database)] == ["it-officer"]

    forced = runner.invoke(
        app, ["admin", "create", "second", "--unit", "611025", "--force"], input=PASSWORD + "\n"
    )
    assert forced.exit_code == 0, forced.output
    assert {u.username for u in users(database)} == {"it-officer", "second"}


def test_admin_create_refuses_a_weak_password_and_an_unknown_unit(database: str) -> None:
    runner = CliRunner()
    weak = runner.invoke(app, ["admin", "create", "it", "--unit", "611025"], input="demo\n")
    assert weak.exit_code == 2 and "password" in weak.output
    unknown = runner.invoke(
        app, ["admin", "create", "it", "--unit", "999999"], input=PASSWORD + "\n"
    )
    assert unknown.exit_code == 2 and "unit" in unknown.output
    assert users(database) == []


def test_users_add_disable_reset(database: str) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["admin", "create", "it", "--unit", "611025"], input=PASSWORD + "\n"
        ).exit_code
        == 0
    )
    added = runner.invoke(
        app,
        [
            "users",
            "add",
            "yl-leader",
            "--role",
            "leader",
            "--name",
            "永乐街道书记",
            "--unit",
            "611025001",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "temporary password" in added.output
    reset = runner.invoke(
        app, ["users", "reset", "yl-leader", "--password"], input=PASSWORD + "x\n"
    )
    assert reset.exit_code == 0, reset.output
    disabled = runner.invoke(app, ["users", "disable", "yl-leader"])
    assert disabled.exit_code == 0, disabled.output
    leader = next(u for u in users(database) if u.username == "yl-leader")
    assert leader.active is False and leader.must_change_password
    listed = runner.invoke(app, ["users", "list", "--unit", "611025001"])
    assert "yl-leader\tleader\t611025001" in listed.output and "disabled" in listed.output


def test_keys_and_channels(database: str) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runner = CliRunner()
    try:
        assert (
            runner.invoke(
                app, ["admin", "create", "it", "--unit", "611025"], input=PASSWORD + "\n"
            ).exit_code
            == 0
        )
        created = runner.invoke(app, ["keys", "create", "zhenan-shuili", "--name", "水利工单"])
        assert created.exit_code == 0, created.output
        prefix = created.output.split()[1]
        listed = runner.invoke(app, ["keys", "list"])
        assert prefix in listed.output and "never" in listed.output
        assert runner.invoke(app, ["keys", "revoke", prefix]).exit_code == 0
        assert "revoked" in runner.invoke(app, ["keys", "list"]).output

        url = f"http://127.0.0.1:{server.server_port}/hook"
        set_ = runner.invoke(
            app,
            ["channels", "set", "611025001", "webhook", "--url", url, "--secret"],
            input="hmac-secret-1\n",
        )
        assert set_.exit_code == 0, set_.output
        assert "hmac-secret-1" not in set_.output
        target = set_.output.split()[1].rstrip(":")
        tested = runner.invoke(app, ["channels", "test", target])
        assert tested.exit_code == 0, tested.output
        assert tested.output.startswith("delivered: 200") and len(received) == 1
    finally:
        server.shutdown()


def test_categories_and_households(database: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["admin", "create", "it", "--unit", "611025"], input=PASSWORD + "\n"
        ).exit_code
        == 0
    )
    added = runner.invoke(
        app,
        [
            "categories",
            "add",
            "stray_dogs",
            "--name",
            "流浪犬只",
            "--department",
            "zhenan-gongan",
            "--notify",
        ],
    )
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["categories", "retire", "stray_dogs"]).exit_code == 0
    listed = runner.invoke(app, ["categories", "list"]).output
    assert "stray_dogs\t流浪犬只\tzhenan-gongan\tnotify\tretired" in listed
    bad = runner.invoke(app, ["categories", "add", "x1", "--name", "x", "--department", "nope"])
    assert bad.exit_code == 2 and "departments.0" in bad.output
    assert runner.invoke(app, ["households", "add", "611025001001", "--count", "12"]).exit_code == 0
    sheet = tmp_path / "sheet.html"
    out = runner.invoke(app, ["households", "sheet", "611025001001", "-o", str(sheet)])
    assert out.exit_code == 0, out.output
    assert sheet.read_text(encoding="utf-8").count('class="slip"') == 12


def test_as_an_administrator_the_command_line_keeps_to_their_subtree(database: str) -> None:
    runner = CliRunner()
    created = runner.invoke(
        app, ["admin", "create", "it", "--unit", "611025"], input=PASSWORD + "\n"
    )
    assert created.exit_code == 0, created.output

    def add(username: str, role: str, unit: str, acting: str | None = None) -> Result:
        head = ["users", "--as", acting] if acting else ["users"]
        words = [username, "--role", role, "--name", username, "--unit", unit]
        return runner.invoke(app, [*head, "add", *words])

    township_admin = add("yl-admin", "admin", "611025001")
    assert township_admin.exit_code == 0, township_admin.output

    # Inside 永乐街道: done, and the audit names the township's admin, not the command line.
    own = add("yl-clerk", "clerk", "611025001001", acting="yl-admin")
    assert own.exit_code == 0, own.output
    [record] = [r for r in rows(database, AuditRecord) if "yl-clerk" in str(r.after)]
    assert (record.action, record.actor) == ("user.create", "yl-admin")

    # 回龙镇 lies outside: refused, naming the unit, and nothing is written.
    before = (len(users(database)), len(rows(database, AuditRecord)))
    other = add("hl-clerk", "clerk", "611025101001", acting="yl-admin")
    assert other.exit_code == 2 and "unit" in other.output and "管辖" in other.output

    # Only an enabled administrator's account may be named.
    for name, why in (("nobody", "没有这个启用中的账号"), ("yl-clerk", "不是管理员")):
        refused = add("x-clerk", "clerk", "611025001002", acting=name)
        assert refused.exit_code == 2 and why in refused.output, refused.output
    assert (len(users(database)), len(rows(database, AuditRecord))) == before

    # The other command groups take it too.
    keys = runner.invoke(app, ["keys", "--as", "yl-clerk", "list"])
    assert keys.exit_code == 2 and "不是管理员" in keys.output
