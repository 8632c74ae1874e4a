"""The package layout's promises (docs/architecture.md), checked on the source itself.

No import cycles inside ``wheelguard`` (a cycle makes the import order load-bearing and the
layout a lie), only ``wheelguard.cli`` touches argparse (domain code takes typed values, never a
Namespace), and no module grows past the size the architecture page promises without saying
why at its top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "wheelguard"
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every wheelguard module ``name`` imports, anywhere in it (function bodies too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, path in MODULES.items():
        for target, _line in _imports(name, path):
            # A submodule import also runs every package __init__ above it.
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                if candidate in MODULES and candidate != name and not name.startswith(
                        candidate + "."):
                    graph[name].add(candidate)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_cycle_detector_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_cli_imports_argparse() -> None:
    offenders = [
        f"{name}:{line}"
        for name, path in MODULES.items()
        if not (name == "wheelguard.cli" or name.startswith("wheelguard.cli."))
        for target, line in _imports(name, path)
        if target == "argparse" or target.startswith("argparse.")
    ]
    assert offenders == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_long_modules_say_why(name: str) -> None:
    path = MODULES[name]
    text = path.read_text(encoding="utf-8")
    if text.count("\n") <= MAX_LINES:
        return
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert "Why this module is long:" in doc, (
        f"{path.relative_to(PACKAGE.parent)} has {text.count(chr(10))} lines; split it or say "
        "'Why this module is long: ...' in its docstring")


def test_architecture_page_matches_the_tree() -> None:
    """docs/architecture.md names every package and module that exists, and nothing else."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.name for p in PACKAGE.iterdir()
                      if p.is_dir() and (p / "__init__.py").is_file())
    for pkg in packages:
        assert f"`{pkg}/`" in text, f"docs/architecture.md does not describe {pkg}/"
    import re

    for ref in re.findall(r"`((?:[a-z_]+/)?[a-z_]+\.py)`", text):
        candidates = [PACKAGE / ref, *PACKAGE.glob(f"*/{ref}")]
        assert any(c.is_file() for c in candidates), f"docs/architecture.md names {ref}"
