"""The architecture as a test (../shared/STYLE.md, README "How the code is laid out").

- A package imports only from packages before it in ``PIPELINE``; inside a package a module imports only
  modules before it in ``WITHIN`` (so both solver families read problem → bound → start → diagnose → model →
  search → api); no two modules import each other, directly or round a circle.
- ``ortools`` only in the solver packages and the CP-SAT runner, ``folium`` only in ``publish.maps``, ``click``
  only in ``cli``; only ``io`` touches files; the library never prints.
- Every package says in its ``__init__`` docstring what it does and what it may import; no module is over
  about 600 lines; no ``utils``.

Imports under ``if TYPE_CHECKING:`` are annotations, not dependencies: ``plan`` names the problem types of
the solver packages that build plans, and nothing runs them.  ``zoning/__init__`` (the public API) may import
anything and nothing may import it.  The checker is tested on small made-up trees, so it can fail.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "zoning"

#: Top-level modules and packages in pipeline order.
PIPELINE = [
    "errors",
    "logs",
    "options",
    "plan",
    "io",
    "geo",
    "check",
    "cpsat",
    "zones",
    "districts",
    "scenarios",
    "publish",
    "batch",
    "cli",
]

#: Inside each package: its modules (and sub-packages) in order.
WITHIN = {
    "io": ["files", "save", "crs", "datasets", "db", "validate", "inputs"],
    "io.validate": ["headers", "numbers", "geometry", "blocks", "schools", "pair"],
    "geo": ["graph", "roads"],
    "check": ["verify", "metrics"],
    "zones": [
        "candidates",
        "problem",
        "bound",
        "start",
        "ejection",
        "diagnose",
        "model",
        "windows",
        "search",
        "api",
    ],
    "districts": [
        "problem",
        "bound",
        "coverage",
        "start",
        "chain",
        "anneal",
        "diagnose",
        "model",
        "windows",
        "search",
        "schoolgraph",
        "api",
    ],
    "scenarios": [
        "changes",
        "compare",
        "stability",
        "years",
        "horizon",
        "frontier",
        "siting_problem",
        "siting_bound",
        "siting_start",
        "siting_model",
        "siting",
        "sites",
    ],
    "publish": ["maps", "export", "announce", "figures", "report"],
    "publish.maps": ["style", "assets", "layers", "legend", "consult", "page"],
    "batch": ["jobs", "work", "run"],
    "cli": ["group", "options", "report", "zones", "districts", "publish", "scenarios", "batch"],
}

ONLY_IN = {
    "ortools": ("cpsat", "zones", "districts", "scenarios"),
    "folium": ("publish.maps",),
    "branca": ("publish.maps",),
    "click": ("cli",),
    "numba": ("districts.chain",),
    "matplotlib": ("publish.figures",),
    "weasyprint": ("publish.report",),
    "dask": ("batch",),
    "distributed": ("batch",),
    "sqlalchemy": ("io.db",),
    "geoalchemy2": ("io.db",),
    "psycopg": ("io.db",),
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
#: (module, call) pairs allowed outside io: Leaflet's JS/CSS read from the installed package's resources.
FILE_CALL_EXCEPTIONS = {("publish.maps", "read_text")}
MAX_LINES = 650  # "about 600"


# ------------------------------------------------------------------------------------------- the checker


def _modules(src: Path) -> dict[str, Path]:
    """dotted name under zoning ('' for zoning/__init__, 'io' for io/__init__) → file."""
    out = {}
    for p in sorted(src.rglob("*.py")):
        parts = list(p.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _is_package(src: Path, name: str) -> bool:
    return (src / Path(*name.split(".")) / "__init__.py").exists() if name else True


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(src: Path, name: str, path: Path, mods: dict[str, Path]):
    """(zoning modules imported at run time, third-party top-level packages)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = name.split(".") if name else []
    package = here if _is_package(src, name) else here[:-1]
    ours, theirs = set(), set()
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _type_checking(node)
        for child in node.body
        for n in ast.walk(child)
    }
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else list(package)
                if node.level - 1 > len(package):
                    raise AssertionError(f"{name}: relative import beyond zoning")
                base = base + (node.module.split(".") if node.module else [])
            elif node.module and (node.module == "zoning" or node.module.startswith("zoning.")):
                base = node.module.split(".")[1:]
            else:
                if node.module:
                    theirs.add(node.module.split(".")[0])
                continue
            for alias in node.names:
                sub = ".".join(base + [alias.name])
                ours.add(sub if sub in mods else ".".join(base))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("zoning"):
                    ours.add(".".join(a.name.split(".")[1:]))
                else:
                    theirs.add(a.name.split(".")[0])
    ours.discard(name)
    return ours, theirs


def _position(name: str) -> list[int]:
    """Where a module sits: its unit's index in PIPELINE, then its index inside each package on the way."""
    parts = name.split(".")
    pos = [PIPELINE.index(parts[0])]
    for depth in range(1, len(parts)):
        order = WITHIN.get(".".join(parts[:depth]))
        if order is None:
            break
        pos.append(order.index(parts[depth]))
    return pos


def _in(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layering_violations(src: Path) -> list[str]:
    mods = _modules(src)
    problems: list[str] = []
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        if name == "":
            continue
        top = name.split(".")[0]
        if top not in PIPELINE:
            problems.append(f"{name}: add '{top}' to PIPELINE in order")
            continue
        parent = name.rpartition(".")[0] if "." in name else ""
        if parent and parent in WITHIN and name.rpartition(".")[2] not in WITHIN[parent]:
            problems.append(f"{name}: add '{name.rpartition('.')[2]}' to WITHIN['{parent}'] in order")
            continue
        if _is_package(src, name) and name not in WITHIN:
            problems.append(f"{name}: add the package and its modules in order to WITHIN")
        if path.stem in ("utils", "helpers", "misc", "common"):
            problems.append(f"{name}: no {path.stem} module; a helper lives beside its user")
        ours, theirs = _imports(src, name, path, mods)
        graph[name] = ours
        for other in ours:
            if other == "":
                problems.append(
                    f"{name} imports zoning/__init__ (the public API imports everyone; use the module)"
                )
                continue
            if other not in mods:
                problems.append(f"{name} imports {other}, which does not exist")
                continue
            if name.startswith(other + ".") or other.startswith(name + "."):
                continue  # a package and its own modules
            a, b = _position(name), _position(other)
            n = 0
            while n < min(len(a), len(b)) and a[n] == b[n]:
                n += 1
            if n < min(len(a), len(b)) and b[n] > a[n]:
                problems.append(f"{name} imports {other}, which comes later in the pipeline")
        for package, allowed in ONLY_IN.items():
            if package in theirs and not _in(name, allowed):
                problems.append(f"{name} imports {package}; only {', '.join(allowed)} may")
        problems += _file_calls(name, path)
        if name != "cli" and not name.startswith("cli."):
            problems += _prints(name, path)
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > MAX_LINES:
            problems.append(f"{name} has {lines} lines (about 600 at most: it has two jobs, split it)")
        if _is_package(src, name):
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            if "May import" not in doc:
                problems.append(
                    f"{name}/__init__.py: its docstring says what the package does and 'May import: …'"
                )
    problems += _cycles(graph)
    return problems


def _file_calls(name: str, path: Path) -> list[str]:
    if _in(name, ["io"]):
        return []
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute):
            call = node.func.attr
        else:
            call = getattr(node.func, "id", "")
            if call != "open":
                continue  # e.g. io.files.write_text imported by name
        if call in FILE_CALLS and not any(_in(name, [m]) and call == c for m, c in FILE_CALL_EXCEPTIONS):
            out.append(f"{name} calls {call}() at line {node.lineno}; file access belongs in io")
    return out


def _prints(name: str, path: Path) -> list[str]:
    return [
        f"{name}:{node.lineno} prints; use logging"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print"
    ]


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    """Import circles between modules (a package's __init__ re-exporting its own modules is not one)."""
    edges = {
        a: {b for b in bs if b in graph and not (b.startswith(a + ".") or a.startswith(b + "."))}
        for a, bs in graph.items()
    }
    out, state, stack = [], {}, []

    def visit(v):
        state[v] = 1
        stack.append(v)
        for w in sorted(edges[v]):
            if state.get(w) == 1:
                out.append("import circle: " + " → ".join(stack[stack.index(w) :] + [w]))
            elif w not in state:
                visit(w)
        stack.pop()
        state[v] = 2

    for v in sorted(edges):
        if v not in state:
            visit(v)
    return out


# ----------------------------------------------------------------------------------------------- the tests


def test_the_package_keeps_its_layers():
    problems = layering_violations(SRC)
    assert not problems, "\n".join(problems)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "zoning"
    for rel, text in files.items():
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    for d in [p for p in src.rglob("*") if p.is_dir()] + [src]:
        if not (d / "__init__.py").exists():
            (d / "__init__.py").write_text('"""A package.\n\nMay import: nothing.\n"""\n', encoding="utf-8")
    return src


def test_a_clean_made_up_tree_passes(tmp_path):
    src = _tree(
        tmp_path,
        {
            "errors.py": "",
            "zones/problem.py": "from ..errors import X\n",
            "zones/api.py": "from .problem import P\nfrom ..check.verify import check_plan\n",
            "check/verify.py": "from ..plan import Plan\n",
            "plan.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .zones.problem import P\n",
        },
    )
    assert layering_violations(src) == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a package importing from a later one
        (
            {"check/verify.py": "from ..zones.problem import P\n", "zones/problem.py": ""},
            "check.verify imports zones.problem, which comes later",
        ),
        # inside a family: the model importing the search
        (
            {"zones/model.py": "from .search import S\n", "zones/search.py": ""},
            "zones.model imports zones.search, which comes later",
        ),
        # absolute imports count the same
        (
            {"geo/graph.py": "from zoning.publish.maps import zone_map\n", "publish/maps.py": ""},
            "geo.graph imports publish.maps",
        ),
        # a circle
        (
            {"zones/start.py": "from .problem import P\n", "zones/problem.py": "from .start import S\n"},
            "import circle",
        ),
        (
            {"publish/export.py": "from ortools.sat.python import cp_model\n"},
            "only cpsat, zones, districts, scenarios may",
        ),
        ({"zones/api.py": "import folium\n"}, "only publish.maps may"),
        ({"publish/export.py": "from matplotlib.figure import Figure\n"}, "only publish.figures may"),
        ({"publish/figures.py": "import weasyprint\n"}, "only publish.report may"),
        ({"zones/api.py": "import click\n"}, "only cli may"),
        ({"check/metrics.py": "def f(p):\n    return open(p).read()\n"}, "file access belongs in io"),
        ({"zones/api.py": "print('hi')\n"}, "prints; use logging"),
        ({"zones/utils.py": ""}, "add 'utils' to WITHIN"),
        ({"zones/api.py": "x = 1\n" * 700}, "has 700 lines"),
        ({"zones/api.py": "from .. import assign_zones\n"}, "imports zoning/__init__"),
        ({"newpkg/x.py": ""}, "add 'newpkg' to PIPELINE"),
    ],
)
def test_the_checker_finds_every_slip(tmp_path, files, expected):
    problems = layering_violations(_tree(tmp_path, files))
    assert any(expected in p for p in problems), problems


def test_a_package_without_its_docstring_is_named(tmp_path):
    src = _tree(tmp_path, {"geo/graph.py": ""})
    (src / "geo" / "__init__.py").write_text("", encoding="utf-8")
    assert any("geo/__init__.py" in p for p in layering_violations(src))
