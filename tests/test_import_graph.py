"""The modules of src/ganforge import each other without cycles (docs/architecture.md).

Every ``import`` counts: module-level, inside functions (the usual way to hide a cycle),
under ``if TYPE_CHECKING``, and a module's dotted name in a string (``importlib`` imports,
e.g. ``training/__init__.py``'s lazy exports). ``from package import name`` points at
``package.name`` when that is a module, else at the package's ``__init__``.
"""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def module_names() -> dict[str, Path]:
    found = {}
    for path in (SRC / "ganforge").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in modules else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in modules:
            targets.add(node.value)
    return {t for t in targets if t in modules and t != name}


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_function_level_and_package_imports():
    graph = import_graph()
    assert "ganforge.training.state" in graph["ganforge.training.loop"]
    assert "ganforge.training.distributed" in graph["ganforge.games.base"]  # from pkg import module
    assert "ganforge.training.state" in graph["ganforge.training.runners"]  # TYPE_CHECKING
    assert "ganforge.training" in graph["ganforge.cli.train"]  # inside run()
    assert "ganforge.training.loop" in graph["ganforge.training"]  # lazy export, by name
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [frozenset({"a", "b"})]


def test_no_import_cycles():
    assert [sorted(c) for c in cycles(import_graph())] == []
