"""Train fits its allocation (issue 21): torch threads plus loader workers never exceed the CPUs a
job was given, and the rules ask for what the config needs. On the real Slurm:
tests/slurm/test_slurm_profile.py::test_train_with_the_thesis_settings_fits_its_slurm_allocation."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from nuwire.cpus import job_cpus, threads_or_job_cpus
from nuwire.pipeline.cpus import split_cpus, train_cpus
from workflow_runs import ROOT, SNAKEMAKE, tiny_config


@pytest.mark.parametrize(
    ("cpus", "threads", "workers", "want"),
    [
        (12, 8, 4, (8, 4)),  # the thesis's settings in the allocation they ask for
        (4, 8, 4, (1, 3)),  # the old profile's 4 CPUs: 12 would have run on 4
        (2, 8, 4, (1, 1)),
        (1, 8, 4, (1, 0)),  # one CPU: the main process loads the batches itself
        (6, 2, 0, (2, 0)),
        (1, 1, 0, (1, 0)),  # config/test.yaml
        (16, 8, 4, (8, 4)),  # never more than configured
    ],
)
def test_torch_threads_plus_workers_fit_the_cpus(cpus, threads, workers, want):
    got = split_cpus(cpus, threads, workers)
    assert got == want
    assert sum(got) <= cpus and got[0] >= 1


def test_the_job_cpus_are_the_least_of_threads_slurm_and_affinity():
    affinity = len(os.sched_getaffinity(0))
    assert job_cpus(64, {})[0] == affinity
    assert job_cpus(64, {"SLURM_CPUS_PER_TASK": "1"}) == (
        1,
        f"the job's threads 64, SLURM_CPUS_PER_TASK 1, CPU affinity {affinity}",
    )
    assert job_cpus(1, {"SLURM_CPUS_PER_TASK": "12"})[0] == 1


def test_train_logs_its_share(caplog):
    with caplog.at_level(logging.INFO, logger="nuwire.pipeline.cpus"):
        torch_threads, workers = train_cpus(1, 8, 4)
    assert (torch_threads, workers) == (1, 0)
    assert "CPUs: 1 for this job (the job's threads 1" in caplog.text
    assert (
        "1 torch threads + 0 loader workers = 1, from train.threads = 8 and train.num_workers = 4 (fewer" in caplog.text
    )


def test_the_rules_ask_for_the_configs_cpus(tmp_path: Path):
    """The thesis's train.threads 8 and num_workers 4: train asks for 12 CPUs (the Slurm plugin
    submits a rule's threads as --cpus-per-task), evaluate for 8; the profile sets no
    cpus_per_task for them that would replace it."""
    config = tiny_config()
    config["train"].update(threads=8, num_workers=4)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-n", "--cores", "64", "--configfile", "c.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    blocks = {b.split(":", 1)[0]: b for b in proc.stdout.split("\nrule ")[1:]}
    assert "threads: 12" in blocks["train"] and "cpus_per_task" not in blocks["train"]
    assert "threads: 8" in blocks["evaluate"] and "cpus_per_task" not in blocks["evaluate"]
    profile = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())["set-resources"]
    assert "cpus_per_task" not in profile["train"] and "cpus_per_task" not in profile["evaluate"]


def test_a_pool_gets_the_threads_asked_for_or_the_jobs_cpus(monkeypatch):
    assert threads_or_job_cpus(3) == 3 and threads_or_job_cpus(0) == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert threads_or_job_cpus(None) == 1 == job_cpus()[0]
