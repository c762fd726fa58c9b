"""No update, signal or query handler in ``workflows/`` reaches an activity.

Handlers decide; the run loop alone performs effects (DESIGN.md, "One workflow pattern"). The
check walks each handler's calls through the workflow package — methods called on ``self`` and
functions of the package's modules — and fails if any path reaches an activity call.
"""

from __future__ import annotations

import ast
from pathlib import Path

WORKFLOWS = Path(__file__).parents[2] / "workflows"
ACTIVITY_CALLS = {
    "execute_activity",
    "execute_local_activity",
    "start_activity",
    "start_local_activity",
    "execute_activity_method",
    "execute_local_activity_method",
    "start_activity_method",
    "start_local_activity_method",
    "execute_child_workflow",
    "start_child_workflow",
}
HANDLER_DECORATORS = {"update", "signal", "query", "validator"}


def _decorated_as_handler(fn: ast.AsyncFunctionDef | ast.FunctionDef) -> bool:
    for dec in fn.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute) and target.attr in HANDLER_DECORATORS:
            return True
    return False


def _index(sources: dict[str, str]) -> tuple[dict[str, ast.AST], list[str]]:
    """Every function by a qualified name (``module:Class.name`` or ``module:name``), and the
    names of the handlers."""
    functions: dict[str, ast.AST] = {}
    handlers: list[str] = []
    for module, source in sources.items():
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions[f"{module}:{node.name}"] = node
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        name = f"{module}:{node.name}.{item.name}"
                        functions[name] = item
                        if _decorated_as_handler(item):
                            handlers.append(name)
    return functions, handlers


def _imports(sources: dict[str, str]) -> dict[str, dict[str, str]]:
    """Per module, the package modules it imports by name (``from a.b import c`` → ``a.b.c``)."""
    found: dict[str, dict[str, str]] = {}
    for module, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    if target in sources:
                        found.setdefault(module, {})[alias.asname or alias.name] = target
    return found


def _callees(
    name: str,
    fn: ast.AST,
    functions: dict[str, ast.AST],
    imports: dict[str, dict[str, str]] | None = None,
) -> tuple[set[str], bool]:
    """What ``fn`` calls inside the package, and whether it calls an activity itself."""
    imports = imports or {}
    module, _, qual = name.partition(":")
    cls = qual.split(".")[0] if "." in qual else None
    found: set[str] = set()
    direct = False
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in ACTIVITY_CALLS:
                direct = True
            owner = func.value
            if isinstance(owner, ast.Name) and owner.id == "self" and cls:
                found.add(f"{module}:{cls}.{func.attr}")
            elif isinstance(owner, ast.Name):
                imported = imports.get(module, {}).get(owner.id)
                if imported is not None:
                    # ``from workflows.issue import effects``: that module, no other of its name.
                    found.add(f"{imported}:{func.attr}")
                else:
                    found.update(k for k in functions if k.endswith(f".{owner.id}:{func.attr}"))
                    found.update(k for k in functions if k == f"{owner.id}:{func.attr}")
        elif isinstance(func, ast.Name):
            found.add(f"{module}:{func.id}")
            found.update(k for k in functions if k.endswith(f":{func.id}") and "." not in k)
    return found & functions.keys(), direct


def handlers_reaching_activities(sources: dict[str, str]) -> list[str]:
    functions, handlers = _index(sources)
    imports = _imports(sources)
    bad = []
    for handler in handlers:
        seen, todo = set(), [handler]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            callees, direct = _callees(name, functions[name], functions, imports)
            if direct:
                bad.append(f"{handler} reaches an activity through {name}")
                break
            todo.extend(callees)
    return bad


def _package_sources() -> dict[str, str]:
    return {
        ".".join(p.relative_to(WORKFLOWS.parent).with_suffix("").parts): p.read_text()
        for p in WORKFLOWS.rglob("*.py")
    }


def test_no_handler_in_workflows_reaches_an_activity() -> None:
    sources = _package_sources()
    _, handlers = _index(sources)
    assert len(handlers) >= 26, handlers  # 13 updates and their validators, and the query
    deliberation = [h for h in handlers if h.startswith("workflows.deliberation.shell:")]
    assert len(deliberation) >= 19, deliberation  # 9 updates, their validators, the query
    duty = [h for h in handlers if h.startswith("workflows.duty.shell:")]
    assert len(duty) >= 2, duty  # the fulfilment signal and the query
    assert handlers_reaching_activities(sources) == []


def test_the_check_finds_a_handler_that_awaits_an_activity_through_a_helper() -> None:
    sources = _package_sources()
    shell = "workflows.issue.shell"
    sources[shell] = sources[shell].replace(
        "        transitions.apply(self.s, name, a, workflow.now())\n",
        "        transitions.apply(self.s, name, a, workflow.now())\n"
        "        await effects.record(self.s)\n",
    )
    found = handlers_reaching_activities(sources)
    assert any(f.endswith("workflows.issue.effects:record") for f in found), found


def test_the_check_finds_a_deliberation_handler_that_records_itself() -> None:
    sources = _package_sources()
    shell = "workflows.deliberation.shell"
    sources[shell] = sources[shell].replace(
        "        transitions.apply(self.s, name, a, workflow.now())\n",
        "        transitions.apply(self.s, name, a, workflow.now())\n"
        "        await effects.record(self.s)\n",
    )
    found = handlers_reaching_activities(sources)
    assert any(f.endswith("workflows.deliberation.effects:record") for f in found), found


def test_the_check_finds_a_duty_handler_that_acts_itself() -> None:
    sources = _package_sources()
    shell = "workflows.duty.shell"
    decided = "            rules.fulfil(self.s, f)\n"
    assert decided in sources[shell]
    sources[shell] = sources[shell].replace(
        decided, decided + "            await effects.perform(self.s)\n"
    )
    found = handlers_reaching_activities(sources)
    assert any(f.endswith("workflows.duty.effects:perform") for f in found), found
