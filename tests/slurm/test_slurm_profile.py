"""`snakemake --profile slurm` on a real single-node Slurm, against a local run of the same config.

One module-scoped run of config/test.yaml through the Slurm executor (profiles/slurm, made
resolvable by name with `make slurm-profile` into a temporary XDG_CONFIG_HOME) and, at the same time,
one local run in another copy of the workflow. Test-only overrides, on the command line: the status
command is squeue (the test cluster has no slurmdbd, so sacct never sees a job end), no account,
status checks from 5 s on instead of 40 s, and the plugin keeps its per-job logs.

Evidence comes from Slurm itself, not from Snakemake's word:
- `scontrol show job -d` for every job of the run (MinJobAge is an hour on the test cluster): the
  rule (the plugin's --comment), state, exit code, CPUs, memory, time limit and allocated GRES;
- a TaskProlog of the test cluster (tests/slurm/setup_slurm.sh) records SLURM_JOB_GPUS,
  SLURM_STEP_GPUS and CUDA_VISIBLE_DEVICES as every task saw them, for the batch step and for the
  `srun` step in which the rule's code runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import yaml

from workflow_runs import ROOT, SNAKEMAKE, copy_workflow, planned_jobs, without_timing

CONFIG = "config/test.yaml"
LOCAL_RULES = ("all", "effective_config")  # `localrule: True`: run by Snakemake itself, not submitted
GPU_RULES = {"train", "evaluate"}
TASK_ENV_DIR = ".slurm-task-env"  # the TaskProlog writes here when the submit directory has it
TEST_OVERRIDES = (
    "--slurm-status-command",
    "squeue",
    "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks",
    "5",
    "--slurm-keep-successful-logs",
)
RUN_TIMEOUT = 1200
# CPUs of the rules without cpus_per_task in the workflow profile: their threads (config/test.yaml).
_TRAIN = yaml.safe_load((ROOT / CONFIG).read_text())["train"]
RULE_CPUS = {"train": _TRAIN["threads"] + _TRAIN.get("num_workers", 0), "evaluate": _TRAIN["threads"]}

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@dataclass
class Runs:
    slurm_dir: Path
    local_dir: Path
    xdg: Path
    dry_output: str
    output: str  # stdout + stderr of `snakemake --profile slurm`
    run_id: str
    planned: dict[str, int]  # rule -> job count, from the dry run (without `all`)
    jobs: list[dict[str, str]]  # `scontrol show job -d -o` records of this run
    task_env: dict[tuple[str, str], dict[str, str]]  # (job id, step) -> GPU variables


def parse_scontrol(text: str) -> list[dict[str, str]]:
    """`scontrol show job -d -o` (one line per job) -> one dict per job (first value of each key)."""
    records = []
    for line in text.splitlines():
        if not line.startswith("JobId="):
            continue
        record: dict[str, str] = {}
        for key, value in re.findall(r"(\S+?)=(\S*)", line):
            record.setdefault(key, value)
        records.append(record)
    return records


def rule_of(job: dict[str, str]) -> str:
    """The rule from the plugin's --comment: rule_<name> or rule_<name>_wildcards_<...>."""
    match = re.fullmatch(r"rule_(\w+?)(?:_wildcards_.*)?", job.get("Comment", ""))
    assert match, f"job {job['JobId']} has no rule comment: {job.get('Comment')!r}"
    return match.group(1)


def minutes(limit: str) -> int:
    """Slurm TimeLimit ([D-]HH:MM:SS) -> minutes."""
    days, _, clock = limit.rpartition("-")
    h, m, s = (int(x) for x in clock.split(":"))
    return (int(days) if days else 0) * 1440 + h * 60 + m + (1 if s else 0)


def read_task_env(directory: Path) -> dict[tuple[str, str], dict[str, str]]:
    records = {}
    for path in directory.glob("*.env"):
        job_id, step = path.stem.split(".", 1)
        pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        records[(job_id, step)] = {k: v for k, v in pairs}
    return records


def diagnostics(workdir: Path, output: str) -> str:
    parts = [f"--- snakemake output (tail) ---\n{output[-6000:]}"]
    for log in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))[-6:]:
        parts.append(f"--- {log.relative_to(workdir)} (tail) ---\n{log.read_text(errors='replace')[-2000:]}")
    ctld = Path("/var/lib/nuwire-test-slurm/log/slurmctld.log")
    if ctld.exists():
        parts.append(f"--- {ctld} (tail) ---\n{ctld.read_text(errors='replace')[-2000:]}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def runs(slurm_cluster, tmp_path_factory) -> Runs:
    base = tmp_path_factory.mktemp("slurm")
    xdg = base / "xdg"
    env = {k: v for k, v in os.environ.items() if k != "SNAKEMAKE_PROFILE"}
    env["XDG_CONFIG_HOME"] = str(xdg)

    # The documented one step that makes the profile name resolve: make slurm-profile.
    link = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "slurm-profile"], env=env, capture_output=True, text=True, timeout=60
    )
    assert link.returncode == 0, link.stdout + link.stderr

    slurm_dir = copy_workflow(base / "slurm")
    local_dir = copy_workflow(base / "local")
    (slurm_dir / TASK_ENV_DIR).mkdir()

    # `--profile profiles/slurm` (the path form) plans the run; its job table is what must reach Slurm.
    dry = subprocess.run(
        [SNAKEMAKE, "-n", "--profile", "profiles/slurm", "--configfile", CONFIG],
        cwd=slurm_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    dry_output = dry.stdout + dry.stderr
    planned = {rule: n for rule, n in planned_jobs(dry.stdout).items() if rule not in LOCAL_RULES}
    assert planned, dry_output[-3000:]

    # The local reference run goes on meanwhile: the Slurm run mostly waits for status checks.
    with open(base / "local.log", "w") as local_log:
        local = subprocess.Popen(
            [SNAKEMAKE, "--cores", "2", "--configfile", CONFIG],
            cwd=local_dir,
            env=env,
            stdout=local_log,
            stderr=subprocess.STDOUT,
        )
        try:
            proc = subprocess.run(
                [SNAKEMAKE, "--profile", "slurm", "--configfile", CONFIG, *TEST_OVERRIDES],
                cwd=slurm_dir,
                env=env,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
            )
        except subprocess.TimeoutExpired as err:
            out = (err.stdout or b"").decode(errors="replace") if isinstance(err.stdout, bytes) else (err.stdout or "")
            _cancel(out)
            local.kill()
            pytest.fail(f"snakemake --profile slurm did not finish in {RUN_TIMEOUT} s\n{diagnostics(slurm_dir, out)}")
        finally:
            local_rc = local.wait(timeout=RUN_TIMEOUT)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"snakemake --profile slurm failed\n{diagnostics(slurm_dir, output)}"
    assert local_rc == 0, f"local run failed:\n{(base / 'local.log').read_text()[-6000:]}"

    match = re.search(r"SLURM run ID: (\S+)", output)
    assert match, output[-3000:]
    run_id = match.group(1)
    shown = subprocess.run(["scontrol", "show", "job", "-d", "-o"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    jobs = [job for job in parse_scontrol(shown.stdout) if job.get("JobName") == run_id]
    return Runs(
        slurm_dir, local_dir, xdg, dry_output, output, run_id, planned, jobs, read_task_env(slurm_dir / TASK_ENV_DIR)
    )


def _cancel(output: str) -> None:
    match = re.search(r"SLURM run ID: (\S+)", output)
    if match:
        subprocess.run(["scancel", "--name", match.group(1)], capture_output=True, timeout=60)


def workflow_profile() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())["set-resources"]


# --- the profile ---------------------------------------------------------------------------------


def test_profile_name_and_path_both_resolve(runs: Runs):
    link = runs.xdg / "snakemake" / "slurm"
    assert link.is_symlink() and link.resolve() == (ROOT / "profiles" / "slurm").resolve()
    # Snakemake names the profiles it loaded: the cluster profile and, by itself, the workflow profile.
    assert "Using profiles slurm and workflow specific profile profiles/default" in runs.output
    assert "Using profiles profiles/slurm and workflow specific profile profiles/default" in runs.dry_output


# --- every job is a Slurm job --------------------------------------------------------------------


def test_every_job_ran_as_a_slurm_job(runs: Runs, capsys: pytest.CaptureFixture[str]):
    # Shown in the test log (CI's too), past pytest's output capture: one line per Slurm job.
    with capsys.disabled():
        print()
        for job in runs.jobs:
            print(
                f"slurm job {job['JobId']}: rule {rule_of(job)}, {job['JobState']}, exit {job['ExitCode']}, "
                f"TRES {job.get('TRES', '?')}, GRES {job.get('JOB_GRES', '(null)')}"
            )
    by_rule: dict[str, int] = {}
    for job in runs.jobs:
        by_rule[rule_of(job)] = by_rule.get(rule_of(job), 0) + 1
        assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", job
    assert by_rule == runs.planned, f"Slurm saw {by_rule}, the dry run planned {runs.planned}"
    # Snakemake's side: every planned job submitted, only the local rules (the target rule `all`,
    # the effective config) run locally.
    n_planned = sum(runs.planned.values())
    assert len(re.findall(r"has been submitted with SLURM jobid", runs.output)) == n_planned
    assert sorted(re.findall(r"^localrule (\w+):", runs.output, flags=re.M)) == sorted(LOCAL_RULES)
    # Each rule's code ran inside the allocation, in the `srun` step the plugin starts (step 0).
    for job in runs.jobs:
        assert (job["JobId"], "0") in runs.task_env, f"no job step recorded for Slurm job {job['JobId']}"


# --- GPUs ------------------------------------------------------------------------------------------


def test_train_and_evaluate_get_a_gpu_and_no_other_job_does(runs: Runs):
    seen = set()
    for job in runs.jobs:
        rule, job_id = rule_of(job), job["JobId"]
        seen.add(rule)
        batch, step = runs.task_env[(job_id, "batch")], runs.task_env[(job_id, "0")]
        if rule in GPU_RULES:
            # Requested (TresPerJob) and allocated (JOB_GRES, `scontrol -d`) ...
            assert "gres:gpu:1" in job.get("TresPerJob", ""), job
            assert job.get("JOB_GRES") == "gpu:1", job
            # ... and handed to the job and to the rule's step as a device.
            assert batch["SLURM_JOB_GPUS"] and batch["CUDA_VISIBLE_DEVICES"], (rule, batch)
            assert step["SLURM_STEP_GPUS"] and step["CUDA_VISIBLE_DEVICES"], (rule, step)
        else:
            assert "gpu" not in job.get("TresPerJob", "") and job.get("JOB_GRES") in (None, "(null)"), job
            for env in (batch, step):
                assert not env["SLURM_JOB_GPUS"] and not env["SLURM_STEP_GPUS"], (rule, env)
                assert not env["CUDA_VISIBLE_DEVICES"], (rule, env)
    assert GPU_RULES <= seen and "render" in seen


def test_resources_of_the_workflow_profile_reach_slurm(runs: Runs):
    wanted = workflow_profile()
    for job in runs.jobs:
        res = wanted[rule_of(job)]
        where = f"{rule_of(job)} (Slurm job {job['JobId']})"
        assert job["MinMemoryNode"] == f"{res['mem_mb']}M", where
        assert minutes(job["TimeLimit"]) == res["runtime"], where
        if "cpus_per_task" in res:
            assert int(job["NumCPUs"]) == res["cpus_per_task"], where
        else:  # the rule's threads: train.threads + train.num_workers for train, train.threads for evaluate
            assert int(job["NumCPUs"]) == RULE_CPUS.get(rule_of(job), 1), where


# --- train fits its allocation, with the thesis's CPU settings (issue 21) --------------------------

THESIS_TRAIN = {"threads": 8, "num_workers": 4}  # config/thesis.yaml's train CPUs
TRAIN_TARGET = "results/models/lenet/plane2/scale0.5/full/whole/best.pt"


@dataclass
class ThesisTrain:
    job: dict[str, str]
    log: str


@pytest.fixture(scope="module")
def thesis_train(runs: Runs, tmp_path_factory) -> ThesisTrain:
    """The train job once more through Slurm, in a copy of the finished run, with the thesis's
    train.threads and train.num_workers: one short job (it resumes from the run's checkpoint,
    whose hash leaves the CPU settings out), not another pipeline."""
    workdir = tmp_path_factory.mktemp("thesis-cpus") / "run"
    shutil.copytree(runs.slurm_dir, workdir, ignore=shutil.ignore_patterns(".snakemake"), symlinks=True)
    config = yaml.safe_load((workdir / CONFIG).read_text())
    config["train"].update(THESIS_TRAIN)
    (workdir / "config" / "thesis-cpus.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "SNAKEMAKE_PROFILE"}
    env["XDG_CONFIG_HOME"] = str(runs.xdg)
    args = ["--configfile", "config/thesis-cpus.yaml", "--forcerun", "train", *TEST_OVERRIDES]
    proc = subprocess.run(
        [SNAKEMAKE, "--profile", "slurm", TRAIN_TARGET, *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"thesis-CPU train run failed\n{diagnostics(workdir, output)}"
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    assert run_id, output[-3000:]
    shown = subprocess.run(["scontrol", "show", "job", "-d", "-o"], capture_output=True, text=True, timeout=60)
    jobs = [job for job in parse_scontrol(shown.stdout) if job.get("JobName") == run_id.group(1)]
    assert [rule_of(job) for job in jobs] == ["train"], jobs
    log = (workdir / "results" / "logs" / "train" / "lenet" / "plane2" / "scale0.5" / "full" / "whole.log").read_text()
    return ThesisTrain(jobs[0], log)


def test_train_with_the_thesis_settings_fits_its_slurm_allocation(thesis_train: ThesisTrain, capsys):
    job = thesis_train.job
    wanted = THESIS_TRAIN["threads"] + THESIS_TRAIN["num_workers"]
    # Slurm allocated what the config asks for: torch threads plus one CPU per loader process.
    assert job["JobState"] == "COMPLETED" and int(job["NumCPUs"]) == wanted, job
    # Inside the job: the CPUs it may use (its threads, SLURM_CPUS_PER_TASK, its affinity) and
    # what torch and the loaders took of them, as the job logged it.
    line = re.search(
        r"CPUs: (\d+) for this job \((.*?)\): (\d+) torch threads \+ (\d+) loader workers = (\d+)", thesis_train.log
    )
    assert line, thesis_train.log[-3000:]
    with capsys.disabled():
        print(f"\nthesis train CPUs on Slurm: NumCPUs {job['NumCPUs']}; {line.group(0)}")
    cpus, where, torch_threads, workers, total = (int(line.group(1)), line.group(2), *map(int, line.groups()[2:]))
    # The job step's share: Snakemake inside the job caps the rule's threads at the node's cores
    # (2 on a CI runner) and starts the step with that many (`srun --cpus-per-task`), never more
    # than the 12 allocated.
    step = re.search(r"SLURM_CPUS_PER_TASK (\d+)", where)
    assert step and int(step.group(1)) <= wanted, where
    assert torch_threads + workers == total <= cpus <= min(int(step.group(1)), os.cpu_count() or 1)
    assert 1 <= torch_threads <= THESIS_TRAIN["threads"] and workers <= THESIS_TRAIN["num_workers"]


# --- same results as a local run -------------------------------------------------------------------


def test_outputs_equal_a_local_run(runs: Runs):
    slurm, local = runs.slurm_dir / "results", runs.local_dir / "results"
    # The event index: byte for byte.
    assert (slurm / "dataset" / "events.parquet").read_bytes() == (local / "dataset" / "events.parquet").read_bytes()
    # The images: every input file's Parquet byte for byte, and the same set of files.
    images = sorted(p.name for p in (local / "images").glob("*.parquet"))
    assert images and images == sorted(p.name for p in (slurm / "images").glob("*.parquet"))
    for name in images:
        assert (slurm / "images" / name).read_bytes() == (local / "images" / name).read_bytes(), name
    # Every sweep point: metrics.json without timing fields, predictions, weights, history without seconds.
    points = sorted(p.parent.relative_to(local) for p in (local / "models").rglob("metrics.json"))
    assert points and points == sorted(p.parent.relative_to(slurm) for p in (slurm / "models").rglob("metrics.json"))
    for point in points:
        a, b = (json.loads((root / point / "metrics.json").read_text()) for root in (slurm, local))
        assert without_timing(a) == without_timing(b), point
        assert (slurm / point / "predictions.parquet").read_bytes() == (
            local / point / "predictions.parquet"
        ).read_bytes()
        wa, wb = (torch.load(root / point / "best.pt", weights_only=True) for root in (slurm, local))
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), point
        ha, hb = (pd.read_csv(root / point / "history.csv").drop(columns="seconds") for root in (slurm, local))
        pd.testing.assert_frame_equal(ha, hb)
    assert (slurm / "summary" / "summary.tsv").read_bytes() == (local / "summary" / "summary.tsv").read_bytes()
