"""The evaluation stage end to end (real SparseImageSets from image Parquet, real models), the
occlusion maps against a model that looks at one region only, and the figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score
from torch import nn

from builders import evaluate_outputs
from nuwire.evaluation import evaluate_plots, interpret_plots
from nuwire.evaluation.evaluate import (
    FIGURES,
    METRICS_KEYS,
    PREDICTION_COLUMNS,
    EvaluateSettings,
    PointSets,
    evaluate,
)
from nuwire.evaluation.evaluate_plots import efficiency_purity, plot_efficiency, plot_training_curves
from nuwire.evaluation.interpret import occlusion_settings, pick_occlusion_events
from nuwire.evaluation.metrics import metrics_report
from nuwire.evaluation.occlusion import charged_positions, occlusion_grid, occlusion_map, patch_starts, spread_to_pixels
from nuwire.figures import SYNTHETIC_LABEL, FigureContext
from nuwire.images.image_set import SparseImageSet
from nuwire.images.render import IMAGE_SCHEMA
from nuwire.images.views import ViewSpec
from nuwire.models import build_model
from nuwire.stats.binomial import wilson_interval
from nuwire.stats.bootstrap import DEFAULT_SEED, bootstrap_report, canonical_order
from nuwire.stats.metrics import f1_optimal_threshold

torch.set_num_threads(1)

SHAPE = (32, 40)  # (height, width) of every plane image
BLOB = (slice(8, 14), slice(10, 18))  # where signal events carry a bright shower-like blob
CATEGORIES = np.array(["nue_cc", "numu_cc", "nc"])
SYNTHETIC = FigureContext(synthetic=True)


# ---------------------------------------------------------------- fixtures: image Parquet and sets


def make_events(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    category = CATEGORIES[rng.integers(0, 3, n)]
    signal = category == "nue_cc"
    return pd.DataFrame({
        "sample": np.where(signal, "nue_WithWire_00", "bnb_WithWire_00"),
        "run": np.full(n, 7001, dtype=np.int64),
        "subrun": np.arange(n, dtype=np.int64) // 10,
        "event": np.arange(n, dtype=np.int64) + 100,
        "category": category,
        "nu_energy": rng.uniform(0.2, 3.0, n),
        "lep_energy": rng.uniform(0.05, 2.0, n),
        "label": signal.astype(np.int64),
        "split": np.array(["train", "val", "test"])[np.arange(n) % 3],
    })  # fmt: skip


def image(signal: bool, rng: np.random.Generator) -> np.ndarray:
    """A mostly empty uint8 image: scattered noise hits, plus the blob for signal events."""
    img = np.where(rng.random(SHAPE) < 0.05, rng.integers(20, 120, SHAPE), 0).astype(np.uint8)
    if signal:
        img[BLOB] = rng.integers(150, 256, img[BLOB].shape)
    return img


def write_image_files(events: pd.DataFrame, directory: Path, planes: tuple[int, ...], seed: int) -> list[Path]:
    """One image Parquet per sample, in the schema of docs/architecture.md (pixels row-major)."""
    rng = np.random.default_rng(seed)
    paths = []
    for sample, part in events.groupby("sample", sort=True):
        cols: dict[str, list] = {
            k: [] for k in ("sample", "run", "subrun", "event", "plane", "height", "width", "row", "col", "value")
        }
        for _, ev in part.iterrows():
            for plane in planes:
                img = image(bool(ev["label"]), rng)
                r, c = np.nonzero(img)  # row-major order
                for key, value in (
                    ("sample", sample),
                    ("run", ev["run"]),
                    ("subrun", ev["subrun"]),
                    ("event", ev["event"]),
                    ("plane", plane),
                    ("height", SHAPE[0]),
                    ("width", SHAPE[1]),
                    ("row", r.tolist()),
                    ("col", c.tolist()),
                    ("value", img[r, c].tolist()),
                ):
                    cols[key].append(value)
        schema = IMAGE_SCHEMA
        path = directory / f"{sample}.parquet"
        pq.write_table(pa.table(cols, schema=schema), path)
        paths.append(path)
    return paths


def load_sets(tmp: Path, planes: tuple[int, ...], n: int = 60, seed: int = 3) -> tuple[SparseImageSet, SparseImageSet]:
    events = make_events(n, seed)
    files = write_image_files(events, tmp, planes, seed)
    view = ViewSpec(planes=planes, scale=1.0, crop=None)
    val = SparseImageSet.load(files, events[events["split"] == "val"].reset_index(drop=True), view)
    test = SparseImageSet.load(files, events[events["split"] == "test"].reset_index(drop=True), view)
    return val, test


class SaveSpy:
    """Wraps the real save_figure and records, per file, the texts the saved figure carried."""

    def __init__(self, real):
        self.real, self.texts = real, {}

    def __call__(self, fig, path, **kw):
        self.real(fig, path, **kw)
        self.texts[Path(path).name] = [t.get_text() for t in fig.texts]


def run_evaluate(model, val, test, out: Path, synthetic=True, device="cpu", provenance=None, **settings):
    """evaluate() with its outputs under `out` and `settings` as EvaluateSettings keywords."""
    return evaluate(
        model,
        PointSets(val, test),
        outputs=evaluate_outputs(out),
        context=FigureContext(synthetic=synthetic),
        device=device,
        settings=EvaluateSettings.from_config(settings),
        provenance=provenance,
    )


@pytest.fixture(scope="module")
def single_view(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("single")
    val, test = load_sets(tmp, planes=(2,))
    torch.manual_seed(0)
    model = build_model("lenet", val.input_shapes)
    spy = SaveSpy(evaluate_plots.save_figure)
    mp = pytest.MonkeyPatch()
    mp.setattr(evaluate_plots, "save_figure", spy)
    mp.setattr(interpret_plots, "save_figure", spy)
    runs = {}
    try:
        for synthetic in (True, False):
            out = tmp / ("synthetic" if synthetic else "real")
            provenance = {"training": {"best_epoch": 3}, "point": "lenet/plane2"}
            metrics = run_evaluate(
                model,
                val,
                test,
                out,
                synthetic,
                provenance=provenance,
                batch_size=7,
                occlusion_events=2,
                occlusion_patch=4,
            )
            runs[synthetic] = (out, metrics, {k: v for k, v in spy.texts.items()})
            spy.texts.clear()
    finally:
        mp.undo()
    return model, val, test, runs


# ---------------------------------------------------------------- evaluate()


def test_outputs_are_written_and_consistent(single_view):
    model, val, test, runs = single_view
    out, metrics, _ = runs[True]
    for name in ("predictions.parquet", "metrics.json", *(f"{f}.png" for f in FIGURES)):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind

    pred = pd.read_parquet(out / "predictions.parquet")
    assert list(pred.columns) == PREDICTION_COLUMNS
    assert (pred["split"] == "val").sum() == len(val) and (pred["split"] == "test").sum() == len(test)
    p_test = pred[pred["split"] == "test"].reset_index(drop=True)
    p_val = pred[pred["split"] == "val"].reset_index(drop=True)
    for column in ("sample", "run", "subrun", "event", "category", "label"):
        assert p_test[column].tolist() == test.events[column].tolist()
    np.testing.assert_allclose(p_test["nu_energy"], test.events["nu_energy"])

    # Scores are the softmax of the model's logits, in eval mode.
    model.eval()
    with torch.no_grad():
        direct = torch.softmax(model(*test.batch(np.arange(len(test)))), dim=1)[:, 1].double().numpy()
    np.testing.assert_allclose(p_test["score"], direct, rtol=1e-6)

    # metrics.json is metrics_report of exactly these predictions, plus counts and provenance.
    on_disk = json.loads((out / "metrics.json").read_text())
    expected = metrics_report(p_val["label"], p_val["score"], test_true=p_test["label"], test_score=p_test["score"])
    for key in ("test", "val", "threshold_choice", "score_rule"):
        got = {k: v for k, v in on_disk[key].items() if k != "uncertainty"} if key == "test" else on_disk[key]
        assert got == json.loads(json.dumps(expected[key])), key
    # The intervals are of test events only, and contain the measured values.
    unc = on_disk["test"]["uncertainty"]
    assert unc["n_events"] == len(test) and unc["n_signal"] == int(test.labels.sum()) and unc["resamples"] == 1000
    assert unc["roc_auc"]["value"] == on_disk["test"]["roc_auc"]
    lo, hi = unc["roc_auc"]["ci95"]
    assert lo <= on_disk["test"]["roc_auc"] <= hi and unc["roc_auc"]["ci68"][0] >= lo
    # Exactly the bootstrap of the test rows of predictions.parquet: no validation event enters.
    order = canonical_order(p_test)
    again = bootstrap_report(p_test["label"].to_numpy()[order], p_test["score"].to_numpy()[order], expected["test"],
                             resamples=1000, seed=DEFAULT_SEED)  # fmt: skip
    assert json.loads(json.dumps(again)) == unc
    assert on_disk["threshold_choice"]["threshold"] == f1_optimal_threshold(p_val["label"], p_val["score"])
    assert on_disk["test"]["roc_auc"] == pytest.approx(roc_auc_score(p_test["label"], p_test["score"]))
    assert on_disk["n_events"] == {"val": len(val), "test": len(test)}
    assert on_disk["training"] == {"best_epoch": 3} and on_disk["point"] == "lenet/plane2"
    assert on_disk["synthetic"] is True
    assert len(on_disk["occlusion"]["events"]) == 2 and on_disk["occlusion"]["events"][0]["patch"] == 4
    assert [e["kind"] for e in on_disk["occlusion"]["events"]][:1] == ["confident signal"]
    assert on_disk["sample_control"]["groups"]["nue"]["n_signal"] == int(test.labels.sum())
    assert on_disk["embedding"]["events"] == len(test) and on_disk["feature_maps"]["channels"] == 6
    assert json.loads(json.dumps(metrics)) == on_disk
    assert set(on_disk) - {"training", "point"} == set(METRICS_KEYS)  # the keys provenance may not reuse


def test_auc_interval_in_metrics_agrees_with_sklearn_from_predictions_parquet(single_view):
    """Recomputed from what evaluate wrote, with sklearn and plain numpy indices (another random
    stream): the same percentile interval up to Monte Carlo noise; only test rows are used."""
    *_, runs = single_view
    out, _, _ = runs[True]
    pred = pd.read_parquet(out / "predictions.parquet")
    test = pred[pred["split"] == "test"]
    y, s = test["label"].to_numpy(), test["score"].to_numpy()
    rng = np.random.default_rng(12345)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    aucs = [roc_auc_score(y[i], s[i]) for i in (np.r_[rng.choice(pos, pos.size), rng.choice(neg, neg.size)]
                                                for _ in range(3000))]  # fmt: skip
    mine = json.loads((out / "metrics.json").read_text())["test"]["uncertainty"]["roc_auc"]
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    assert mine["ci95"] == pytest.approx([lo, hi], abs=0.15 * (hi - lo))
    assert mine["error"] == pytest.approx(np.diff(np.percentile(aucs, [15.865, 84.135]))[0] / 2, rel=0.15)


def test_figures_carry_the_synthetic_label_only_when_synthetic(single_view):
    *_, runs = single_view
    (syn_dir, _, syn_texts), (real_dir, _, real_texts) = runs[True], runs[False]
    for fig in FIGURES:
        name = f"{fig}.png"
        assert SYNTHETIC_LABEL in syn_texts[name], name
        assert SYNTHETIC_LABEL not in real_texts[name], name
        # Same data, same model: the two PNGs differ only by the label, drawn along the bottom edge.
        a = np.asarray(Image.open(syn_dir / name).convert("RGB"), dtype=np.int16)
        b = np.asarray(Image.open(real_dir / name).convert("RGB"), dtype=np.int16)
        assert a.shape == b.shape
        rows = np.flatnonzero(np.abs(a - b).sum(axis=(1, 2)))
        assert rows.size, name
        assert rows.min() > 0.9 * a.shape[0], name


def test_provenance_may_not_overwrite_metrics(single_view, tmp_path):
    model, val, test, _ = single_view
    with pytest.raises(ValueError, match="test"):
        run_evaluate(model, val, test, tmp_path, provenance={"test": {}}, occlusion_events=0)
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_multi_view_model(tmp_path):
    val, test = load_sets(tmp_path, planes=(0, 1, 2), n=30, seed=5)
    torch.manual_seed(1)
    model = build_model("mvresnet", val.input_shapes, width=4)
    metrics = run_evaluate(
        model, val, test, tmp_path / "out", synthetic=False, batch_size=16, occlusion_events=1, occlusion_patch=8
    )
    assert metrics["n_events"]["test"] == len(test)
    occluded = metrics["occlusion"]["events"][0]
    assert occluded["view_index"] == 2 and occluded["plane"] == 2  # the collection plane
    assert (tmp_path / "out" / "occlusion.png").stat().st_size > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_scores_match_cpu(single_view, tmp_path):
    model, val, test, runs = single_view
    cpu = pd.read_parquet(runs[True][0] / "predictions.parquet")
    run_evaluate(model, val, test, tmp_path, device="cuda", occlusion_events=1)
    gpu = pd.read_parquet(tmp_path / "predictions.parquet")
    np.testing.assert_allclose(gpu["score"], cpu["score"], atol=0.02)  # bf16 autocast
    model.cpu()


def test_occlusion_events_are_a_spread_of_right_and_wrong_calls():
    labels = np.array([0, 1, 1, 0, 1, 0, 0])
    score = np.array([0.99, 0.2, 0.7, 0.5, 0.8, 0.1, 0.3])
    picked = pick_occlusion_events(labels, score, threshold=0.45, n=4)
    assert picked == [(4, "confident signal"), (5, "confident background"), (1, "missed signal"), (0, "false positive")]
    # Then the second of each kind that has one; kinds without events are skipped.
    assert pick_occlusion_events(labels, score, threshold=0.45, n=7)[4:] == [
        (2, "confident signal"),
        (6, "confident background"),
        (3, "false positive"),
    ]
    assert pick_occlusion_events(labels, score, threshold=0.45, n=0) == []
    assert [k for _, k in pick_occlusion_events(np.array([1, 0]), np.array([0.9, 0.1]), threshold=0.5, n=4)] == [
        "confident signal",
        "confident background",
    ]


def test_occlusion_settings_bound_the_charged_positions():
    sparse = np.zeros((800, 864))
    sparse[300:340, 100:700] = 1.0  # a long track: 40 rows of charge
    assert occlusion_settings(sparse, patch=8, stride=None, max_positions=400) != (8, 8)
    patch, stride = occlusion_settings(sparse, patch=8, stride=None, max_positions=400)
    assert charged_positions(sparse, patch, stride)[2].sum() <= 400 and patch >= stride
    small = np.zeros((800, 864))
    small[300:316, 100:180] = 1.0
    assert occlusion_settings(small, patch=8, stride=None, max_positions=400) == (
        8,
        8,
    )  # 2 × 10 charged positions: as asked


# ---------------------------------------------------------------- occlusion maps


class RegionScore(nn.Module):
    """Fixture model: the νe logit is k × the sum of the pixels of one region of one view."""

    def __init__(self, view: int, rows: slice, cols: slice, k: float = 0.1, batchnorm: bool = False) -> None:
        super().__init__()
        self.view, self.rows, self.cols = view, rows, cols
        self.k = nn.Parameter(torch.tensor(k))
        # BN in training mode would make each copy's score depend on the rest of the batch.
        self.norm = nn.BatchNorm1d(1, affine=False) if batchnorm else nn.Identity()

    def forward(self, *views: torch.Tensor) -> torch.Tensor:
        x = views[self.view][:, 0, self.rows, self.cols].sum(dim=(1, 2)) * self.k
        x = self.norm(x[:, None])[:, 0] if isinstance(self.norm, nn.BatchNorm1d) else x
        return torch.stack([torch.zeros_like(x), x], dim=1)


def dense_event(seed: int, n_views: int = 1) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [0.1 + 0.9 * torch.rand(1, 1, 40, 48, generator=gen) for _ in range(n_views)]


def test_occlusion_concentrates_on_the_region_the_model_reads():
    rows, cols, patch, stride = slice(12, 16), slice(30, 34), 4, 2
    model = RegionScore(0, rows, cols)
    views = dense_event(0)
    drops, r0, c0, base, scored = occlusion_grid(model, views, 0, patch=patch, stride=stride)
    assert scored.all()  # a dense image: every patch holds charge
    # A patch changes the score exactly when it overlaps the region, and then lowers it.
    hit_rows = (r0 < rows.stop) & (r0 + patch > rows.start)
    hit_cols = (c0 < cols.stop) & (c0 + patch > cols.start)
    overlaps = hit_rows[:, None] & hit_cols[None, :]
    assert (drops[overlaps] > 0).all()
    assert (drops[~overlaps] == 0).all()
    # The map is in log-odds: the fixture's logits are (0, k·sum), so the log-odds is k·sum and a
    # patch's drop is k times the charge it hides inside the region.
    image = views[0][0, 0].double().numpy()
    assert base == pytest.approx(0.1 * image[rows, cols].sum(), rel=1e-5)
    i, j = np.argwhere(overlaps)[0]
    hidden = np.zeros(image.shape, dtype=bool)
    hidden[r0[i] : r0[i] + patch, c0[j] : c0[j] + patch] = True
    region = np.zeros(image.shape, dtype=bool)
    region[rows, cols] = True
    assert drops[i, j] == pytest.approx(0.1 * image[hidden & region].sum(), rel=1e-4)

    heat = occlusion_map(model, views, 0, patch=patch, stride=stride)
    assert heat.shape == (40, 48)
    near = np.zeros(heat.shape, dtype=bool)
    near[rows.start - patch + 1 : rows.stop + patch - 1, cols.start - patch + 1 : cols.stop + patch - 1] = True
    assert np.abs(heat[~near]).max() == 0.0
    peak = np.unravel_index(np.argmax(heat), heat.shape)
    assert rows.start <= peak[0] < rows.stop and cols.start <= peak[1] < cols.stop


class Counting(nn.Module):
    """Counts the occluded copies a model is asked to score."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.copies = inner, 0

    def forward(self, *views: torch.Tensor) -> torch.Tensor:
        self.copies += views[0].shape[0]
        return self.inner(*views)


def test_occlusion_scores_only_patches_that_hold_charge():
    image = torch.zeros(1, 1, 40, 48)
    image[0, 0, 12:16, 30:34] = 0.5  # the region the model reads
    image[0, 0, 30, 5] = 0.7  # one hit elsewhere
    model = Counting(RegionScore(0, slice(12, 16), slice(30, 34)))
    drops, rows, cols, _, scored = occlusion_grid(model, [image], 0, patch=4, stride=4)
    _, _, expected = charged_positions(image[0, 0].numpy(), 4, 4)
    np.testing.assert_array_equal(scored, expected)
    # The region straddles two patch columns (28 and 32), the hit is in a third patch.
    assert scored.sum() == 3 and model.copies == 1 + 3  # the unoccluded event, then the charged patches
    assert (drops[~scored] == 0).all() and drops[scored].max() > 0


def test_occlusion_of_an_unread_view_is_flat():
    model = RegionScore(1, slice(5, 9), slice(5, 9))
    views = dense_event(1, n_views=2)
    assert np.abs(occlusion_map(model, views, 0, patch=4, stride=4)).max() == 0.0
    read = occlusion_map(model, views, 1, patch=4, stride=4)
    assert read[5:9, 5:9].min() > 0 and read[20:, 20:].max() == 0.0


def test_occlusion_batching_and_model_mode():
    views = dense_event(2)
    model = RegionScore(0, slice(3, 10), slice(20, 26), batchnorm=True)
    model.train()
    small = occlusion_map(model, views, 0, patch=5, stride=3, max_batch=3)
    large = occlusion_map(model, views, 0, patch=5, stride=3, max_batch=10_000)
    np.testing.assert_allclose(small, large, atol=1e-6)
    assert model.training  # restored
    model.eval()
    np.testing.assert_allclose(occlusion_map(model, views, 0, patch=5, stride=3), large, atol=1e-6)


def test_spread_to_pixels_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    shape, patch, stride = (11, 13), 4, 3
    rows, cols = patch_starts(shape[0], patch, stride), patch_starts(shape[1], patch, stride)
    drops = rng.normal(size=(rows.size, cols.size))
    total, count = np.zeros(shape), np.zeros(shape)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            total[r : r + patch, c : c + patch] += drops[i, j]
            count[r : r + patch, c : c + patch] += 1
    assert count.min() >= 1  # the edge-flush positions cover every pixel
    np.testing.assert_allclose(spread_to_pixels(drops, rows, cols, patch=patch, shape=shape), total / count)
    assert patch_starts(11, 4, 3).tolist() == [0, 3, 6, 7]
    assert patch_starts(3, 8, 2).tolist() == [0]  # a patch larger than the image covers all of it


# ---------------------------------------------------------------- figure helpers


def test_efficiency_purity_counts():
    y = np.array([1, 1, 0, 1, 0, 0, 1])
    s = np.array([0.9, 0.2, 0.8, 0.6, 0.1, 0.5, 0.5])
    e = np.array([0.5, 0.5, 0.5, 1.5, 1.5, 1.5, 2.0])
    table = efficiency_purity(y, s, e, threshold=0.5, edges=np.array([0.0, 1.0, 2.0]))
    assert table["n_signal"].tolist() == [2, 2]
    assert table["n_signal_selected"].tolist() == [1, 2]  # 0.5 >= 0.5 selects; 2.0 is in the last bin
    assert table["n_selected"].tolist() == [2, 3]
    np.testing.assert_allclose(table["efficiency"], [0.5, 1.0])
    np.testing.assert_allclose(table["purity"], [0.5, 2 / 3])
    p, lo, hi = wilson_interval(np.array([0, 3, 0]), np.array([4, 3, 0]))
    assert lo[0] == pytest.approx(0.0) and hi[0] > 0 and hi[1] == pytest.approx(1.0) and lo[1] < 1
    assert np.isnan(p[2])


def test_wilson_bounds_contain_p_at_zero_and_one_for_every_n(tmp_path):
    """Rounding used to put the bound a few ulps past p = 1 (or 0) for some n, and the efficiency
    figure then failed on a negative error bar (a demo run's evaluate job did)."""
    n = np.arange(1, 500)
    for k in (n, np.zeros_like(n), n // 2):
        p, lo, hi = wilson_interval(k, n)
        assert (lo <= p).all() and (p <= hi).all() and (lo >= 0).all() and (hi <= 1).all()
    y = np.ones(40, dtype=int)  # every signal event selected in every bin: efficiency exactly 1
    plot_efficiency(
        y, np.ones(40), np.linspace(0.1, 3.0, 40), threshold=0.5, path=tmp_path / "eff.png", context=SYNTHETIC
    )
    assert (tmp_path / "eff.png").stat().st_size > 0


def test_training_curves_figure(tmp_path, monkeypatch):
    spy = SaveSpy(evaluate_plots.save_figure)
    monkeypatch.setattr(evaluate_plots, "save_figure", spy)
    history = pd.DataFrame({
        "epoch": [1, 2, 3], "train_loss": [0.7, 0.6, 0.5], "val_loss": [0.7, 0.65, 0.66],
        "train_acc": [0.5, 0.6, 0.7], "val_acc": [0.5, 0.55, 0.56], "train_auc": [0.5, 0.7, 0.8],
        "val_auc": [0.5, float("nan"), 0.66], "lr": [1e-3, 5e-4, 2.5e-4], "seconds": [1.0, 1.0, 1.0],
    })  # fmt: skip
    history.to_csv(tmp_path / "history.csv", index=False)
    plot_training_curves(tmp_path / "history.csv", tmp_path / "training_curves.png", context=SYNTHETIC, best_epoch=3)
    assert (tmp_path / "training_curves.png").stat().st_size > 0
    assert SYNTHETIC_LABEL in spy.texts["training_curves.png"]
