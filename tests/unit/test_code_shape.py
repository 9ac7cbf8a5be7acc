"""The shape the codebase keeps (issue 21): short functions, few nested ones, no patched frameworks.

Read from the source with ``ast``: no function of ``streams/`` (the emulator aside) over 80 lines or
holding more than three nested functions, and no assignment into an attribute of something imported
from faust, aiokafka, mode or rocksdict (extend them by subclass or registry instead).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import streams

ROOT = Path(streams.__file__).parent
FRAMEWORKS = ("faust", "aiokafka", "mode", "rocksdict")
MAX_LINES = 80
MAX_NESTED = 3

Function = ast.FunctionDef | ast.AsyncFunctionDef


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(ROOT.rglob("*.py")):
        if "emulator" in path.relative_to(ROOT).parts:
            continue
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def functions(tree: ast.AST) -> Iterator[Function]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def nested(function: Function) -> int:
    return sum(1 for node in ast.walk(function) if node is not function and isinstance(node, Function))


def framework_names(tree: ast.Module) -> set[str]:
    """Local names bound to a framework module or something imported from one."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FRAMEWORKS:
                    names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FRAMEWORKS:
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def patches(tree: ast.Module) -> Iterator[ast.AST]:
    imported = framework_names(tree)
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            targets = [ast.Attribute(value=node.args[0], attr="?")] if node.args else []
        for target in targets:
            if isinstance(target, ast.Attribute) and root_name(target) in imported:
                yield node


def test_no_function_is_longer_than_a_screen() -> None:
    long = [
        f"{path.relative_to(ROOT)}:{f.lineno} {f.name} ({(f.end_lineno or f.lineno) - f.lineno + 1} lines)"
        for path, tree in sources()
        for f in functions(tree)
        if (f.end_lineno or f.lineno) - f.lineno + 1 > MAX_LINES
    ]
    assert long == []


def test_no_function_holds_more_than_three_nested_functions() -> None:
    crowded = [
        f"{path.relative_to(ROOT)}:{f.lineno} {f.name} ({nested(f)} nested)"
        for path, tree in sources()
        for f in functions(tree)
        if nested(f) > MAX_NESTED
    ]
    assert crowded == []


def test_nothing_assigns_into_faust_aiokafka_mode_or_rocksdict() -> None:
    found = [f"{path.relative_to(ROOT)}:{node.lineno}" for path, tree in sources() for node in patches(tree)]
    assert found == []


def test_the_patch_finder_finds_a_patch() -> None:
    tree = ast.parse("from faust.transport.consumer import Consumer\nConsumer.ack = lambda self, m: False\n")
    assert len(list(patches(tree))) == 1
    assert list(patches(ast.parse("class Mine:\n    pass\nMine.ack = 1\n"))) == []
