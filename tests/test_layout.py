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
