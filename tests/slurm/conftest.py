"""A real single-node Slurm on localhost for the tests of this directory.

`slurm_cluster` starts munged, slurmctld and slurmd with tests/slurm/setup_slurm.sh (root only) and
stops what it started at the end of the session. Without root or without the packages the tests are
skipped with the reason; CI sets NUWIRE_SLURM_REQUIRED=1 (.ci/run, after installing the packages),
which turns every such skip into a failure, so CI cannot pass without running them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().with_name("setup_slurm.sh")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "scontrol", "sinfo")


def _unavailable(reason: str) -> None:
    if os.environ.get("NUWIRE_SLURM_REQUIRED") == "1":
        pytest.fail(f"the Slurm test must run here (NUWIRE_SLURM_REQUIRED=1), but {reason}", pytrace=False)
    pytest.skip(reason)


def _missing_binaries() -> list[str]:
    missing = []
    for name in DAEMONS + CLIENTS:
        if shutil.which(name) is None and not (Path("/usr/sbin") / name).exists():
            missing.append(name)
    return missing


def _setup(action: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SETUP), action], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[None]:
    if os.geteuid() != 0:
        _unavailable("starting munged, slurmctld and slurmd needs root (CI runs `bash .ci/run` as root)")
    missing = _missing_binaries()
    if missing:
        _unavailable(
            f"Slurm is not installed ({', '.join(missing)} not found); as root, "
            f"`bash tests/slurm/setup_slurm.sh install` installs Debian's munge slurmctld slurmd slurm-client"
        )
    started = False
    if _setup("status", timeout=60).returncode != 0:
        proc = _setup("start")
        if proc.returncode != 0:
            _unavailable(
                f"the single-node Slurm did not start (setup_slurm.sh start, status {proc.returncode}):\n"
                f"{proc.stderr[-3000:]}"
            )
        started = True
    try:
        yield
    finally:
        if started:
            proc = _setup("stop", timeout=120)
            if proc.returncode != 0:
                print(f"setup_slurm.sh stop failed:\n{proc.stderr}")
