"""No update, signal or query handler in ``workflows/`` reaches an activity.

Handlers decide; the run loop alone performs effects (DESIGN.md, "One workflow pattern"). The
check walks each handler's calls through the workflow package — methods called on ``self`` and
functions of the package's modules — and fails if any path reaches an activity call.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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


def _index(
    sources: dict[str, str],
) -> tuple[dict[str, ast.AST], list[str], dict[str, list[str]]]:
    """Every function by a qualified name (``module:Class.name`` or ``module:name``), the names of
    the handlers, and each class's bases inside the package (``module:Class``)."""
    functions: dict[str, ast.AST] = {}
    handlers: list[str] = []
    bases: dict[str, list[str]] = {}
    classes = _classes(sources)
    for module, source in sources.items():
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions[f"{module}:{node.name}"] = node
            if isinstance(node, ast.ClassDef):
                bases[f"{module}:{node.name}"] = [
                    b for b in (_base_of(module, base, classes) for base in node.bases) if b
                ]
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        name = f"{module}:{node.name}.{item.name}"
                        functions[name] = item
                        if _decorated_as_handler(item):
                            handlers.append(name)
    return functions, handlers, bases


def _classes(sources: dict[str, str]) -> dict[str, dict[str, str]]:
    """Per module, the package classes it can name: its own and those it imports by name."""
    own = {
        module: {
            node.name: f"{module}:{node.name}"
            for node in ast.parse(source).body
            if isinstance(node, ast.ClassDef)
        }
        for module, source in sources.items()
    }
    names = {module: dict(mine) for module, mine in own.items()}
    for module, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module in own:
                for alias in node.names:
                    if alias.name in own[node.module]:
                        names[module][alias.asname or alias.name] = own[node.module][alias.name]
    return names


def _base_of(module: str, base: ast.expr, classes: dict[str, dict[str, str]]) -> str | None:
    # ``Shell[IssueState, ActionResult]``: the class subscripted with its type arguments.
    target = base.value if isinstance(base, ast.Subscript) else base
    if isinstance(target, ast.Name):
        return classes[module].get(target.id)
    return None


def _method(cls: str, name: str, functions: dict[str, ast.AST], bases: dict[str, list[str]]) -> str:
    """``self.name`` on an instance of ``cls``: the first definition along its bases."""
    for here in _mro(cls, bases):
        if f"{here}.{name}" in functions:
            return f"{here}.{name}"
    return f"{cls}.{name}"


def _mro(cls: str, bases: dict[str, list[str]]) -> list[str]:
    order, todo = [], [cls]
    while todo:
        here = todo.pop(0)
        if here not in order:
            order.append(here)
            todo.extend(bases.get(here, []))
    return order


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
    on_self: str | None = None,
    bases: dict[str, list[str]] | None = None,
) -> tuple[set[str], bool]:
    """What ``fn`` calls inside the package, and whether it calls an activity itself.

    ``on_self`` is the class of the instance a method runs on (a subclass's hooks answer a base
    class's ``self`` calls); by default the class that defines ``fn``."""
    imports = imports or {}
    module, _, qual = name.partition(":")
    cls = on_self or (f"{module}:{qual.split('.')[0]}" if "." in qual else None)
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
                found.add(_method(cls, func.attr, functions, bases or {}))
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
    functions, handlers, bases = _index(sources)
    imports = _imports(sources)
    bad = []
    for handler in handlers:
        # The handler's own class is the instance's: ``self`` calls resolve from it down its bases.
        instance = handler.rpartition(".")[0]
        mro = _mro(instance, bases)
        seen, todo = set(), [handler]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            on_self = instance if name.rpartition(".")[0] in mro else None
            callees, direct = _callees(name, functions[name], functions, imports, on_self, bases)
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
    _, handlers, _ = _index(sources)
    assert len(handlers) >= 26, handlers  # 13 updates and their validators, and the query
    deliberation = [h for h in handlers if h.startswith("workflows.deliberation.shell:")]
    assert len(deliberation) >= 19, deliberation  # 9 updates, their validators, the query
    duty = [h for h in handlers if h.startswith("workflows.duty.shell:")]
    assert len(duty) >= 2, duty  # the fulfilment signal and the query
    assert handlers_reaching_activities(sources) == []


APPLIED = "        transitions.apply(self.s, name, a, workflow.now())\n"


def _recording_in_apply(shell: str) -> list[str]:
    """The check on the package where ``shell``'s ``_apply`` hook (which the base class's shared
    handler calls on a subclass instance) also records."""
    sources = _package_sources()
    assert APPLIED in sources[shell]
    sources[shell] = sources[shell].replace(APPLIED, APPLIED + "        effects.record(self.s)\n")
    return handlers_reaching_activities(sources)


@pytest.mark.parametrize(
    ("shell", "handler", "other"),
    [
        ("workflows.issue.shell", "IssueWorkflow.accept", "workflows.deliberation."),
        ("workflows.deliberation.shell", "DeliberationWorkflow.ballot", "workflows.issue."),
    ],
)
def test_the_check_finds_a_handler_that_records_through_its_hook(
    shell: str, handler: str, other: str
) -> None:
    found = _recording_in_apply(shell)
    assert any(
        f.startswith(f"{shell}:{handler} ") and f.endswith("workflows.effects:record")
        for f in found
    ), found
    assert not any(f.startswith(other) for f in found), found


def test_the_check_follows_the_shared_handler_into_the_base_class() -> None:
    """An activity reached from ``workflows.shell``'s shared handler is every subclass's fault."""
    sources = _package_sources()
    base = "workflows.shell"
    decided = "        self._decided = True\n"
    assert decided in sources[base]
    sources[base] = sources[base].replace(decided, decided + "        await self._record()\n")
    found = handlers_reaching_activities(sources)
    assert any(f.startswith("workflows.issue.shell:IssueWorkflow.resolve ") for f in found), found
    assert any(
        f.startswith("workflows.deliberation.shell:DeliberationWorkflow.decide ") for f in found
    ), found
    # The validators never reach ``_decide``: they stay clean.
    assert not any("._admit" in f.split(" ")[0] for f in found), found


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
