"""The one naming of the temporary files `nuwire.io.atomic` writes beside their targets, and
finding the ones an interrupted write left behind."""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

# mkstemp's ".<target name>.<8 characters of [a-z0-9_]>.tmp" beside the target (atomic_path makes
# them; stale ones are found, and named as their target, here).
TEMPORARY_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")


def temporary_target(path: str | os.PathLike[str]) -> Path | None:
    """The output a temporary file of atomic_path stands for; None for any other path."""
    path = Path(path)
    match = TEMPORARY_NAME.match(path.name)
    return path.with_name(match["target"]) if match else None


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files interrupted writes of `target` (its name may be a glob pattern,
    e.g. `best-e*.pt`) left beside it; return them."""
    target = Path(target)
    stale = [
        p
        for p in target.parent.glob(f".{target.name}.*.tmp")
        if (found := temporary_target(p)) is not None and fnmatch.fnmatchcase(found.name, target.name)
    ]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
