"""Atomic output: write to a temporary file beside the target, then rename.

A job killed mid-write leaves no half-written output under the final name, so Snakemake (and a
person) never mistakes a truncated file for a finished one. A kill (SIGKILL, or SIGTERM to a script
without a handler) leaves the temporary file itself behind; the next write of the same target
deletes it, so a rerun leaves no debris. One writer per target at a time is assumed, as Snakemake
guarantees.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nuwire.io.failures import output_error
from nuwire.io.tempfiles import remove_stale_temporaries


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto `target` on success."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )  # tempfiles.TEMPORARY_NAME
    except OSError as err:  # a read-only or full results directory: name the output, not a traceback
        _raise_named(err, target, output_error(err, target))
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes the file private (0600); give the output the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException as err:
        tmp_path.unlink(missing_ok=True)
        # Only errors about this output (its directory, or no file named: pyarrow, torch) are
        # renamed; a permission error reading some input keeps its own name.
        if isinstance(err, OSError) and (not err.filename or Path(err.filename).parent == target.parent):
            _raise_named(err, target, output_error(err, target))
        raise


def _raise_named(err: OSError, target: Path, named: Exception) -> None:
    if named is err:
        raise err
    raise named from err


def write_json(target: str | os.PathLike[str], payload: Any) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=jsonable) + "\n")


def write_text(target: str | os.PathLike[str], text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def jsonable(value: Any) -> Any:
    """`json.dumps(default=...)` for nuwire's values: numpy scalars and arrays, paths, dataclasses."""
    if hasattr(value, "tolist"):  # numpy scalars and arrays appear in metrics
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):  # e.g. a ViewSpec
        return asdict(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
