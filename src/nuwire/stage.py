"""Running a stage from a Snakemake script or the CLI: logging, progress, clean user errors.

A Snakemake script calls `run_stage(snakemake, main)`: logging and stderr (where tqdm draws its
progress bars) go to the rule's `log:` file, the thread count is applied to numpy/torch, and a
`NuwireError` ends the job with its one-paragraph message (in the log and on stderr) and exit
status 1 instead of a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from nuwire.errors import NuwireError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def logging_to(log_path: str | None) -> Iterator[TextIO | None]:
    """Send logging and stderr to `log_path` (append) for the duration; console when None."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    if log_path is None:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        try:
            yield None
        finally:
            root.removeHandler(handler)
        return
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    with open(log_path, "a", buffering=1) as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        old_stderr = sys.stderr
        sys.stderr = stream
        try:
            yield stream
        finally:
            sys.stderr = old_stderr
            root.removeHandler(handler)


def set_threads(threads: int) -> None:
    """Honour the thread count Snakemake granted the job (torch and BLAS would take every core)."""
    threads = max(1, int(threads))
    import torch  # local: only stages that use it pay for the import

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # may only be set once per process
        torch.set_num_interop_threads(min(threads, 2))


def run_stage(snakemake: Any, main: Callable[[Any], None]) -> None:
    """Run `main(snakemake)` with the rule's log, threads and clean error handling."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    with logging_to(log_path):
        try:
            main(snakemake)
        except NuwireError as err:
            logging.getLogger("nuwire").error("%s", err)
            print(f"nuwire: error: {err}", file=sys.__stderr__)
            raise SystemExit(1) from None
