"""The production compose file validates and wires the stack the way the design says.

``docker-compose config`` needs no Docker engine: it parses, interpolates and validates the file,
which catches a broken dependency or a missing secret before anyone deploys.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from domain.search_attributes import ALL, cli_flags
from settings import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
DUMMY_SECRET = "test-only-secret-key-0123456789-abcdefghijklmnop"
TO_JSON = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout, default=str)"

pytestmark = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed (Debian: apt-get install docker-compose)",
)


def _compose(*args: str, secret: str | None = DUMMY_SECRET) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LINKAGE_SECRET_KEY"}
    if secret is not None:
        env["LINKAGE_SECRET_KEY"] = secret
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def _yaml_python() -> str | None:
    """The interpreter of Debian's docker-compose (v1, Python): it has PyYAML; our venv has not."""
    executable = shutil.which("docker-compose")
    assert executable is not None
    with Path(executable).open("rb") as handle:
        first = handle.readline()
    if not first.startswith(b"#!"):
        return None
    return first[2:].decode().strip().split()[0]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The resolved compose configuration, as data."""
    # Compose v2 prints JSON itself; v1 only YAML, which its own interpreter converts.
    as_json = _compose("config", "--format", "json")
    # v1 answers an unknown option with its usage text, and exit status 0.
    if as_json.returncode == 0 and as_json.stdout.lstrip().startswith("{"):
        return dict(json.loads(as_json.stdout))
    result = _compose("config")
    assert result.returncode == 0, result.stderr
    python = _yaml_python()
    if python is None:
        pytest.skip("cannot parse docker-compose's YAML output (no PyYAML interpreter)")
    parsed = subprocess.run(
        [python, "-c", TO_JSON], input=result.stdout, capture_output=True, text=True, check=True
    )
    return dict(json.loads(parsed.stdout))


def _depends(service: dict[str, Any]) -> dict[str, str]:
    """Dependency → condition (compose normalises the list form to service_started)."""
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def test_config_validates() -> None:
    result = _compose("config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_config_refuses_to_run_without_a_secret_key() -> None:
    result = _compose("config", "--quiet", secret=None)
    assert result.returncode != 0
    assert "LINKAGE_SECRET_KEY" in result.stderr or "set it" in result.stderr


def test_services_and_their_order(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in ("postgresql", "temporal", "temporal-ui", "api", "worker", "migrate"):
        assert name in services, f"service {name} missing"

    assert "healthcheck" in services["postgresql"]
    assert any("/var/lib/postgresql/data" in str(v) for v in services["postgresql"]["volumes"])
    assert _depends(services["temporal-admin-tools"]) == {"postgresql": "service_healthy"}
    assert _depends(services["temporal"])["temporal-admin-tools"] == (
        "service_completed_successfully"
    )
    assert _depends(services["temporal-namespace"]) == {"temporal": "service_healthy"}
    assert _depends(services["temporal-ui"]) == {"temporal": "service_healthy"}
    assert _depends(services["migrate"]) == {"postgresql": "service_healthy"}
    for role in ("api", "worker"):
        depends = _depends(services[role])
        assert depends["migrate"] == "service_completed_successfully", role
        assert depends["temporal-namespace"] == "service_completed_successfully", role
        assert depends["temporal"] == "service_healthy", role


def test_temporal_runs_on_postgresql(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in ("temporal-admin-tools", "temporal"):
        env = services[name]["environment"]
        assert env["DB"] == "postgres12"
        assert env["POSTGRES_SEEDS"] == "postgresql"
    assert "DYNAMIC_CONFIG_FILE_PATH" in services["temporal"]["environment"]
    schema_script = (ROOT / "deploy" / "temporal-schema.sh").read_text()
    assert "temporal-sql-tool" in schema_script
    assert "temporal_visibility" in schema_script
    for service in services.values():
        image = service.get("image", "")
        if not image.startswith("linkage"):
            tag = image.rpartition(":")[2]
            assert ":" in image and tag not in ("", "latest"), f"{image} is not pinned"


def test_linkage_services_run_in_production_mode(config: dict[str, Any]) -> None:
    for role in ("api", "worker", "migrate"):
        env = config["services"][role]["environment"]
        assert env["LINKAGE_ENVIRONMENT"] == "production", role
        assert env["LINKAGE_DEMO_ACCOUNTS"] == "false", role
        assert env["LINKAGE_SECRET_KEY"] == DUMMY_SECRET, role
        assert env["LINKAGE_DATABASE_URL"].startswith("postgresql"), role
        assert env["LINKAGE_TEMPORAL_ADDRESS"] == "temporal:7233", role
    command = config["services"]["migrate"]["command"]
    text = " ".join(command) if isinstance(command, list) else command
    assert "linkage db migrate" in text and "linkage db seed" in text


def test_every_search_attribute_is_created(config: dict[str, Any]) -> None:
    """The namespace job registers exactly domain/search_attributes.py's attributes and types."""
    env = config["services"]["temporal-namespace"]["environment"]
    declared = dict(pair.split("=", 1) for pair in env["LINKAGE_SEARCH_ATTRIBUTES"].split())
    expected = dict(flag.split("=", 1) for flag in cli_flags()[1::2])
    assert declared == expected
    assert set(declared) == {key.name for key in ALL}
    script = (ROOT / "deploy" / "temporal-namespace.sh").read_text()
    assert "temporal operator search-attribute create" in script
    assert "LINKAGE_SEARCH_ATTRIBUTES" in script
