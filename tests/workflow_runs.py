"""Helpers for tests that run the real `snakemake` on a copy of the workflow (importable from every
test directory: pyproject.toml puts tests/ on pytest's pythonpath)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def tiny_config(root: Path = ROOT) -> dict[str, Any]:
    """`config/test.yaml` of the workflow at `root` (this checkout or a copy), as a fresh dict: the
    tiny config every workflow test starts from and changes."""
    return yaml.safe_load((root / "config" / "test.yaml").read_text())


def copy_workflow(dest: Path) -> Path:
    """What a user's clone holds for running (Snakefile, workflow/, config/, profiles/, envs/);
    the package itself is the installed one."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("workflow", "config", "profiles", "envs"):
        shutil.copytree(ROOT / name, dest / name)
    shutil.copy(ROOT / "Snakefile", dest / "Snakefile")
    return dest


def planned_jobs(output: str) -> dict[str, int]:
    """Rule -> count from the 'Job stats' table of a dry run."""
    jobs: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if match and match.group(1) != "total":
                jobs[match.group(1)] = int(match.group(2))
            elif line.strip().startswith("total"):
                break
    return jobs


def snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    config: str = "config/test.yaml",
    env: dict[str, str] | None = None,
    timeout: float = 1500,
) -> subprocess.CompletedProcess[str]:
    """`snakemake --cores 2 ARGS --configfile CONFIG` in `workdir` (ARGS may hold targets), with
    `env` as the environment if given; with `check`, a failure raises with the tail of the output."""
    proc = subprocess.run(
        # ARGS first: --configfile takes several values and would swallow a target after it.
        [SNAKEMAKE, "--cores", "2", *args, "--configfile", config],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


# Keys of JSON fields that legitimately differ between two runs of the same config.
TIMING_KEYS = re.compile(r"seconds|elapsed|duration|runtime|timestamp|wall_?time|started|finished|^time$|_time$|^time_")


def without_timing(value: Any) -> Any:
    """`value` (parsed JSON) without its timing fields, at any depth."""
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if not TIMING_KEYS.search(k)}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value
