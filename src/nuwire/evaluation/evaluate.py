"""Evaluate one trained sweep point: scores, metrics at three thresholds, figures.

`evaluate()` takes a model whose best weights are already loaded (loading stays with the caller,
which uses `torch.load(weights_only=True)`), the validation and test `SparseImageSet`s with their
target and Pandora's calls (`PointSets`), and the figure context (`nuwire.figures.FigureContext`). The
validation set serves only to choose the F1-optimal threshold; every reported number except the
`val` block of metrics.json is computed on the test set.

Files written (each atomically), named by the rule (`EvaluateOutputs`)
---------------------------------------------------------------------
predictions.parquet  one row per event of both sets: sample, run, subrun, event, split ('val' or
                     'test'), label, score (softmax probability of νe CC), category, nu_energy,
                     lep_energy
metrics.json         `nuwire.evaluation.metrics.metrics_report` (keys score_rule, threshold_choice, val, test),
                     with test.uncertainty: bootstrap intervals of every test metric
                     (`nuwire.stats.bootstrap`); calibration (reliability bins); sample_control
                     (`nuwire.stats.sample_control`); n_events per split; the occlusion, feature-map
                     and embedding settings; and the caller's provenance keys
roc.png, scores.png, efficiency.png, confusion.png, reliability.png, sample_control.png
                     efficiency, confusion and the sample control at the validation-chosen threshold
occlusion.png        νe log-odds occlusion maps of a confident signal, a confident background, a
                     missed signal and a false positive test event (`nuwire.evaluation.interpret`)
feature_maps.png     the first convolution's output for the first of those events
embedding.png        PCA and t-SNE of the penultimate-layer features of the test events
"""

from __future__ import annotations

import json
import logging
import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from nuwire.errors import NuwireError
from nuwire.evaluation.evaluate_plots import (
    plot_confusion,
    plot_efficiency,
    plot_reliability,
    plot_roc,
    plot_sample_control,
    plot_score_distributions,
    plot_training_curves,
)
from nuwire.evaluation.interpret import embed, embedding_subset, occlusion_settings, pick_occlusion_events
from nuwire.evaluation.interpret_plots import OcclusionPanel, plot_embedding, plot_feature_maps, plot_occlusion
from nuwire.evaluation.metrics import metrics_report, split_warnings
from nuwire.evaluation.multiclass import multiclass_report, plot_multiclass
from nuwire.evaluation.occlusion import occlusion_grid, spread_to_pixels
from nuwire.evaluation.pandora import baseline_report, check_calls
from nuwire.events.sweep import SweepPoint
from nuwire.events.targets import DEFAULT_TARGET, NUE_CLASS, TARGET_CLASSES, binary_labels
from nuwire.figures import FigureContext
from nuwire.io.atomic import atomic_path, write_json
from nuwire.io.keys import EVENT_KEY
from nuwire.io.readers import open_parquet, read_json
from nuwire.learn import checkpoint
from nuwire.learn.data import load_point_split
from nuwire.learn.device import DeviceSetup, placement, select_device
from nuwire.models import build_model, first_layer_maps, output_width, penultimate, takes_sparse
from nuwire.provenance import provenance
from nuwire.schema import settings_from_section
from nuwire.stats.bootstrap import bootstrap_report, canonical_order, stratified_counts
from nuwire.stats.calibration import reliability_table
from nuwire.stats.sample_control import sample_identity_control

LOG = logging.getLogger(__name__)
PathLike = str | os.PathLike[str]

PREDICTION_COLUMNS = [*EVENT_KEY, "split", "label", "score", "category", "nu_energy", "lep_energy"]
FIGURES = (
    "roc",
    "scores",
    "efficiency",
    "confusion",
    "reliability",
    "sample_control",
    "occlusion",
    "feature_maps",
    "embedding",
)
# The keys evaluate() writes at the top level of metrics.json (the caller's provenance may not reuse them).
METRICS_KEYS = (
    "score_rule",
    "threshold_choice",
    "val",
    "test",
    "n_events",
    "calibration",
    "sample_control",
    "occlusion",
    "feature_maps",
    "embedding",
    "synthetic",
    "warnings",
)
# Keys written only for some points: a flavour point's `multiclass`, a baseline's `pandora`.
OPTIONAL_METRICS_KEYS = ("multiclass", "pandora")
SPARSE_SKIPPED = (
    "not computed for sparse models: {what} works on a dense image, and a sparse model reads whole "
    "planes that are never densified"
)


class ImageSet(Protocol):
    """What evaluate() needs of `nuwire.images.image_set.SparseImageSet`."""

    labels: np.ndarray
    events: pd.DataFrame

    def __len__(self) -> int: ...

    def batch(self, idx: np.ndarray) -> list[Tensor]: ...

    def sparse_batch(self, idx: np.ndarray) -> list[Any]: ...


def model_views(model: nn.Module, dataset: ImageSet, idx: np.ndarray, *, setup: DeviceSetup) -> list[Any]:
    """Events idx as the model reads them (sparse tensors or dense images), on its device."""
    views = dataset.sparse_batch(idx) if takes_sparse(model) else dataset.batch(idx)
    return [setup.place_batch(v) for v in views]


@torch.no_grad()
def probability_set(model: nn.Module, dataset: ImageSet, setup: DeviceSetup, *, batch_size: int = 64) -> np.ndarray:
    """(n, k) softmax probabilities of the k classes for every event of `dataset`, in its order (float64).

    The model must already be on setup.device and in eval mode."""
    n = len(dataset)
    probs: list[Tensor] = []
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(start + batch_size, n))
        views = model_views(model, dataset, idx, setup=setup)
        with setup.autocast():
            logits = model(*views)
        # Kept on the device until the end: a .cpu() per batch would wait for the GPU each time.
        probs.append(torch.softmax(logits.float(), dim=1))
    if not probs:
        return np.empty((0, output_width(model)), dtype=np.float64)
    return torch.cat(probs).cpu().double().numpy()


def score_set(model: nn.Module, dataset: ImageSet, setup: DeviceSetup, *, batch_size: int = 64) -> np.ndarray:
    """Softmax probability of class 1 (νe CC, in every target) for every event of `dataset` (float64)."""
    return probability_set(model, dataset, setup, batch_size=batch_size)[:, NUE_CLASS]


def _check_scores(score: np.ndarray, split: str) -> None:
    bad = int((~np.isfinite(score)).sum())
    if bad:
        raise NuwireError(
            f"the model gives NaN or infinite scores for {bad} of {score.size} {split} events: its weights "
            "diverged in training (see history.csv; a NaN loss is the sign). Retrain with a lower learning "
            "rate, then evaluate again."
        )


def trained_model(train_meta: Mapping[str, Any], weights: PathLike) -> nn.Module:
    """The network a train job saved: rebuilt from its train_meta.json (architecture, input shapes,
    class count, hparams) with the weights of `weights`."""
    shapes = [tuple(s) for s in train_meta["input_shapes"]]
    model = build_model(train_meta["arch"], shapes, n_classes=train_meta.get("n_classes", 2), **train_meta["hparams"])
    model.load_state_dict(checkpoint.load(weights))
    return model


def predictions_frame(
    dataset: ImageSet, score: np.ndarray, split: str, *, probs: np.ndarray | None = None, target: str = DEFAULT_TARGET
) -> pd.DataFrame:
    """One row per event: `label` is CC νe (1) or not (0) and `score` P(CC νe) whatever the target; a
    multi-class target adds its class index (`class`) and each class's probability (`p_{class}`)."""
    events = dataset.events.reset_index(drop=True)
    frame = events[list(EVENT_KEY)].copy()
    frame["split"] = split
    frame["label"] = binary_labels(dataset.labels)
    frame["score"] = score
    for column in ("category", "nu_energy", "lep_energy"):
        frame[column] = events[column].to_numpy()
    if target == DEFAULT_TARGET:
        return frame[PREDICTION_COLUMNS]
    frame["class"] = np.asarray(dataset.labels, dtype=np.int64)
    names = TARGET_CLASSES[target]
    for i, name in enumerate(names):
        frame[f"p_{name}"] = probs[:, i] if probs is not None else np.nan
    return frame[[*PREDICTION_COLUMNS, "class", *(f"p_{name}" for name in names)]]


@torch.no_grad()
def feature_set(
    model: nn.Module, dataset: ImageSet, idx: np.ndarray, *, setup: DeviceSetup, batch_size: int = 64
) -> np.ndarray:
    """(len(idx), D) penultimate-layer features (`nuwire.models.penultimate`) of events idx."""
    out = []
    for start in range(0, idx.size, batch_size):
        views = model_views(model, dataset, idx[start : start + batch_size], setup=setup)
        with setup.autocast():
            out.append(penultimate(model, *views).float().cpu())
    return torch.cat(out).double().numpy() if out else np.empty((0, 0))


def _event_label(events: pd.DataFrame, i: int) -> tuple[str, dict[str, Any]]:
    row = events.iloc[int(i)]
    # .item(): plain Python numbers, so the returned metrics equal what metrics.json holds.
    keys = {k: row[k].item() if hasattr(row[k], "item") else row[k] for k in list(EVENT_KEY)}
    return f"{row['sample']} run {row['run']} subrun {row['subrun']} event {row['event']}", keys


def _occlusion_panels(
    model: nn.Module,
    test_set: ImageSet,
    setup: DeviceSetup,
    *,
    score: np.ndarray,
    threshold: float,
    settings: EvaluateSettings,
) -> tuple[list[OcclusionPanel], dict[str, Any]]:
    max_positions = settings.occlusion_max_positions
    chosen = pick_occlusion_events(
        binary_labels(test_set.labels), score, threshold=threshold, n=settings.occlusion_events
    )
    events = test_set.events.reset_index(drop=True)
    planes = getattr(getattr(test_set, "view", None), "planes", None)  # SparseImageSet.view: ViewSpec
    panels: list[OcclusionPanel] = []
    used: dict[str, Any] = {"target": "νe log-odds", "events": [], "max_positions": max_positions}
    for i, kind in chosen:
        views = [setup.place_batch(v) for v in test_set.batch(np.array([i]))]
        # The last view is the collection plane both for single-plane sets (planes=(2,)) and for
        # the three-plane ones (planes=(0, 1, 2)).
        view_index = len(views) - 1
        plane = int(planes[view_index]) if planes is not None else None
        image = views[view_index][0, 0].float().cpu().numpy()
        p, s = occlusion_settings(
            image, patch=settings.occlusion_patch, stride=settings.occlusion_stride, max_positions=max_positions
        )
        with setup.autocast():
            drops, rows, cols, _, scored = occlusion_grid(model, views, view_index, patch=p, stride=s, progress=True)
        drop = spread_to_pixels(drops, rows, cols, patch=p, shape=image.shape)
        key, keys = _event_label(events, i)
        panels.append(OcclusionPanel(
            image=image, drop=drop, category=str(events.iloc[int(i)]["category"]), score=float(score[i]),
            label=f"{key}, " + (f"plane {plane}" if plane is not None else f"view {view_index}"), kind=kind,
            patch=p, stride=s, positions=int(scored.sum()),
        ))  # fmt: skip
        used["events"].append(keys | {"kind": kind, "view_index": view_index, "plane": plane, "patch": p,
                                      "stride": s, "positions_scored": int(scored.sum())})  # fmt: skip
        LOG.info("occlusion of %s (%s): %d charged positions, patch %d, stride %d", key, kind, int(scored.sum()), p, s)
    return panels, used


def _feature_maps(
    model: nn.Module, test_set: ImageSet, setup: DeviceSetup, *, index: int, out: Path, context: FigureContext
) -> dict[str, Any]:
    views = [setup.place_batch(v) for v in test_set.batch(np.array([index]))]
    view_index = len(views) - 1
    with torch.no_grad(), setup.autocast():
        maps = first_layer_maps(model, *views)
    key, keys = _event_label(test_set.events.reset_index(drop=True), index)
    image = views[view_index][0, 0].float().cpu().numpy()
    if not maps:  # a model without a convolution on the image (none of the registry's)
        label = f"{key}: the model has no convolution on the image"
        plot_feature_maps(image, np.zeros((0, 1, 1)), label, path=out, context=context)
        return keys | {"channels": 0}
    chosen = maps[min(view_index, len(maps) - 1)][0].float().cpu().numpy()
    plot_feature_maps(image, chosen, key, path=out, context=context)
    return keys | {"channels": int(chosen.shape[0])}


@dataclass(frozen=True)
class EvaluateInputs:
    """What the evaluate job reads, as the evaluate rule names it (`snakemake.input`)."""

    index: PathLike  # dataset/events.parquet
    inputs: PathLike  # dataset/inputs.json, the input files' manifest (for the provenance)
    images: Sequence[PathLike]  # every image Parquet
    weights: PathLike
    history: PathLike
    meta: PathLike  # train_meta.json
    pandora: PathLike | None = None  # dataset/pandora.parquet: Pandora's calls (nuwire.evaluation.pandora)


@dataclass(frozen=True)
class EvaluateOutputs:
    """The files evaluate() writes, as the evaluate rule names them (`snakemake.output`); `curves`,
    the training curves, is drawn by the job (`run_evaluate_job`), not by evaluate()."""

    metrics: PathLike
    predictions: PathLike
    roc: PathLike
    scores: PathLike
    efficiency: PathLike
    confusion: PathLike
    reliability: PathLike
    sample_control: PathLike
    occlusion: PathLike
    feature_maps: PathLike
    embedding: PathLike
    multiclass: PathLike | None = None  # the flavour figure (a page saying "two classes" for nue_cc)
    curves: PathLike | None = None


@dataclass(frozen=True)
class EvaluateSettings:
    """How evaluate() scores and explains: the workflow config's `evaluate` section. No defaults
    here: `from_config` fills in the schema's for what a section leaves out (`from_config({})`
    gives the workflow's settings)."""

    batch_size: int
    occlusion_events: int  # test events with an occlusion map (see pick_occlusion_events)
    occlusion_patch: int  # in pixels of the model's input image
    occlusion_max_positions: int  # forward passes (charged patch positions) per map; the stride grows to stay under
    bootstrap_resamples: int
    bootstrap_seed: int
    embedding_events: int  # test events in the PCA/t-SNE figure: t-SNE is quadratic in them
    # Not a config setting: in the workflow the stride is the patch size, grown to stay under
    # `occlusion_max_positions`. None: the same here.
    occlusion_stride: int | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> EvaluateSettings:
        """From the `evaluate` section of the workflow config (the schema's defaults for what it leaves out)."""
        return settings_from_section(cls, section, "evaluate")


@dataclass
class _Scores:
    """Stage 1's results: scores, labels, the metrics report and the predictions table."""

    val_y: np.ndarray
    test_y: np.ndarray
    test_score: np.ndarray
    report: dict[str, Any]
    predictions: pd.DataFrame
    test_frame: pd.DataFrame
    warnings: list[str]
    counts: np.ndarray  # the (resamples, n) bootstrap counts of the test events in canonical order
    multiclass: dict[str, Any] | None = None

    @property
    def chosen(self) -> float:
        return float(self.report["threshold_choice"]["threshold"])


@dataclass(frozen=True)
class PointSets:
    """The events evaluate() scores: a point's validation and test sets, the target their labels
    are class indices of, and Pandora's calls for the baseline (None: no baseline)."""

    val: ImageSet
    test: ImageSet
    target: str = DEFAULT_TARGET
    pandora_calls: pd.DataFrame | None = None


def evaluate(
    model: nn.Module,
    sets: PointSets,
    *,
    outputs: EvaluateOutputs,
    context: FigureContext,
    device: torch.device | str = "cpu",
    settings: EvaluateSettings | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score both sets, write the predictions, metrics and figures to `outputs`; return the metrics.

    `sets.target` (`nuwire.events.targets`): the sets' labels are its class indices; every binary number
    is CC νe (class 1) against the rest on P(CC νe), and a multi-class target adds `multiclass`.
    `sets.pandora_calls` (`nuwire.evaluation.pandora.read_calls`) adds the Pandora baseline (`pandora`) and
    its point on the ROC figure; None leaves both out.

    In stages: scores and metrics with their bootstrap (`_score`), the performance figures
    (`_performance_figures`), what the network looks at (`_interpretation_figures`), metrics.json.
    The model is moved to `device` and left there, in eval mode.

    ``provenance`` keys (e.g. "training": train_meta, "point", "inputs") are added at the top level
    of metrics.json; they may not reuse the keys evaluate() writes. Every uncertainty is a bootstrap
    over TEST events (``settings.bootstrap_resamples`` resamples, seeded by ``settings.bootstrap_seed``);
    the validation set only chooses the threshold.
    """
    settings = settings or EvaluateSettings.from_config({})
    provenance = dict(provenance or {})
    clash = sorted(set(provenance) & {*METRICS_KEYS, *OPTIONAL_METRICS_KEYS})
    if clash:  # checked first, so that nothing is written
        raise ValueError(f"provenance keys {clash} would overwrite evaluate's own metrics.json keys")
    setup = placement(device)
    model = setup.place_model(model)
    model.eval()

    test_set = sets.test
    scores = _score(model, sets, setup, settings=settings)
    baseline = None
    if sets.pandora_calls is not None:
        order = canonical_order(scores.test_frame)
        frame = scores.test_frame.iloc[order].reset_index(drop=True)
        baseline = baseline_report(
            frame, scores.test_score[order], sets.pandora_calls, counts=scores.counts, context=context
        )
    with atomic_path(outputs.predictions) as tmp:
        scores.predictions.to_parquet(tmp, index=False)
    reliability, control = _performance_figures(
        scores, test_set, outputs, context=context, settings=settings, baseline=baseline
    )
    interpretation = _interpretation_figures(
        model, test_set, setup, scores=scores, outputs=outputs, context=context, settings=settings
    )
    payload: dict[str, Any] = {
        **scores.report,
        "n_events": {"val": int(len(scores.val_y)), "test": int(len(scores.test_y))},
        "calibration": {"bins": json.loads(reliability.to_json(orient="records"))},
        "sample_control": control,
        **interpretation,
        "synthetic": bool(context.synthetic),
        "warnings": scores.warnings,
    }
    if scores.multiclass is not None:  # a nue_cc point's metrics.json stays as it was
        payload["multiclass"] = scores.multiclass
    if baseline is not None:
        payload["pandora"] = baseline
    if outputs.multiclass is not None:
        note = "nue_cc target: two classes (CC νe against the rest); the 3×3 evaluation is drawn for flavour points"
        plot_multiclass(scores.multiclass, Path(outputs.multiclass), context=context, note=note)
    payload.update(provenance)
    write_json(outputs.metrics, payload)
    return payload


def _score(model: nn.Module, sets: PointSets, setup: DeviceSetup, *, settings: EvaluateSettings) -> _Scores:
    """Scores of both sets, the metrics at three thresholds and the test-event bootstrap."""
    val_set, test_set, target = sets.val, sets.test, sets.target
    val_probs = probability_set(model, val_set, setup, batch_size=settings.batch_size)
    test_probs = probability_set(model, test_set, setup, batch_size=settings.batch_size)
    val_score, test_score = val_probs[:, NUE_CLASS], test_probs[:, NUE_CLASS]
    _check_scores(val_score, "validation")
    _check_scores(test_score, "test")
    val_y = binary_labels(val_set.labels)
    test_y = binary_labels(test_set.labels)

    report = metrics_report(val_y, val_score, test_true=test_y, test_score=test_score)
    warnings = split_warnings(report)
    for warning in warnings:
        LOG.warning("%s", warning)
    predictions = pd.concat(
        [
            predictions_frame(val_set, val_score, "val", probs=val_probs, target=target),
            predictions_frame(test_set, test_score, "test", probs=test_probs, target=target),
        ],
        ignore_index=True,
    )
    test_frame = predictions[predictions["split"] == "test"].reset_index(drop=True)
    order = canonical_order(test_frame)  # the resamples the summary's paired comparisons redraw
    # Drawn once: the metrics' intervals and the Pandora baseline's paired ones share them.
    counts = stratified_counts(test_y[order], settings.bootstrap_resamples, settings.bootstrap_seed)
    report["test"]["uncertainty"] = bootstrap_report(
        test_y[order], test_score[order], report["test"], seed=settings.bootstrap_seed, counts=counts
    )
    chosen = report["threshold_choice"]["threshold"]
    test_at_chosen = report["test"]["thresholds"]["f1_opt_val"]
    auc_ci = report["test"]["uncertainty"]["roc_auc"]
    LOG.info(
        "test: %d events (%d signal), ROC AUC %s (68%% interval %s); val-chosen threshold %.4f gives accuracy %s, "
        "TPR %s, precision %s", len(test_y), int(test_y.sum()), report["test"]["roc_auc"], auc_ci.get("ci68"), chosen,
        test_at_chosen["accuracy"], test_at_chosen["tpr"], test_at_chosen["precision"],
    )  # fmt: skip
    multiclass = None
    if target != DEFAULT_TARGET:
        classes = np.asarray(test_set.labels, dtype=np.int64)
        energy = test_set.events["nu_energy"].to_numpy(np.float64)
        multiclass = multiclass_report(classes[order], test_probs[order], energy[order], names=TARGET_CLASSES[target],
                                       resamples=settings.bootstrap_resamples, seed=settings.bootstrap_seed)  # fmt: skip
    return _Scores(val_y, test_y, test_score, report, predictions, test_frame, warnings, counts, multiclass)


def _performance_figures(
    scores: _Scores,
    test_set: ImageSet,
    outputs: EvaluateOutputs,
    *,
    context: FigureContext,
    settings: EvaluateSettings,
    baseline: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """ROC, score distributions, efficiency, confusion, reliability and the sample-identity control."""
    test_y, test_score, report, chosen = scores.test_y, scores.test_score, scores.report, scores.chosen
    test_at_chosen = report["test"]["thresholds"]["f1_opt_val"]
    test_events = test_set.events.reset_index(drop=True)
    thresholds = {name: m["threshold"] for name, m in report["test"]["thresholds"].items()}
    plot_roc(test_y, test_score, report["test"], path=Path(outputs.roc), context=context, baseline=baseline)
    plot_score_distributions(
        test_score,
        test_events["category"].to_numpy(),
        Path(outputs.scores),
        context=context,
        thresholds=thresholds,
    )
    plot_efficiency(
        test_y,
        test_score,
        test_events["nu_energy"].to_numpy(),
        threshold=chosen,
        path=Path(outputs.efficiency),
        context=context,
        title=f"Efficiency and purity at the val-chosen threshold {chosen:.3f} (test set)",
    )
    plot_confusion(
        test_at_chosen,
        Path(outputs.confusion),
        context=context,
        title=f"Confusion matrix at the val-chosen threshold, score ≥ {chosen:.3f} (test set)",
    )
    reliability = reliability_table(test_y, test_score)
    brier = report["test"]["uncertainty"]["brier"]
    plot_reliability(reliability, brier, Path(outputs.reliability), context=context)
    control = sample_identity_control(
        scores.test_frame, chosen, resamples=settings.bootstrap_resamples, seed=settings.bootstrap_seed
    )
    plot_sample_control(scores.test_frame, control, Path(outputs.sample_control), context=context)
    return reliability, control


def _interpretation_figures(
    model: nn.Module,
    test_set: ImageSet,
    setup: DeviceSetup,
    *,
    scores: _Scores,
    outputs: EvaluateOutputs,
    context: FigureContext,
    settings: EvaluateSettings,
) -> dict[str, Any]:
    """Occlusion maps, first-layer feature maps and the embedding; returns their metrics.json entries."""
    test_y, test_score, chosen = scores.test_y, scores.test_score, scores.chosen
    if takes_sparse(model):
        skipped = SPARSE_SKIPPED.format(what="occlusion slides a patch over a dense image; it")
        LOG.info("occlusion maps and first-layer feature maps %s", SPARSE_SKIPPED.format(what="each"))
        panels, occlusion_used = [], {"events": [], "patch": None, "stride": None, "skipped": skipped}
    else:
        panels, occlusion_used = _occlusion_panels(
            model, test_set, setup, score=test_score, threshold=chosen, settings=settings
        )
    plot_occlusion(
        panels,
        Path(outputs.occlusion),
        context=context,
        note=textwrap.fill(occlusion_used.get("skipped") or "", 50) or None,
    )
    first = [] if takes_sparse(model) else pick_occlusion_events(test_y, test_score, threshold=chosen, n=1)
    feature_path = Path(outputs.feature_maps)
    features_used = (_feature_maps(model, test_set, setup, index=first[0][0], out=feature_path, context=context)
                     if first else {"channels": 0})  # fmt: skip
    if not first:
        why = SPARSE_SKIPPED.format(what="the figure") if takes_sparse(model) else "no test events"
        plot_feature_maps(
            np.zeros((1, 1)), np.zeros((0, 1, 1)), textwrap.fill(why, 50), path=feature_path, context=context
        )
    subset = embedding_subset(len(test_y), settings.embedding_events, settings.bootstrap_seed)
    features = feature_set(model, test_set, subset, setup=setup, batch_size=settings.batch_size)
    coords = embed(features, settings.bootstrap_seed)
    test_events = test_set.events.reset_index(drop=True)
    plot_embedding(
        coords,
        test_events["category"].to_numpy()[subset],
        test_score[subset],
        path=Path(outputs.embedding),
        context=context,
        n_total=len(test_y),
    )
    return {
        "occlusion": occlusion_used,
        "feature_maps": features_used,
        "embedding": {
            "events": int(subset.size),
            "pca_explained_variance": coords["explained"],
            "tsne": coords["tsne"] is not None,
        },
    }


def run_evaluate_job(
    inputs: EvaluateInputs,
    outputs: EvaluateOutputs,
    *,
    point: SweepPoint,
    settings: Mapping[str, Any],
    cuts: dict[str, dict[str, Any]],
    evaluate_settings: Mapping[str, Any],
    context: FigureContext,
) -> dict[str, Any]:
    """The `evaluate` rule: rebuild the trained model, score val and test, write everything."""
    train_meta = read_json(inputs.meta, made_by="train")
    model = trained_model(train_meta, inputs.weights)
    images = list(inputs.images)
    val_set = load_point_split(inputs.index, images, point, cuts=cuts, split="val")
    test_set = load_point_split(inputs.index, images, point, cuts=cuts, split="test")
    if outputs.curves is not None:
        history = pd.read_csv(inputs.history)
        plot_training_curves(history, Path(outputs.curves), context=context, best_epoch=train_meta["best_epoch"])
    manifest = read_json(inputs.inputs, made_by="dataset")
    calls = None
    if inputs.pandora is not None:
        calls = open_parquet(inputs.pandora, made_by="dataset").read().to_pandas()
        check_calls(calls, [str(inputs.pandora)])
    setup = select_device(str(settings["device"]))  # the validated train.device
    return evaluate(
        model,
        PointSets(val_set, test_set, target=point.target, pandora_calls=calls),
        outputs=outputs,
        context=context,
        device=setup.device,
        settings=EvaluateSettings.from_config(evaluate_settings),
        provenance={
            "point": point.as_dict(),
            "training": train_meta,
            "provenance": provenance({"point": point.as_dict(), "train": dict(settings), "cuts": cuts}, manifest),
        },
    )
