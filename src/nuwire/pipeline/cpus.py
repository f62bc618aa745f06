"""How train shares the CPUs a job was given (`nuwire.cpus.job_cpus`) between torch and its
loader processes. Torch threads and DataLoader worker processes each keep a CPU busy, so
together they must fit that number (the rules ask for train.threads + train.num_workers,
docs/robustness.md)."""

from __future__ import annotations

import logging

from nuwire.cpus import job_cpus

LOG = logging.getLogger(__name__)


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
