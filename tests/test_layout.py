"""Architecture rules that code review alone would miss: layering, no .cuda(), no import-time loading."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from _data import REPO

LAYERS = {
    "agent": {"tools", "graphs", "ui", "app"},
    "tools": {"graphs", "ui", "app"},
    "graphs": {"ui", "app"},
}


def _python_files(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_data_flows_one_way(package: str) -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_imported_roots(path) & LAYERS[package])
        for path in _python_files(package)
        if _imported_roots(path) & LAYERS[package]
    }
    assert not offenders, f"{package} must not import {sorted(LAYERS[package])}: {offenders}"


def _ui_import_graph() -> dict[str, set[str]]:
    """Map each ui module to the ui modules it imports anywhere (top level, in functions, TYPE_CHECKING)."""
    names = {p.stem: ("ui" if p.stem == "__init__" else f"ui.{p.stem}") for p in (REPO / "ui").glob("*.py")}
    graph: dict[str, set[str]] = {}
    for stem, module in names.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse((REPO / "ui" / f"{stem}.py").read_text())):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name.split(".")[0] == "ui")
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolved against the ui package
                    base = ".".join(filter(None, ("ui", base)))
                if base == "ui":  # `from ui import x`: the submodule x, or the package itself
                    edges.update(f"ui.{a.name}" if a.name in names else "ui" for a in node.names)
                elif base.split(".")[0] == "ui":
                    edges.add(base)
        graph[module] = edges - {module}
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle of ``graph`` (first module repeated at the end), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module):], module]
        if module in done:
            return None
        for target in sorted(graph.get(module, ())):
            found = visit(target, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    return next((c for m in sorted(graph) if (c := visit(m, [])) is not None), None)


def test_ui_modules_import_without_cycles() -> None:
    """Imports inside ui/ run one way (app -> handlers -> core -> helpers), type-only ones included."""
    graph = _ui_import_graph()
    assert {"ui.app", "ui.core", "ui.sessions", "ui.turns", "ui.cli", "ui.cli_options"} <= set(graph)
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check itself
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle in ui/: " + " -> ".join(cycle or [])


def test_no_cuda_calls_in_product_code() -> None:
    hits = [
        f"{path.relative_to(REPO)}:{n}"
        for package in ("agent", "tools", "graphs", "ui")
        for path in _python_files(package)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if ".cuda()" in line or "device='cuda'" in line or 'device="cuda"' in line
    ]
    assert not hits, hits


def test_no_version_suffixed_modules() -> None:
    bad = [p for pkg in ("agent", "tools", "graphs", "ui") for p in _python_files(pkg) if p.stem.rsplit("_", 1)[-1] in {"v0", "v1", "v2", "old", "new"}]
    assert not bad


def test_default_install_imports_without_torch() -> None:
    """The app, graph and lite backend must not import torch (the default install has none)."""
    code = (
        "import sys\n"
        "import app, graphs.runtime, graphs.replay, graphs.evaluate, tools.backends.lite, ui.cli, ui.app\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'segment_anything', 'timm') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
