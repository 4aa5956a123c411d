"""labkit.vm's modules import one way: no cycle, not even through an import inside a function, and the libvirt
connection is a leaf every other module can use."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import labkit.vm

pytestmark = pytest.mark.unit

VM = Path(labkit.vm.__file__).parent


def imports() -> dict[str, set[str]]:
    """Every labkit.vm module and the labkit.vm modules it imports anywhere in its body (the package excluded)."""
    graph = {}
    for path in VM.glob("*.py"):
        if path.name == "__init__.py":
            continue
        name = f"labkit.vm.{path.stem}"
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("labkit.vm."):
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("labkit.vm.")}
        graph[name] = found - {name}
    return graph


def test_no_import_cycle_inside_labkit_vm():
    graph = imports()
    state: dict[str, int] = {}

    def visit(mod: str, path: list[str]) -> None:
        state[mod] = 1
        for dep in sorted(graph.get(mod, ())):
            if state.get(dep) == 1:
                raise AssertionError(" -> ".join(path + [mod, dep]))
            if dep not in state:
                visit(dep, path + [mod])
        state[mod] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [])


def test_the_connection_and_the_spec_are_leaves():
    graph = imports()
    assert graph["labkit.vm.connection"] == {"labkit.vm.errors"}
    assert graph["labkit.vm.spec"] == {"labkit.vm.errors"}
    defined = [p.name for p in VM.glob("*.py") if "\nLABKIT_NS = " in p.read_text()]
    assert defined == ["spec.py"]  # labkit's XML namespace is written down once
