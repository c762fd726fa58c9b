"""The worker caches the bytecode of its workflow modules, which the sandbox imports again and
again, even where Python is told not to write bytecode; and says so where it cannot."""

from __future__ import annotations

import importlib.util
import logging
import os
import py_compile
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from settings import Settings
from tests.workflows.standalone import read_model_at, time_skipping_env
from workers import main
from workers.bytecode import cache_bytecode, is_current
from workflows.issue import IssueWorkflow


@pytest.fixture
def workflow_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A module defining a class, imported from a fresh directory with no bytecode written."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    package = tmp_path / "some_workflows"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "flow.py").write_text("class Flow:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("some_workflows.flow")
    try:
        yield module
    finally:
        for name in ("some_workflows.flow", "some_workflows"):
            sys.modules.pop(name, None)


def _cached(module: ModuleType) -> Path:
    assert module.__file__ is not None
    return Path(importlib.util.cache_from_source(module.__file__))


def test_bytecode_is_written_though_python_was_told_not_to(workflow_module: ModuleType) -> None:
    cached = _cached(workflow_module)
    assert not cached.exists()  # the import wrote none: the sandbox would compile every time

    assert cache_bytecode(workflow_module.Flow) == []

    assert workflow_module.__file__ is not None
    assert is_current(Path(workflow_module.__file__), cached)
    # It is what the import system takes: loading from it gives the module's class.
    loader = importlib.machinery.SourcelessFileLoader("flow_from_cache", str(cached))
    spec = importlib.util.spec_from_loader("flow_from_cache", loader)
    assert spec is not None
    loaded = importlib.util.module_from_spec(spec)
    loader.exec_module(loaded)
    assert loaded.Flow.__name__ == "Flow"


def test_a_changed_source_makes_the_bytecode_stale_and_it_is_written_again(
    workflow_module: ModuleType,
) -> None:
    assert workflow_module.__file__ is not None
    source, cached = Path(workflow_module.__file__), _cached(workflow_module)
    cache_bytecode(workflow_module.Flow)
    first = cached.read_bytes()

    source.write_text("class Flow:\n    changed = True\n")
    stat = source.stat()
    os.utime(source, (stat.st_atime, stat.st_mtime + 10))
    assert not is_current(source, cached)

    cache_bytecode(workflow_module.Flow)
    assert is_current(source, cached)
    assert cached.read_bytes() != first


def test_current_bytecode_is_left_alone(workflow_module: ModuleType) -> None:
    cached = _cached(workflow_module)
    cache_bytecode(workflow_module.Flow)
    written = cached.stat().st_mtime_ns
    os.utime(cached, ns=(written - 10**9, written - 10**9))

    cache_bytecode(workflow_module.Flow)

    assert cached.stat().st_mtime_ns == written - 10**9


def test_where_bytecode_cannot_be_written_it_is_reported_and_the_worker_goes_on(
    workflow_module: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    assert workflow_module.__file__ is not None
    source = Path(workflow_module.__file__)
    # A file where the cache directory belongs: unwritable even for root, unlike a read-only
    # directory.
    (source.parent / "__pycache__").write_text("")

    with caplog.at_level(logging.WARNING, logger="linkage.worker"):
        failed = cache_bytecode(workflow_module.Flow)

    assert failed == [source]
    assert str(source) in caplog.text and "compileall" in caplog.text


async def test_the_worker_caches_its_workflow_modules_when_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached: list[type] = []

    def spy(*classes: type) -> list[Path]:
        cached.extend(classes)
        return cache_bytecode(*classes)

    monkeypatch.setattr(main, "cache_bytecode", spy)
    async with (
        time_skipping_env() as env,
        httpx.AsyncClient() as http,
    ):
        with read_model_at(tmp_path) as engine:
            main.build_worker(env.client, Settings(), engine, http, task_queue="bytecode")

    # Every workflow the worker runs, each of whose modules the sandbox re-imports per run.
    assert cached == list(main.WORKFLOWS)
    assert IssueWorkflow in cached
    for workflow_class in cached:
        module = sys.modules[workflow_class.__module__]
        assert module.__file__ is not None
        assert is_current(Path(module.__file__), _cached(module))


def test_hash_based_bytecode_is_judged_as_the_import_system_judges_it(
    workflow_module: ModuleType,
) -> None:
    assert workflow_module.__file__ is not None
    source, cached = Path(workflow_module.__file__), _cached(workflow_module)
    modes = py_compile.PycInvalidationMode
    py_compile.compile(str(source), cfile=str(cached), invalidation_mode=modes.CHECKED_HASH)
    assert is_current(source, cached)  # compileall under SOURCE_DATE_EPOCH: no rewrite at start
    source.write_text("class Flow:\n    changed = True\n")
    assert not is_current(source, cached)

    py_compile.compile(str(source), cfile=str(cached), invalidation_mode=modes.UNCHECKED_HASH)
    source.write_text("class Flow:\n    changed_again = True\n")
    assert is_current(source, cached)  # never checked against its source, so always taken
