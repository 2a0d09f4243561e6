"""The architecture as a test (../shared/STYLE.md): a module imports only modules before it in the pipeline;
ortools, folium and click stay in their modules; only io.py touches files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "zoning"

PIPELINE = [
    "errors",
    "options",
    "crs",
    "io",
    "datasets",
    "validate",
    "inputs",
    "graph",
    "roads",
    "problem",
    "problem_districts",
    "flow",
    "lagrange",
    "diagnose",
    "solve",
    "heuristics",
    "model_zones",
    "search_zones",
    "model_districts",
    "plan",
    "verify",
    "metrics",
    "zones",
    "districts",
    "maps",
    "export",
    "cli",
]
ONLY_IN = {
    "ortools": {"flow", "solve", "model_zones", "model_districts"},
    "folium": {"maps"},
    "branca": {"maps"},
    "click": {"cli"},
}
FILE_CALLS = {
    "open",
    "read_file",
    "to_file",
    "to_csv",
    "write_text",
    "write_bytes",
    "read_text",
    "read_bytes",
}


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(zoning modules imported, top-level third-party packages imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    ours, theirs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level >= 1:
                if node.module:
                    ours.add(node.module.split(".")[0])
                else:
                    ours.update(a.name for a in node.names)
            elif node.module and node.module.startswith("zoning"):
                parts = node.module.split(".")
                ours.add(parts[1] if len(parts) > 1 else "__init__")
            elif node.module:
                theirs.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for a in node.names:
                theirs.add(a.name.split(".")[0])
    return ours, theirs


def test_every_module_is_in_the_pipeline_table():
    modules = {p.stem for p in SRC.glob("*.py")} - {"__init__"}
    assert modules == set(PIPELINE), f"add new modules to PIPELINE in order: {modules ^ set(PIPELINE)}"


@pytest.mark.parametrize("module", PIPELINE)
def test_imports_only_earlier_modules(module):
    ours, theirs = _imports(SRC / f"{module}.py")
    later = {m for m in ours if m in PIPELINE and PIPELINE.index(m) >= PIPELINE.index(module)}
    assert not later, f"{module} imports {later}, which come later in the pipeline"
    assert "__init__" not in ours
    for package, allowed in ONLY_IN.items():
        if package in theirs:
            assert module in allowed, f"{module} imports {package}; only {allowed} may"


@pytest.mark.parametrize("module", [m for m in PIPELINE if m != "io"])
def test_only_io_touches_files(module):
    tree = ast.parse((SRC / f"{module}.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                name = node.func.attr
            else:
                name = getattr(node.func, "id", "")
                if name != "open":
                    continue  # e.g. io.write_text imported by name
            if module == "maps" and name == "read_text":
                continue  # Leaflet's JS/CSS read from the installed package's resources, not user files
            assert name not in FILE_CALLS, (
                f"{module} calls {name}() at line {node.lineno}; file access belongs in io.py"
            )


def test_library_never_prints():
    for path in SRC.glob("*.py"):
        if path.stem == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print":
                raise AssertionError(f"{path.name}:{node.lineno} prints; use logging")
