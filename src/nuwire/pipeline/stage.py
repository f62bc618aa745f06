"""Running a stage from a Snakemake script or the CLI: logging, progress, clean user errors.

A Snakemake script calls `run_stage(snakemake, main)`: logging and stderr (where tqdm draws its
progress bars) go to the rule's `log:` file, the thread count is applied to numpy/torch, and any
exception ends the job with exit status 1 and one paragraph on the terminal that ends with the
log's path. A `NuwireError` nuwire diagnosed itself is that paragraph and nothing more; an error
from the system or a library (a `NuwireError` wrapping one, a permission or space error, anything
unexpected) also leaves its full traceback in the log, where Snakemake tells the user to look.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from nuwire.cpus import job_cpus
from nuwire.errors import NuwireError, OutputError
from nuwire.io.failures import os_error_message

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
    try:
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        stream_cm = open(log_path, "a", buffering=1)
    except OSError as err:  # the log itself cannot be written: say so on the terminal
        raise OutputError(
            os_error_message(err, log_path) or f"{log_path}: cannot open the rule's log ({err})."
        ) from err
    with stream_cm as stream:
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
    """Honour the thread count Snakemake granted the job (torch and BLAS would take every core),
    within the Slurm allocation and the CPU affinity (`nuwire.cpus.job_cpus`)."""
    threads = job_cpus(threads)[0]
    import torch  # local: only stages that use it pay for the import

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # may only be set once per process
        torch.set_num_interop_threads(min(threads, 2))


def run_stage(snakemake: Any, main: Callable[[Any], None]) -> None:
    """Run `main(snakemake)` with the rule's log, threads and clean error handling."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    try:
        with logging_to(log_path):
            try:
                main(snakemake)
            except Exception as err:  # every failure: one paragraph; the traceback into the log
                message, with_traceback = failure_message(err, getattr(snakemake, "rule", "this"))
                report_failure(message, err if with_traceback else None, log_path)
                raise SystemExit(1) from None
    except OutputError as err:  # raised by logging_to: there is no log to write to
        print(f"nuwire: error: {err}", file=sys.__stderr__)
        raise SystemExit(1) from None


def failure_message(err: BaseException, rule: str) -> tuple[str, bool]:
    """(one paragraph, whether the log should hold the traceback) for an exception of a job."""
    if isinstance(err, NuwireError):
        return str(err), err.__cause__ is not None
    if isinstance(err, OSError) and (message := os_error_message(err)) is not None:
        return message, True
    if isinstance(err, MemoryError):
        return (
            f"rule {rule}: out of memory. Raise mem_mb for rule {rule} under set-resources: in "
            "profiles/default/config.yaml (and run on a node that has it), then rerun snakemake.",
            True,
        )
    return (
        f"rule {rule} failed with an error nuwire did not expect: {type(err).__name__}: {err}. This is a bug "
        "or an input nuwire does not recognise; please report it with the log file below, which holds the "
        "full traceback.",
        True,
    )


def report_failure(message: str, err: BaseException | None, log_path: str | None) -> None:
    """The message (and, given `err`, its traceback) into the log; the paragraph on the terminal."""
    logger = logging.getLogger("nuwire")
    logger.error("%s", message)
    if err is not None:
        logger.error("traceback:\n%s", "".join(traceback.format_exception(err)).rstrip())
    where = f" (log: {log_path})" if log_path else ""
    print(f"nuwire: error: {message}{where}", file=sys.__stderr__)
