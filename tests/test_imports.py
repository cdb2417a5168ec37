"""The architecture, held: imports run one way between the wings, no circles, no module over 600 lines.

The wings, lowest first (docs/engine.md):

    facts < engine.deciding < engine.presenting < engine.authoring < engine.analysing
          < { engine.running , exchange } < engine.cli

A module may import its own wing and any wing below it, never one above or
beside it: engine.running and exchange never import each other (the command
line hands exchange's reader and writer to engine.running).  Every import
counts, at module level or inside a function.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "facts", "exchange")
MAX_LINES = 600

#: Each wing and its rank: a module imports only its own wing and wings of a lower rank.
WINGS = {
    "engine": 0,  # the package itself (empty) and engine.exports (the wings' lazy public names): import nothing
    "facts": 0,
    "engine.deciding": 1,
    "engine.presenting": 2,
    "engine.authoring": 3,
    "engine.analysing": 4,
    "engine.running": 5,
    "exchange": 5,
    "engine.cli": 6,
}



def _modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the packages under ``root``, by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    """Project modules ``path`` imports anywhere in it, at module level or inside a function.

    ``from package import name`` counts the submodule when ``name`` is one, the
    package otherwise (importing a submodule runs its package's ``__init__``, but
    depends on the submodule: counting the package would make every package whose
    ``__init__`` imports its own modules a circle).
    """

    def owner(name: str) -> str | None:  # the longest known module that ``name`` is or lies in
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            if ".".join(parts[:i]) in known:
                return ".".join(parts[:i])
        return None

    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [owner(alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else owner(node.module)
                     for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: a relative import; write it absolute (from engine.deciding.x import y)")
        else:
            continue
        out |= {n for n in names if n is not None}
    return out


def _graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = _modules(root)
    return {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}


def wing(module: str) -> str:
    """The wing a module belongs to: the longest wing its name starts with."""
    matches = [w for w in WINGS if module == w or module.startswith(w + ".")]
    assert matches, f"{module} is in no wing: add it to WINGS in tests/test_imports.py and to docs/engine.md"
    return max(matches, key=len)


def against_the_order(graph: dict[str, set[str]]) -> list[str]:
    """Every import that runs up or sideways between wings, as ``a -> b (why)``."""
    found = []
    for source in sorted(graph):
        here = wing(source)
        for target in sorted(graph[source]):
            there = wing(target)
            if there != here and WINGS[there] >= WINGS[here]:
                side = "beside" if WINGS[there] == WINGS[here] else "above"
                found.append(f"{source} -> {target} ({there} is {side} {here})")
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def oversized(root: Path = ROOT) -> dict[str, int]:
    """Modules of engine/, facts/ and exchange/ over MAX_LINES lines, with their line counts."""
    counts = {path.relative_to(root).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
              for path in _modules(root).values()}
    return {path: n for path, n in sorted(counts.items()) if n > MAX_LINES}


def test_imports_run_one_way_between_the_wings():
    found = against_the_order(_graph())
    assert not found, "imports against the wing order (docs/engine.md):\n  " + "\n  ".join(found)


def test_the_module_graph_has_no_circle():
    cycle = _cycle(_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_module_is_over_600_lines():
    over = {path: n for path, n in oversized().items()}
    assert not over, "modules over 600 lines (split them along their seams):\n  " + "\n  ".join(
        f"{path}: {n} lines" for path, n in over.items())


def _plant(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_catches_planted_violations(tmp_path):
    """A tree with one import of each kind the order forbids, one inside a function; and the allowed ones."""
    _plant(tmp_path, {
        "engine/__init__.py": "",
        "engine/deciding/__init__.py": "",
        "engine/deciding/solver.py": "def f():\n    from engine.presenting.render import to_json\n",
        "engine/presenting/__init__.py": "",
        "engine/presenting/render.py": "from engine.deciding.solver import f\n",
        "engine/running/__init__.py": "",
        "engine/running/batch.py": "import exchange.request\nfrom engine.presenting import render\n",
        "engine/cli/__init__.py": "from exchange import request\nfrom engine.running import batch\n",
        "facts/__init__.py": "",
        "facts/model.py": "from engine.deciding import solver\n",
        "exchange/__init__.py": "",
        "exchange/request.py": "from facts import model\nfrom engine.deciding.solver import f\n",
        "exchange/big.py": "x = 1\n" * (MAX_LINES + 1),
    })
    graph = _graph(tmp_path)
    assert graph["engine.cli"] == {"exchange.request", "engine.running.batch"}
    assert against_the_order(graph) == [
        "engine.deciding.solver -> engine.presenting.render (engine.presenting is above engine.deciding)",
        "engine.running.batch -> exchange.request (exchange is beside engine.running)",
        "facts.model -> engine.deciding.solver (engine.deciding is above facts)",
    ]
    cycle = _cycle(graph)
    assert cycle is not None and set(cycle) == {"engine.deciding.solver", "engine.presenting.render"}
    assert oversized(tmp_path) == {"exchange/big.py": MAX_LINES + 1}


def test_the_circle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("package", ["engine.deciding", "engine.presenting", "engine.authoring", "engine.analysing",
                                     "engine.running"])
def test_each_wing_names_its_public_surface(package):
    """Every name a wing's ``__init__`` offers is there, and none hides a module of the wing."""
    module = importlib.import_module(package)
    assert module.__all__, f"{package}/__init__.py names no public surface"
    folder = ROOT / package.replace(".", "/")
    for name in module.__all__:
        assert not (folder / f"{name}.py").exists(), f"{package}.{name} is a module and a public name"
        assert getattr(module, name) is not None


@pytest.mark.parametrize("module", ["engine.authoring.lint", "engine.deciding.solver", "engine.deciding.transform",
                                    "facts.model", "facts.emit", "exchange.response", "engine.cli"])
def test_a_module_once_in_a_circle_imports_alone(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _command_bodies(root: Path = ROOT) -> dict[str, int]:
    """Each function of the command line (engine/cli/) and the lines of its body after its docstring (the help)."""
    found = {}
    for path in sorted((root / "engine" / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.body:
                body = node.body[1:] if ast.get_docstring(node) is not None else node.body
                found[f"{path.name}::{node.name}"] = (node.end_lineno - body[0].lineno + 1) if body else 0
    return found


def test_the_command_line_is_thin():
    """A command parses its options, calls one function of a wing, and exits with its status."""
    assert len((ROOT / "engine" / "cli" / "__init__.py").read_text(encoding="utf-8").splitlines()) < 400
    long = {name: n for name, n in _command_bodies().items() if n > 40}
    assert not long, f"command bodies over 40 lines (move the work into a wing): {long}"
    assert _command_bodies()["__init__.py::diff_command"] <= 10  # the command that did the most, once
