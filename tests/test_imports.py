"""cnnlab's modules import one another in one direction: no loops, also through a function's own
import (only ``if TYPE_CHECKING:`` imports, which never run, may point back)."""

from __future__ import annotations

import ast
from pathlib import Path

import cnnlab

SOURCE = Path(cnnlab.__file__).parent.parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, modules: set[str]) -> set[str]:
    """The cnnlab modules a module's code imports, outside ``if TYPE_CHECKING:`` blocks."""
    found: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            found |= submodules
            if len(submodules) < len(node.names):  # names defined in the module itself
                found.add(node.module)
        found |= _imported(node, modules)
    return found & modules


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in (SOURCE / "cnnlab").rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        imported = _imported(ast.parse(path.read_text(encoding="utf-8")), set(paths))
        # A package's __init__ runs before its modules anyway: that edge is no loop.
        graph[name] = {m for m in imported if m != name and not name.startswith(m + ".")}
    return graph


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import loop once, as the path from a module back to itself (depth-first search)."""
    found, state = [], dict.fromkeys(graph, "new")

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state[target] == "open":
                found.append([*path[path.index(target) :], target])
            elif state[target] == "new":
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if state[module] == "new":
            visit(module, [module])
    return found


def test_the_loop_finder_finds_a_loop():
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    assert "cnnlab.data.image_dataset" in graph["cnnlab.data.image_folder"]
    assert loops(graph) == []
