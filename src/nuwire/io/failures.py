"""System errors while writing turned into messages a user can act on (which path, what to do).

A `PermissionError` or a full disk while writing says which file it was writing (the final output,
not the temporary name beside it), why, and what to free or fix. The original exception stays
chained (`from err`), so the rule's log keeps its traceback. Reading an earlier stage's file:
`nuwire.io.readers`.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from nuwire.errors import OutputError
from nuwire.io.tempfiles import temporary_target

PathLike = str | os.PathLike[str]

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NO_SPACE_TEXT = ("no space left on device", "disk quota exceeded")


def real_target(path: PathLike) -> Path:
    """The output a temporary file of nuwire.io.atomic stands for (the path itself otherwise)."""
    path = Path(path)
    return temporary_target(path) or path


def is_no_space(err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno in _NO_SPACE:
        return True
    # pyarrow raises OSError without an errno, the C library's text in the message.
    return isinstance(err, OSError) and any(t in str(err).lower() for t in _NO_SPACE_TEXT)


def _free_space(directory: Path) -> str:
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            usage = shutil.disk_usage(candidate)
            return f"{usage.free / 1e6:.1f} MB free of {usage.total / 1e6:.1f} MB on the file system of {candidate}"
    return "free space unknown"


def os_error_message(err: OSError, target: PathLike | None = None) -> str | None:
    """One paragraph for a permission or space error while writing `target`; None for other errors."""
    path = real_target(target if target is not None else (err.filename or ""))
    if is_no_space(err):
        kind = "disk quota exceeded" if err.errno == errno.EDQUOT else "no space left on the device"
        return (
            f"{path}: writing it failed: {kind} ({_free_space(path.parent)}). Nothing partial was kept. "
            "Free space there (old results/, checkpoints/ or logs/ of other runs are the usual culprits; "
            "`du -sh` them) or set `results:` in the config to a larger file system, then rerun snakemake."
        )
    if isinstance(err, PermissionError) or err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        culprit = Path(err.filename) if err.filename else path
        where = culprit.parent if culprit != path or not culprit.exists() else culprit
        why = "the file system is mounted read-only" if err.errno == errno.EROFS else "permission denied"
        what = "cannot write in it" if path.is_dir() else "cannot write it"
        return (
            f"{path}: {what}: {why} on {where}. Make that directory writable for you "
            "(`ls -ld` it; `chmod u+w`, or ask its owner), or set `results:` in the config to a directory "
            "you can write, then rerun snakemake."
        )
    return None


def output_error(err: OSError, target: PathLike) -> OSError | OutputError:
    """The OutputError for a permission/space error writing `target`, else `err` itself."""
    message = os_error_message(err, target)
    return err if message is None else OutputError(message)
