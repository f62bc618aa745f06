"""What reruns what: dry runs of a finished real run after one change each (README, "What reruns what").

The workflow copy carries its own `src/` (as a user's clone does), so a test can edit the nuwire
code the jobs run without touching the checkout. Each test undoes its change.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from nuwire.pipeline.fingerprint import stage_fingerprint, stage_modules
from workflow_runs import ROOT, copy_workflow, planned_jobs, snakemake, tiny_config

DOWNSTREAM_OF_RENDER = {"render": 4, "dataset": 1, "train": 1, "evaluate": 1, "summary": 1, "all": 1}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("reruns"))
    shutil.copytree(ROOT / "src", workdir / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    snakemake(workdir)
    return workdir


@contextmanager
def edited(path: Path, old: str, new: str) -> Iterator[None]:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    try:
        yield
    finally:
        path.write_text(text)


def dry_run(workdir: Path, *args: str, config: str = "config/test.yaml") -> dict[str, int]:
    return planned_jobs(snakemake(workdir, "-n", *args, config=config).stdout)


@pytest.mark.slow
def test_touching_scripts_and_modules_plans_nothing(finished: Path):
    for path in [*(finished / "workflow" / "scripts").glob("*.py"), *(finished / "src" / "nuwire").rglob("*.py")]:
        os.utime(path)  # now: newer than every output
    proc = snakemake(finished, "-n")
    assert planned_jobs(proc.stdout) == {} and "Nothing to be done" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_comment_in_the_pixel_module_plans_nothing(finished: Path):
    with edited(
        finished / "src" / "nuwire" / "images" / "render.py", "COMPRESSION = ", "# a comment only\nCOMPRESSION = "
    ):
        assert dry_run(finished) == {}


@pytest.mark.slow
def test_editing_the_pixel_module_plans_render_and_everything_downstream(finished: Path):
    render = finished / "src" / "nuwire" / "images" / "render.py"
    with edited(render, "scaled = 255.0 * np.minimum", "scaled = 254.0 * np.minimum"):
        assert dry_run(finished) == DOWNSTREAM_OF_RENDER
        changed = snakemake(finished, "--list-changes", "params").stdout.split()
        images = {str(p.relative_to(finished)) for p in (finished / "results" / "images").glob("*.parquet")}
        assert images <= set(changed)  # `--list-changes params` names what the code change redoes


@pytest.mark.slow
def test_editing_a_script_plans_its_stage_and_downstream(finished: Path):
    with edited(finished / "workflow" / "scripts" / "summary.py", "run_summary(\n", "run_summary(  # edited\n"):
        assert dry_run(finished) == {}  # a comment: nothing
    with edited(
        finished / "workflow" / "scripts" / "summary.py", "def main(smk):\n", "def main(smk):\n    smk = smk\n"
    ):
        assert dry_run(finished) == {"summary": 1, "all": 1}


@pytest.mark.slow
def test_an_unused_cut_plans_no_train_or_evaluate_job(finished: Path):
    config = tiny_config(finished)
    config["cuts"]["top10"] = {"signal_lep_energy_quantile": 0.9}
    config["cuts"]["top50"]["signal_lep_energy_quantile"] = 0.6  # a cut no point uses, edited
    (finished / "config" / "more_cuts.yaml").write_text(yaml.safe_dump(config))
    jobs = dry_run(finished, config="config/more_cuts.yaml")
    assert "train" not in jobs and "evaluate" not in jobs, jobs
    # Only the summary, whose provenance page hashes the whole configuration, and the effective
    # config (results/config.yaml), which is that configuration.
    assert jobs == {"effective_config": 1, "summary": 1, "all": 1}
    # The point's own cut does rerun it.
    config["cuts"]["full"]["signal_lep_energy_quantile"] = 0.1
    (finished / "config" / "more_cuts.yaml").write_text(yaml.safe_dump(config))
    jobs = dry_run(finished, config="config/more_cuts.yaml")
    assert jobs.get("train") == 1 and jobs.get("evaluate") == 1


def test_fingerprint_follows_imports_and_ignores_layout(tmp_path: Path):
    pkg = tmp_path / "nuwire"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from nuwire.sub import b\n    return b.g()\n")
    (pkg / "sub" / "b.py").write_text("X = 1\n")
    (pkg / "unused.py").write_text("Y = 1\n")
    script = tmp_path / "script.py"
    script.write_text("from nuwire import a\n")
    assert [p.relative_to(pkg).as_posix() for p in stage_modules(script, pkg)] == [
        "__init__.py",
        "a.py",
        "sub/__init__.py",
        "sub/b.py",
    ]
    before = stage_fingerprint(script, pkg)
    (pkg / "unused.py").write_text("Y = 2\n")
    (pkg / "sub" / "b.py").write_text("# a comment\nX  =  1\n")
    assert stage_fingerprint(script, pkg) == before
    (pkg / "sub" / "b.py").write_text("X = 2\n")
    assert stage_fingerprint(script, pkg) != before
