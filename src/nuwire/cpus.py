"""The CPUs a job may use: one count for every layer (the raw-chunk reader's inflate pool, the
stage threads, train's torch threads and loader workers in `nuwire.pipeline.cpus`).

A job may use no more CPUs than the least of: the threads Snakemake granted it (the rule's
`threads`, capped by --cores), the Slurm allocation (SLURM_CPUS_PER_TASK, set when the job was
submitted with --cpus-per-task) and the CPUs the process may run on (its affinity: what a cgroup
or task binding leaves it)."""

from __future__ import annotations

import os
from collections.abc import Mapping


def job_cpus(threads: int | None = None, environ: Mapping[str, str] | None = None) -> tuple[int, str]:
    """(CPUs this job may use, how that was found) from the job's granted `threads` (None: no
    grant, e.g. a library call outside Snakemake), the Slurm allocation and the CPU affinity."""
    environ = os.environ if environ is None else environ
    limits = {} if threads is None else {"the job's threads": max(1, int(threads))}
    slurm = environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        limits["SLURM_CPUS_PER_TASK"] = int(slurm)
    if hasattr(os, "sched_getaffinity"):
        limits["CPU affinity"] = len(os.sched_getaffinity(0))
    elif not limits:  # pragma: no cover - not Linux, and nothing else to go by
        limits["CPU count"] = os.cpu_count() or 1
    cpus = max(1, min(limits.values()))
    return cpus, ", ".join(f"{name} {n}" for name, n in limits.items())


def threads_or_job_cpus(threads: int | None) -> int:
    """A thread pool's size: the count asked for, or (None) the CPUs this job may use; at least 1."""
    return max(1, threads if threads is not None else job_cpus()[0])
