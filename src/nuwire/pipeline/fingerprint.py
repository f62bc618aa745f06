"""Code fingerprints: which nuwire code a stage runs, as one hash for the rule's params.

Snakemake 9 reruns a `script:` job when the script's *mtime* is newer than the outputs (so a
`touch` reruns everything) and never when a module the script imports changes (so a real change to
the pixel formula reran nothing). The workflow profile turns that trigger off
(`rerun-triggers: [mtime, params, input, software-env]`) and every rule carries
`params.code = stage_fingerprint(...)` instead: a hash of what the stage's code *says* — the parsed
syntax tree of the script and of every nuwire module it imports, directly or through other nuwire
modules, local imports included. Editing that code changes the param, and Snakemake reruns the
stage and (through its new outputs) everything downstream; a touch, a comment or a reformatting
changes nothing. `snakemake --list-changes params` lists the outputs it would redo.

The modules are found by reading the source (no import), so building the DAG stays fast and
needs no torch.
"""

from __future__ import annotations

import ast
import hashlib
import os
from functools import cache
from pathlib import Path

PACKAGE = "nuwire"


def _imported_nuwire_modules(tree: ast.AST) -> set[str]:
    """Dotted names of the nuwire modules (and `from nuwire import x` submodule candidates) used."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == PACKAGE:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)  # may be submodules
    return names


def _module_file(package_dir: Path, dotted: str) -> Path | None:
    """The source file of `nuwire.a.b` under `package_dir` (the nuwire directory), if it exists."""
    parts = dotted.split(".")[1:]
    base = package_dir.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _tree_dump(path: Path) -> tuple[str, frozenset[str]]:
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


@cache
def _parsed(path: Path, mtime_ns: int, size: int) -> tuple[str, frozenset[str]]:  # key: the file's version
    tree = ast.parse(path.read_text(), filename=str(path))
    # ast.dump leaves out comments and layout; line numbers are not included by default.
    return ast.dump(tree), frozenset(_imported_nuwire_modules(tree))


def stage_modules(script: str | os.PathLike[str], package_dir: str | os.PathLike[str]) -> list[Path]:
    """Every nuwire source file `script` runs: its imports, transitively, plus the package's
    `__init__.py` files on the way (they run on import too)."""
    package_dir = Path(package_dir)
    seen: set[Path] = set()
    todo = set(_tree_dump(Path(script))[1])
    while todo:
        dotted = todo.pop()
        parts = dotted.split(".")
        # Importing nuwire.a.b runs nuwire/__init__.py and nuwire/a/__init__.py first.
        for depth in range(1, len(parts) + 1):
            path = _module_file(package_dir, ".".join(parts[:depth]))
            if path is None or path in seen:
                continue
            seen.add(path)
            todo |= _tree_dump(path)[1]
    return sorted(seen)


def stage_fingerprint(script: str | os.PathLike[str], package_dir: str | os.PathLike[str]) -> str:
    """sha256 (16 hex digits) of the syntax trees of `script` and every nuwire module it runs."""
    package_dir = Path(package_dir)
    digest = hashlib.sha256()
    for path in [Path(script), *stage_modules(script, package_dir)]:
        name = path.name if path == Path(script) else path.relative_to(package_dir).as_posix()
        digest.update(f"{name}\0{_tree_dump(path)[0]}\0".encode())
    return digest.hexdigest()[:16]


def package_dir_for(workflow_dir: str | os.PathLike[str]) -> Path:
    """The nuwire sources the workflow's scripts import: `<workflow>/src/nuwire` when the checkout
    has it (the scripts put `src/` first on sys.path), else the installed package."""
    local = Path(workflow_dir) / "src" / PACKAGE
    if (local / "__init__.py").is_file():
        return local
    import nuwire

    return Path(nuwire.__file__).resolve().parent
