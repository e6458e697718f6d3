"""The package's structure rules (#13): no import cycle, `geoseg --help` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
from helpers import REPO

PACKAGE = REPO / "geoseg"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    """geoseg module -> geoseg modules it imports, at the top or inside functions.

    ``from pkg import sub`` (a submodule) is an edge to the submodule only: it needs the
    package initialised but not the package's own imports finished."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py") if "configs" not in p.parts}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                targets = subs if len(subs) == len(node.names) else [base, *subs]
            else:
                continue
            graph.add_edges_from((name, t) for t in targets if t in modules and t != name)
    return graph


def test_no_import_cycle_even_through_function_local_imports():
    graph = import_graph()
    assert graph.number_of_edges() > 100  # the graph really was read
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == []


def test_help_imports_neither_torch_nor_geopandas():
    code = (
        "import sys\n"
        "from geoseg.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='geoseg')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('torch', 'timm', 'geopandas', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
