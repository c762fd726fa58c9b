"""``linkage simulate`` as a command: its options reach the workload, and an API that cannot be
reached is a clear error, not a traceback (playing a workload is tested in tests/api)."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from linkage_cli import app


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_api_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = CliRunner().invoke(app, ["simulate", "--count", "3", "--api-url", url])
    assert result.exit_code == 2, result.output
    assert f"error: {url}/api/v1/" in result.output


def test_options_are_checked() -> None:
    assert CliRunner().invoke(app, ["simulate", "--rate", "0"]).exit_code == 2
    assert CliRunner().invoke(app, ["simulate", "--urgent", "1.5"]).exit_code == 2
    assert CliRunner().invoke(app, ["simulate", "--villages", "0"]).exit_code == 2
