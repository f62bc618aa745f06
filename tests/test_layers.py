"""The packages of src/nuwire stand in layers: every import goes down, or stays inside its own package.

The source is parsed, not imported, and every `nuwire.` import counts: at module level, inside a
function and under `if TYPE_CHECKING:` alike. A *unit* is a subpackage (`nuwire.io`) or a module of
the top level (`nuwire.geometry`); `nuwire` itself is the package's `__init__` (`__version__`).
docs/architecture.md draws the same floors (checked here).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "nuwire"

# Bottom to top. A unit may import units on lower floors only; units on one floor are independent.
LAYERS: list[tuple[str, ...]] = [
    ("nuwire", "errors", "geometry", "cpus"),  # base: no torch, no files
    ("architectures", "schema"),  # the architecture list and the config schema, with their checks
    ("io", "sparse"),  # files and their errors, the event key; sparse tensors
    ("provenance", "figures", "stats", "simulate", "images", "models"),  # what each stage stands on
    ("events",),  # event index, cuts, sweep, targets
    ("pipeline",),  # config checks, the stage runner
    ("learn",),  # a point's data, training
    ("evaluation",),
    ("report",),
    ("systematics",),
    ("cli",),
]

# Imports that still run against the layers, each with what ends it. An entry no import uses any
# more fails `test_every_exemption_is_still_needed`: remove it then.
EXEMPT: dict[str, str] = {}

FLOOR = {unit: floor for floor, units in enumerate(LAYERS, start=1) for unit in units}


def _unit(module: str) -> str:
    """'nuwire.io.atomic' -> 'io'; 'nuwire' -> 'nuwire'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every nuwire module the file imports; `from nuwire import x` names nuwire.x
    when x is a subpackage or module, else nuwire itself."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing file's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_module = (PACKAGE.parent / sub.replace(".", "/")).is_dir() or (
                    PACKAGE.parent / (sub.replace(".", "/") + ".py")
                ).is_file()
                found.append((node.lineno, sub if is_module else base))
    return sorted({(line, name) for line, name in found if name == "nuwire" or name.startswith("nuwire.")})


def _imports() -> list[tuple[str, int, str]]:
    """(importing file, line, imported module) for every nuwire import of the package."""
    return [
        (str(path.relative_to(PACKAGE.parent)), line, name)
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, name in _imported(path)
    ]


def _counted_edges() -> dict[str, dict[str, list[str]]]:
    """unit -> imported unit -> ['file:line module', ...], exempt imports and a unit's own left out."""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for source, line, name in _imports():
        src, dst = _unit(_module_of(PACKAGE.parent / source)), _unit(name)
        if src != dst and name not in EXEMPT:
            edges[src][dst].append(f"{source}:{line} {name}")
    return edges


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one unit (cycles of any length)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_scan_sees_the_imports_it_checks():
    """The parser finds known imports of each form, so that an empty result cannot pass for a clean one."""
    names = {(source, name) for source, _, name in _imports()}
    assert ("nuwire/models/__init__.py", "nuwire.architectures") in names  # from a module of the top level
    assert ("nuwire/provenance.py", "nuwire") in names  # `from nuwire import __version__`
    assert ("nuwire/pipeline/fingerprint.py", "nuwire") in names  # `import nuwire`, inside a function
    assert ("nuwire/pipeline/config.py", "nuwire.events.sweep") in names  # under TYPE_CHECKING
    assert len(names) > 150


def test_strongly_connected_finds_longer_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _strongly_connected(graph) == [["a", "b", "c"]]
    assert _strongly_connected({"a": {"b"}, "b": set()}) == []


def test_every_unit_has_a_floor():
    units = {_unit(_module_of(p)) for p in PACKAGE.rglob("*.py")}
    assert units - set(FLOOR) == set(), "place the new package or module in LAYERS (and docs/architecture.md)"
    assert set(FLOOR) - units == set(), "LAYERS names a unit src/nuwire no longer has"
    assert sum(len(units) for units in LAYERS) == len(FLOOR), "a unit is on two floors"


def test_no_package_import_cycle():
    graph = {src: set(dsts) for src, dsts in _counted_edges().items()}
    assert _strongly_connected(graph) == []


def test_imports_go_down_the_layers():
    upward = [
        f"{src} (floor {FLOOR[src]}) imports {dst} (floor {FLOOR[dst]}): {where}"
        for src, dsts in sorted(_counted_edges().items())
        for dst, where in sorted(dsts.items())
        if FLOOR[dst] >= FLOOR[src]
    ]
    assert upward == [], "imports against the layers:\n" + "\n".join(upward)


def test_every_exemption_is_still_needed():
    used = {name for _, _, name in _imports()}
    stale = sorted(set(EXEMPT) - used)
    assert stale == [], f"no import of {stale} is left: remove it from EXEMPT"


def test_what_snakemake_imports_to_build_the_dag_needs_no_torch():
    """The modules the rules import at parse time (the architecture list, the sweep, the config
    checks) stay torch-free: building the DAG on a login node must not load torch."""
    code = (
        "import sys\n"
        "import nuwire.architectures, nuwire.events.sweep, nuwire.pipeline.config, nuwire.pipeline.paths\n"
        "import nuwire.io.inputs, nuwire.io.identity, nuwire.pipeline.fingerprint, nuwire.pipeline.results_lock\n"
        "import nuwire.systematics.variations\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"


def test_docs_draw_the_same_floors():
    """docs/architecture.md's layer table names the floors of LAYERS (the package root aside)."""
    text = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+?) \| .+ \|$", section, re.M)
    drawn = {int(floor): set(re.findall(r"`nuwire\.([a-z_]+)`", units)) for floor, units in rows}
    declared = {floor: set(units) - {"nuwire"} for floor, units in enumerate(LAYERS, start=1)}
    assert drawn == declared
