"""The sweep summary from real metrics.json and predictions.parquet files: value ± error tables,
paired and unpaired comparisons, the answers in words, the figures (also with more than five
cuts), and several training seeds per point."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nuwire.evaluation.metrics import metrics_report
from nuwire.events.sweep import SweepPoint, expand_sweep, train_seed_settings
from nuwire.figures import FigureContext
from nuwire.io.atomic import write_json
from nuwire.report.comparisons import answers, compare_all, holm_note, load_results, metric_rows
from nuwire.report.summary import SummaryInputs, auc_by_point, display_table, forest_plot, run_summary
from nuwire.stats.bootstrap import bootstrap_report, canonical_order
from nuwire.stats.sample_control import sample_identity_control

N_TEST = 400


def events(n: int, seed: int, top50: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(np.int64)
    frame = pd.DataFrame({
        "sample": np.where(y == 1, "nue_WithWire_00", "bnb_WithWire_00"), "run": 1, "subrun": 0,
        "event": np.arange(n), "label": y, "category": np.where(y == 1, "nue_cc", "numu_cc"),
        "nu_energy": 1.0, "lep_energy": rng.random(n), "latent": rng.normal(0, 1, n),
    })  # fmt: skip
    if top50:  # the top50 cut: drop the lower half of the signal, keep all background
        frame = frame[(frame["label"] == 0) | (frame["lep_energy"] >= 0.5)]
    return frame.reset_index(drop=True)


def write_point(root: Path, point: SweepPoint, frame: pd.DataFrame, strength: float, seed: int) -> str:
    """metrics.json and predictions.parquet of one point as evaluate writes them, from scores that
    share the events' latent difficulty and separate with `strength`."""
    rng = np.random.default_rng(seed)
    y = frame["label"].to_numpy()
    logit = frame["latent"].to_numpy() + (1.0 + strength) * (2 * y - 1) + rng.normal(0, 0.5, y.size)
    score = 1 / (1 + np.exp(-logit))
    preds = frame.drop(columns=["latent"]).assign(split="test", score=score)
    val = preds.assign(split="val")
    out = root / "models" / point.path
    out.mkdir(parents=True)
    pd.concat([val, preds]).to_parquet(out / "predictions.parquet", index=False)
    report = metrics_report(y, score, test_true=y, test_score=score)
    order = canonical_order(preds)
    report["test"]["uncertainty"] = bootstrap_report(y[order], score[order], report["test"], resamples=1000, seed=7)
    report["sample_control"] = sample_identity_control(
        preds, report["threshold_choice"]["threshold"], resamples=200, seed=7
    )
    report["training"] = {"best_epoch": 3}
    write_json(out / "metrics.json", report | {"point": point.as_dict()})
    return str(out / "metrics.json")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    full, top50 = events(N_TEST, 0), events(N_TEST, 0, top50=True)
    spec = [  # (point, strength): mvresnet truly better than every single-plane point
        (SweepPoint("lenet", "2", "0.5", "full", "whole"), 0.0),
        (SweepPoint("alexnet", "2", "0.5", "full", "crop128"), 0.02),
        (SweepPoint("alexnet", "2", "0.25", "full", "crop128"), 0.0),
        (SweepPoint("mvresnet", "all", "0.5", "full", "crop128"), 0.8),
        (SweepPoint("alexnet", "2", "0.5", "top50", "crop128"), 0.02),
    ]
    files, points = [], []
    for i, (point, strength) in enumerate(spec):
        files.append(write_point(root, point, top50 if point.cut == "top50" else full, strength, seed=10 + i))
        points.append(point.as_dict())
    return root, files, points


def test_tables_read_like_a_paper(sweep):
    _, files, points = sweep
    rows = metric_rows(load_results(files, _predictions(files), points))
    table = display_table(rows)
    assert len(table) == 3 * len(points)
    lenet = table[table["arch"] == "lenet"].iloc[0]
    assert lenet["crop"] == "whole" and table[table["arch"] == "alexnet"].iloc[0]["crop"] == "128"
    assert lenet["n_test"] == str(N_TEST) and lenet["best_epoch"] == "3" and lenet["threshold"] == "0.500"
    assert table["threshold"].iloc[2].endswith("(val F1-opt)")
    value, err = lenet["roc_auc"].split(" ± ")
    assert len(value.split(".")[1]) == len(err.split(".")[1])  # value to the decimal of its error
    assert 0.005 < float(err) < 0.05  # 400 test events
    assert int(lenet["n_signal"]) == int(events(N_TEST, 0)["label"].sum())


def test_comparisons_pair_same_events_and_find_the_better_model(sweep):
    _, files, points = sweep
    results = load_results(files, _predictions(files), points)
    table = compare_all(results)
    assert len(table) == 10  # every pair of 5 points
    top50 = table["a"].str.contains("top50") | table["b"].str.contains("top50")
    assert not table.loc[top50, "paired"].any() and table.loc[~top50, "paired"].all()
    mv = table[(table["a_point"].str.startswith("mvresnet")) | (table["b_point"].str.startswith("mvresnet"))]
    assert mv[~mv["paired"] | mv["a"].str.contains("top50") | mv["b"].str.contains("top50")].shape[0] == 1
    assert mv[mv["paired"]]["significant"].all()  # truly better: significant against each paired rival
    equal = table[table["a_point"].str.startswith("lenet") & table["b_point"].str.contains("scale0.25")]
    assert not equal["significant"].any()  # same strength: not significant
    words = "\n".join(answers(results, table))
    assert "Does the multi-view network beat the best single-plane one? mvresnet plane all" in words
    assert " beats the best single-plane point" in words
    assert "Does the larger scale beat the smaller? Scale 0.5 cannot be told apart from scale 0.25" in words
    assert "unpaired, different test events" in words or "unpaired" in " ".join(table["method"])
    assert "top50 cut keeps only the upper half of the signal" in words


def test_run_summary_writes_every_output(sweep, tmp_path):
    root, files, points = sweep
    bench = tmp_path / "b.tsv"
    bench.write_text("s\th:m:s\tmax_rss\tcpu_time\n1.0\t0:00:01\t10\t0.5\n")
    (tmp_path / "inputs.json").write_text("[]")
    names = (
        "table",
        "values",
        "html",
        "comparisons",
        "comparisons_html",
        "forest",
        "roc",
        "auc",
        "runtimes",
        "provenance",
    )
    suffix = {
        "table": "tsv",
        "values": "tsv",
        "comparisons": "tsv",
        "runtimes": "tsv",
        "html": "html",
        "comparisons_html": "html",
        "provenance": "html",
    }
    outputs = {k: str(tmp_path / f"{k}.{suffix.get(k, 'png')}") for k in names}
    inputs = SummaryInputs(files, _predictions(files), [str(bench)], ["dataset"], points, tmp_path / "inputs.json")
    run_summary(inputs, outputs, config={"a": 1}, context=FigureContext(synthetic=True))
    page = Path(outputs["html"]).read_text()
    assert (
        page.index("This run (test set)") < page.index("For reference only: thesis")
        and 'class="dataframe thesis"' in page
    )
    assert " ± " in page and "128.0000" not in page and "400.0000" not in page
    comparisons = Path(outputs["comparisons_html"]).read_text()
    assert "Does the multi-view network beat the best single-plane one?" in comparisons
    assert "Sample-identity control" in comparisons
    values = pd.read_csv(outputs["values"], sep="\t")
    assert {"roc_auc", "roc_auc_err", "roc_auc_ci95_lo", "roc_auc_ci95_hi"} <= set(values.columns)
    for k in ("forest", "roc", "auc"):
        assert Path(outputs[k]).stat().st_size > 0


def test_the_note_and_the_answers_count_the_same_pairs():
    """A pair whose ΔAUC exists but has no p-value is outside Holm's family: neither the note beside
    the table nor the answers count it (the answers used to count every pair with a ΔAUC)."""
    table = pd.DataFrame({
        "a": ["x", "x", "y"], "b": ["y", "z", "z"], "a_point": ["x", "x", "y"], "b_point": ["y", "z", "z"],
        "delta_auc": [0.01, 0.02, 0.03], "error": [0.02, 0.02, 0.02], "ci95_lo": [-0.03, -0.02, None],
        "ci95_hi": [0.05, 0.06, None], "significant": [False, False, False], "paired": [True, True, True],
        "p_value": [0.6, 0.3, None], "p_holm": [0.6, 0.6, None], "significant_holm": [False, False, False],
    })  # fmt: skip
    assert "over the 2 pairs compared" in holm_note(table)
    assert any(line.startswith("No pair of the 2 compared") for line in answers([], table))


def test_auc_figure_with_more_than_five_cuts_and_one_scale(tmp_path):
    """The figure used to zip the cuts with five markers and fail on a sixth (KeyError)."""
    frame = events(120, 3)
    files, points = [], []
    for i in range(7):
        point = SweepPoint("alexnet", "2", "0.5", f"cut{i}", "whole")
        files.append(write_point(tmp_path, point, frame, 0.1 * i, seed=i))
        points.append(point.as_dict())
    results = load_results(files, _predictions(files), points)
    auc_by_point(results, tmp_path / "auc.png", context=FigureContext(synthetic=True))
    forest_plot(results, tmp_path / "forest.png", context=FigureContext(synthetic=True))
    assert (tmp_path / "auc.png").stat().st_size > 0 and (tmp_path / "forest.png").stat().st_size > 0


# ---------------------------------------------------------------- several training seeds


def test_seeds_expand_to_one_job_each_and_keep_the_single_seed_layout():
    block = [{"arch": ["lenet"], "plane": [2], "scale": [0.5], "cut": ["full"]}]
    single = expand_sweep(block)
    assert [p.path for p in single] == ["lenet/plane2/scale0.5/full/whole"]
    assert [p.path for p in expand_sweep(block, [4])] == ["lenet/plane2/scale0.5/full/whole"]
    many = expand_sweep(block, [3, 1])
    assert [p.path for p in many] == [f"lenet/plane2/scale0.5/full/whole/seed{s}" for s in (1, 3)]
    wc = SimpleNamespace(arch="lenet", plane="2", scale="0.5", cut="full", window="whole/seed3")
    assert SweepPoint.from_wildcards(wc) == many[1] and many[1].base_path == single[0].path
    assert train_seed_settings({"seed": 1, "seeds": [3, 1], "threads": 2}, many[1]) == {"seed": 3, "threads": 2}
    assert train_seed_settings({"seed": 1, "seeds": [4]}, single[0]) == {"seed": 4}
    assert train_seed_settings({"seed": 1}, single[0]) == {"seed": 1}


def test_summary_adds_the_seed_spread_to_the_bootstrap_error(tmp_path):
    frame = events(N_TEST, 5)
    files, points = [], []
    for seed, strength in ((1, 0.0), (2, 0.6), (3, 1.2)):  # very different trainings
        point = SweepPoint("resnet", "2", "0.5", "full", "whole", seed)
        files.append(write_point(tmp_path, point, frame, strength, seed=seed))
        points.append(point.as_dict())
    (result,) = load_results(files, _predictions(files), points)
    auc = result.auc()
    aucs = [json.loads(Path(f).read_text())["test"]["uncertainty"]["roc_auc"] for f in files]
    boot = np.mean([a["error"] for a in aucs])
    assert auc["value"] == pytest.approx(np.mean([a["value"] for a in aucs]))
    assert auc["seed_sd"] == pytest.approx(np.std([a["value"] for a in aucs], ddof=1))
    assert auc["error"] > 1.5 * boot  # the spread of these seeds dominates
    assert auc["error"] == pytest.approx(np.hypot(boot, auc["seed_sd"] / np.sqrt(3)), rel=0.15)
    shown = display_table(metric_rows([result]))
    assert shown["seeds"].iloc[0] == "3"
    assert float(shown["roc_auc seed sd"].iloc[0]) == pytest.approx(auc["seed_sd"], abs=0.01)


def _predictions(metrics_files: list) -> list[Path]:
    """The predictions.parquet that write_point wrote beside each metrics.json."""
    return [Path(f).with_name("predictions.parquet") for f in metrics_files]
