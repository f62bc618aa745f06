"""The CPUs a job was given, and how train shares them between torch and its loader processes.

A job may use no more CPUs than the least of: the threads Snakemake granted it (the rule's
`threads`, capped by --cores), the Slurm allocation (SLURM_CPUS_PER_TASK, set when the job was
submitted with --cpus-per-task) and the CPUs the process may run on (its affinity: what a cgroup
or task binding leaves it). Torch threads and DataLoader worker processes each keep a CPU busy,
so together they must fit that number (the rules ask for train.threads + train.num_workers,
docs/robustness.md)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

LOG = logging.getLogger(__name__)


def job_cpus(threads: int, environ: Mapping[str, str] | None = None) -> tuple[int, str]:
    """(CPUs this job may use, how that was found) from the job's granted `threads`, the Slurm
    allocation and the process's CPU affinity."""
    environ = os.environ if environ is None else environ
    limits = {"the job's threads": max(1, int(threads))}
    slurm = environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        limits["SLURM_CPUS_PER_TASK"] = int(slurm)
    if hasattr(os, "sched_getaffinity"):
        limits["CPU affinity"] = len(os.sched_getaffinity(0))
    cpus = min(limits.values())
    return cpus, ", ".join(f"{name} {n}" for name, n in limits.items())


def split_cpus(cpus: int, threads: int, num_workers: int) -> tuple[int, int]:
    """(torch threads, loader workers) that together never exceed `cpus`: torch keeps its
    `threads` where the workers leave room, always at least 1; workers get what is left, up to
    `num_workers` (0 workers means the main process loads the batches itself)."""
    torch_threads = max(1, min(threads, cpus - num_workers))
    workers = max(0, min(num_workers, cpus - torch_threads))
    return torch_threads, workers


def train_cpus(granted_threads: int, threads: int, num_workers: int) -> tuple[int, int]:
    """The train job's (torch threads, loader workers), logged with where the CPU count came from."""
    cpus, where = job_cpus(granted_threads)
    torch_threads, workers = split_cpus(cpus, threads, num_workers)
    note = (
        "" if (torch_threads, workers) == (threads, num_workers) else " (fewer than configured: the job has fewer CPUs)"
    )
    LOG.info(
        "CPUs: %d for this job (%s): %d torch threads + %d loader workers = %d, from train.threads = %d and "
        "train.num_workers = %d%s",
        cpus,
        where,
        torch_threads,
        workers,
        torch_threads + workers,
        threads,
        num_workers,
        note,
    )
    return torch_threads, workers
