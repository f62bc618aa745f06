"""Real `snakemake` runs of the tiny config in a fresh copy of the workflow.

The copy is what a user's clone holds (Snakefile, workflow/, config/, profiles/); the package is
the installed one. One run is shared by the tests of this module (module-scoped fixture).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workflow_runs import ROOT, SNAKEMAKE, copy_workflow, planned_jobs, snakemake, tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("wf"))
    snakemake(workdir)
    return workdir


def test_all_outputs_are_made_and_reconcile(finished_run: Path):
    results = finished_run / "results"
    assert (results / "dataset" / "events.parquet").exists()
    assert (results / "summary" / "summary.tsv").exists()
    point = results / "models" / "lenet" / "plane2" / "scale0.5" / "full" / "whole"
    for name in (
        "best.pt",
        "history.csv",
        "metrics.json",
        "predictions.parquet",
        "roc.png",
        "occlusion.png",
        "reliability.png",
        "sample_control.png",
        "feature_maps.png",
        "embedding.png",
    ):
        assert (point / name).stat().st_size > 0, name
    for name in ("summary.tsv", "summary_values.tsv", "comparisons.tsv", "comparisons.html", "forest.png"):
        assert (results / "summary" / name).stat().st_size > 0, name
    events = pd.read_parquet(results / "dataset" / "events.parquet")
    rendered = 0
    for qc_path in sorted((results / "images").glob("*.qc.json")):
        qc = json.loads(qc_path.read_text())
        assert qc["events_in_file"] == qc["rendered"] + qc["skipped"]
        rendered += qc["rendered"]
    assert len(events) == rendered == 40
    metrics = json.loads((point / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["roc_auc"] <= 1.0
    unc = metrics["test"]["uncertainty"]
    assert unc["resamples"] == 1000 and unc["n_events"] == metrics["test"]["n_events"]
    summary = pd.read_csv(results / "summary" / "summary.tsv", sep="\t", dtype=str)
    assert summary["crop"].tolist() == ["whole"] * 3 and summary["n_test"].tolist() == [str(unc["n_events"])] * 3
    assert " ± " in summary["roc_auc"].iloc[0]
    # The Snakefile makes idle OpenMP threads sleep rather than spin (see its comment).
    train_log = (results / "logs" / "train" / "lenet" / "plane2" / "scale0.5" / "full" / "whole.log").read_text()
    assert "(OMP_WAIT_POLICY=PASSIVE)" in train_log
    # Torch threads plus loader workers within the job's CPUs (nuwire.pipeline.cpus; config/test.yaml: 1 + 0).
    assert "1 torch threads + 0 loader workers = 1, from train.threads = 1 and train.num_workers = 0" in train_log


def test_runtimes_and_provenance_pages(finished_run: Path):
    from nuwire.io.identity import sha256_file
    from nuwire.provenance import git_commit

    results = finished_run / "results"
    jobs = pd.read_csv(results / "summary" / "runtimes.tsv", sep="\t")["job"].tolist()
    renders = sorted(p.stem for p in (results / "images").glob("*.parquet"))
    point = "lenet/plane2/scale0.5/full/whole"
    assert jobs == [f"render {s}" for s in renders] + ["dataset", f"train {point}", f"evaluate {point}"]
    page = (results / "summary" / "provenance.html").read_text()
    assert git_commit() in page and "unknown" not in page and "<b>Synthetic data.</b>" in page
    for h5 in sorted((finished_run / "results" / "resources").rglob("*.h5")):
        assert sha256_file(h5) in page, h5
    assert "<td>True</td>" in page and "<td>False</td>" not in page  # the point used these inputs
    # The effective config written to results/config.yaml is the one the provenance hashes.
    effective = results / "config.yaml"
    stated = effective.read_text().splitlines()[2].rsplit(" ", 1)[1]
    from nuwire.provenance import config_hash

    assert config_hash(yaml.safe_load(effective.read_text())) == stated and stated in page


def test_second_run_has_nothing_to_do(finished_run: Path):
    proc = snakemake(finished_run, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_report_is_made(finished_run: Path):
    snakemake(finished_run, "--report", "results/report.html")
    text = (finished_run / "results" / "report.html").read_text(errors="replace")
    assert "Sweep summary" in text and "Dataset" in text and "Provenance" in text


def test_adding_a_sweep_point_plans_only_that_point(finished_run: Path, tmp_path: Path):
    config = tiny_config(finished_run)
    config["sweep"].append({"arch": ["resnet"], "plane": [2], "scale": [0.5], "cut": ["full"]})
    (finished_run / "config" / "test_plus.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [SNAKEMAKE, "-n", "--cores", "2", "--configfile", "config/test_plus.yaml"],
        cwd=finished_run,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    jobs = planned_jobs(proc.stdout)
    # effective_config: results/config.yaml records the changed config.
    assert jobs == {"effective_config": 1, "train": 1, "evaluate": 1, "summary": 1, "all": 1}, proc.stdout
    assert "models/resnet/plane2/scale0.5/full/whole" in proc.stdout
    assert "models/lenet" not in proc.stdout.split("rule summary")[0].split("rule train")[-1]


def test_several_seeds_plan_one_job_each(tmp_path: Path):
    """train.seeds: one train and one evaluate job per seed, below a seed level of the point's
    directory; the summary reads them all."""
    workdir = copy_workflow(tmp_path)
    config = tiny_config(workdir)
    config["train"]["seeds"] = [1, 2, 3]
    (workdir / "config" / "seeds.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(workdir, "-n", config="config/seeds.yaml")
    jobs = planned_jobs(proc.stdout)
    assert jobs["train"] == 3 and jobs["evaluate"] == 3 and jobs["summary"] == 1, proc.stdout
    for seed in (1, 2, 3):
        assert f"models/lenet/plane2/scale0.5/full/whole/seed{seed}/metrics.json" in proc.stdout


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sweep": [{"arch": ["lenett"], "plane": [2], "scale": [0.5], "cut": ["full"]}]}, "arch"),
        ({"sweep": [{"arch": ["lenet"], "plane": [2], "scale": [0.5], "cut": ["top10"]}]}, "sweep[0].cut"),
        ({"sweep": [{"arch": ["lenet"], "plane": [3], "scale": [0.5], "cut": ["full"]}]}, "plane"),
        ({"sweep": [{"arch": ["lenet"], "plane": [2], "scale": [1.5], "cut": ["full"]}]}, "scale"),
        ({"split": {"train": 0.7, "val": 0.2, "test": 0.2}}, "split"),
        ({"input": {"source": "opensamples", "opensamples_dir": "/nonexistent/dir"}}, "input.opensamples_dir"),
        (
            {"sweep": [{"arch": ["lenet"], "plane": [2], "scale": [0.5], "cut": ["full"], "target": ["numu"]}]},
            "numu",
        ),
        ({"systematics": {"gain_up": {"gain": 0}}}, "gain_up"),
        ({"systematics": {"up": {"gian": 1.1}}}, "gian"),
    ],
)
def test_invalid_config_fails_before_any_job(tmp_path: Path, change: dict, field: str):
    workdir = copy_workflow(tmp_path)
    config = tiny_config(workdir)
    config.update(change)
    (workdir / "config" / "test.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(workdir, check=False)
    assert proc.returncode != 0
    assert field in proc.stdout + proc.stderr
    assert not (workdir / "results").exists()


def test_lint_is_clean():
    proc = subprocess.run([SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


def test_flavour_and_nue_cc_points_on_the_same_data(finished_run: Path, tmp_path: Path):
    """A flavour point beside the finished nue_cc one (same architecture, same events): only the new
    point trains, and the summary holds their paired comparison, the 3×3 confusion and the Pandora rows."""
    workdir = tmp_path / "wf"
    shutil.copytree(finished_run, workdir, symlinks=True)
    config = tiny_config(workdir)
    config["sweep"][0]["target"] = ["nue_cc", "flavour"]
    # A zero-size detector variation: the flavour point's three-class head is scored on it too.
    config["systematics"] = {"zero": {"gain": 1.0}}
    (workdir / "config" / "flavour.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(workdir, "-n", config="config/flavour.yaml")
    jobs = planned_jobs(proc.stdout)
    assert jobs["train"] == 1 and jobs["evaluate"] == 1, proc.stdout
    snakemake(workdir, config="config/flavour.yaml")
    results = workdir / "results"
    binary = results / "models" / "lenet" / "plane2" / "scale0.5" / "full" / "whole"
    flavour = binary / "flavour"
    assert json.loads((flavour / "train_meta.json").read_text())["n_classes"] == 3
    metrics = json.loads((flavour / "metrics.json").read_text())
    assert (
        metrics["point"]["target"] == "flavour"
        and "target" not in json.loads((binary / "metrics.json").read_text())["point"]
    )
    mc = metrics["multiclass"]
    assert (
        mc["classes"] == ["numu_cc", "nue_cc", "nc"] and sum(map(sum, mc["confusion"])) == metrics["n_events"]["test"]
    )
    preds = pd.read_parquet(flavour / "predictions.parquet")
    assert {"class", "p_numu_cc", "p_nue_cc", "p_nc"} <= set(preds.columns)
    assert (preds["score"] == preds["p_nue_cc"]).all() and (preds["label"] == (preds["class"] == 1)).all()
    # The summary: the paired comparison of the two targets, answered in words with Holm's correction.
    comparisons = pd.read_csv(results / "summary" / "comparisons.tsv", sep="\t")
    pair = comparisons[
        comparisons["a_point"].str.endswith("/flavour") | comparisons["b_point"].str.endswith("/flavour")
    ]
    assert len(pair) == 1 and pair["method"].iloc[0] == "paired bootstrap" and pair["p_holm"].notna().all()
    page = (results / "summary" / "comparisons.html").read_text()
    assert "Does training on flavours improve CC νe identification?" in page and "Holm" in page
    multiclass = pd.read_csv(results / "summary" / "multiclass.tsv", sep="\t")
    assert multiclass["true class"].tolist() == ["νμ CC", "νe CC", "NC"]
    summary = pd.read_csv(results / "summary" / "summary.tsv", sep="\t", dtype=str)
    assert sorted(summary["target"].unique()) == ["flavour", "nue_cc"]
    pandora = pd.read_csv(results / "summary" / "pandora.tsv", sep="\t", dtype=str)
    assert len(pandora) == 2 and (pandora["baseline"] == "Pandora (the simulator's emulation)").all()
    assert metrics["pandora"]["available"] and 0 <= metrics["pandora"]["efficiency"]["value"] <= 1
    html = (results / "summary" / "summary.html").read_text()
    assert "three-class confusion" in html and "Pandora" in html
    # Systematics take a flavour point like any other: its P(CC νe) under a zero-size variation
    # moves nothing.
    values = pd.read_csv(results / "systematics" / "summary" / "systematics_values.tsv", sep="\t")
    row = values[values["point"].str.endswith("/flavour")]
    assert len(row) == 1 and row["delta_auc"].iloc[0] == 0.0, values


def test_detector_variations_are_scored_without_retraining(finished_run: Path, tmp_path: Path):
    """Adding variations plans only their renders, scorings and summaries (no train job); a zero-size
    variation gives the nominal images and a ΔAUC of exactly 0; the report shows the table."""
    import shutil

    workdir = tmp_path / "wf"
    shutil.copytree(finished_run, workdir, symlinks=True)  # copy2 keeps the mtimes: nothing is stale
    config = tiny_config(workdir)
    config["systematics"] = {"zero": {"gain": 1.0, "noise": 0.0}, "gain_up": {"gain": 1.1}}
    (workdir / "config" / "sys.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(workdir, "-n", config="config/sys.yaml")
    jobs = planned_jobs(proc.stdout)
    # 2 variations × 4 input files; 2 variations × 1 point; effective_config and summary: the
    # provenance page hashes the changed config.
    assert jobs == {"effective_config": 1, "summary": 1, "systematics_render": 8, "systematics_score": 2,
                    "systematics_summary": 1, "all": 1}, proc.stdout  # fmt: skip
    snakemake(workdir, config="config/sys.yaml")
    results = workdir / "results"
    index = pd.read_parquet(results / "dataset" / "events.parquet")
    test = index[index["split"] == "test"]
    for sample in sorted(index["sample"].unique()):
        zero = pd.read_parquet(results / "systematics" / "zero" / "images" / f"{sample}.parquet")
        nominal = pd.read_parquet(results / "images" / f"{sample}.parquet")
        keys = test[test["sample"] == sample][["run", "subrun", "event"]]
        nominal = nominal.merge(keys, on=["run", "subrun", "event"]).reset_index(drop=True)
        assert zero["event"].tolist() == nominal["event"].tolist() and len(keys) * 3 == len(zero)
        for column in ("row", "col", "value"):
            assert [bytes(v) for v in zero[column]] == [bytes(v) for v in nominal[column]], (sample, column)
    values = pd.read_csv(results / "systematics" / "summary" / "systematics_values.tsv", sep="\t")
    zero_row = values[values["variation"] == "zero"].iloc[0]
    assert zero_row["delta_auc"] == 0.0 and zero_row["delta_auc_ci95_lo"] == zero_row["delta_auc_ci95_hi"] == 0.0
    assert zero_row["n_test"] == len(test)
    table = pd.read_csv(results / "systematics" / "summary" / "systematics.tsv", sep="\t", dtype=str)
    assert table["variation"].tolist() == ["gain_up", "zero"]
    assert table["ΔAUC 95%"].str.match(r"^\[-?[0-9.]+, -?[0-9.]+\]$").all(), table
    assert (results / "systematics" / "summary" / "systematics.png").stat().st_size > 0
    snakemake(workdir, "--report", "results/report.html", config="config/sys.yaml")
    text = (results / "report.html").read_text(errors="replace")
    assert "Systematics" in text and "shift of every point under every detector variation" in text
