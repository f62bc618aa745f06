"""One workflow at a time per results directory: `<results>/.nuwire.lock`.

Snakemake's own lock lives in `.snakemake/` of the *working* directory, so two runs started from
different directories with the same absolute `results:` would both write there (and one's cleanup
of stale temporaries would delete the other's files in flight). The main snakemake process takes
this lock when it starts executing jobs (the `onstart` hook; dry runs take none) and removes it when
it ends. Jobs never touch it, so on Slurm the lock is held by the process on the login node, for
the whole run, and a job's node does not matter.

The lock records host, pid, the process's start time, working directory and start date. A lock of
a process that no longer runs on this host (killed, crashed) is stale and taken over with a
warning; one from another host cannot be checked from here, so it is refused with the command to
remove it once the user knows that run is over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from nuwire.errors import NuwireError, OutputError
from nuwire.io.failures import os_error_message, output_error

LOCK_NAME = ".nuwire.lock"


class ResultsLocked(NuwireError):
    """Another live workflow writes the results directory."""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name in parentheses may hold spaces


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    now = _start_time(pid)
    return start is None or now is None or now == start


def _holder() -> dict[str, Any]:
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "pid": pid,
        "process_start": _start_time(pid),
        "workdir": os.getcwd(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _describe(holder: dict[str, Any]) -> str:
    return (
        f"snakemake process {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')} "
        f"in {holder.get('workdir')}"
    )


def check_writable(results_dir: str | os.PathLike[str]) -> None:
    """OutputError naming the first directory of the results tree this process cannot write (a
    read-only mount or missing permission: root included, access() reports a read-only file system).
    Snakemake removes a job's old outputs before the job starts, so such a directory would otherwise
    fail inside Snakemake with a bare `OSError` and no log."""
    root = Path(results_dir)
    if not root.exists():
        return
    for directory, subdirs, _ in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        if not os.access(directory, os.W_OK):
            probe = Path(directory) / ".nuwire-write-probe"
            try:
                probe.touch()
                probe.unlink()
            except OSError as err:
                message = os_error_message(err, Path(directory))
                raise OutputError(message or f"{directory}: cannot write there ({err}).") from err


def acquire(results_dir: str | os.PathLike[str], log: Any = None) -> Path:
    """Take the lock of `results_dir` for this process; ResultsLocked naming the holder if held."""
    path = Path(results_dir).resolve() / LOCK_NAME  # absolute: the message names it for another directory
    me = _holder()
    for _ in range(3):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = read_holder(path)
            if holder is None:  # written this instant, or unreadable: look again
                time.sleep(0.2)
                holder = read_holder(path) or {}
            if holder.get("host") == me["host"] and holder.get("pid") == me["pid"]:
                return path  # this process already holds it
            if holder.get("host") == me["host"] and isinstance(holder.get("pid"), int):
                if not _alive(holder["pid"], holder.get("process_start")):
                    if log is not None:
                        log(f"nuwire: removing the stale lock {path} of {_describe(holder)}, which no longer runs.")
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    continue
            raise ResultsLocked(
                f"results directory {path.parent} is in use by another nuwire workflow: {_describe(holder)}. "
                "Two workflows writing one results directory would overwrite each other's files. Wait for "
                "it to finish, or give this run its own `results:` in the config. If that run is over "
                f"(killed, or its node rebooted), remove the lock: rm {path}"
            ) from None
        except OSError as err:  # a read-only or full results directory
            named = output_error(err, path)
            if named is err:
                raise
            raise named from err
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        return path
    raise ResultsLocked(f"{path}: could not take the results lock (it keeps changing); try again.")


def read_holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def release(path: str | os.PathLike[str]) -> None:
    """Remove the lock if this process holds it (never another's)."""
    holder = read_holder(path)
    if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()
