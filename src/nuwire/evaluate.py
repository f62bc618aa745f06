"""Evaluate one trained sweep point: scores, metrics at three thresholds, figures.

`evaluate()` takes a model whose best weights are already loaded (loading stays with the caller,
which uses `torch.load(weights_only=True)`) and the validation and test `SparseImageSet`s. The
validation set serves only to choose the F1-optimal threshold; every reported number except the
`val` block of metrics.json is computed on the test set.

Files written into out_dir (each atomically)
--------------------------------------------
predictions.parquet  one row per event of both sets: sample, run, subrun, event, split ('val' or
                     'test'), label, score (softmax probability of νe CC), category, nu_energy,
                     lep_energy
metrics.json         `nuwire.metrics.metrics_report` (keys score_rule, threshold_choice, val, test),
                     n_events per split, the occlusion settings, and the caller's provenance keys
roc.png, scores.png, efficiency.png, confusion.png, occlusion.png
                     efficiency and confusion at the validation-chosen threshold; occlusion maps
                     of the highest-scored test νe CC events (then the highest-scored others)
"""

from __future__ import annotations

import json
import textwrap
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from nuwire import checkpoint
from nuwire.atomic import atomic_path, write_json
from nuwire.device import DeviceSetup, select_device
from nuwire.errors import NuwireError
from nuwire.evaluate_plots import (
    OcclusionPanel,
    plot_confusion,
    plot_efficiency,
    plot_occlusion,
    plot_roc,
    plot_score_distributions,
    plot_training_curves,
)
from nuwire.metrics import metrics_report
from nuwire.models import build_model, takes_sparse
from nuwire.occlusion import occlusion_map, patch_starts
from nuwire.provenance import provenance
from nuwire.sweep import SweepPoint, load_point_split

LOG = logging.getLogger(__name__)

KEY_COLUMNS = ["sample", "run", "subrun", "event"]
PREDICTION_COLUMNS = [*KEY_COLUMNS, "split", "label", "score", "category", "nu_energy", "lep_energy"]
FIGURES = ("roc", "scores", "efficiency", "confusion", "occlusion")
MAX_OCCLUSION_POSITIONS = 400  # forward passes per occlusion map; the stride grows to stay under it
SPARSE_OCCLUSION_SKIPPED = (
    "not computed for sparse models: occlusion slides a patch over a dense image, and a sparse model "
    "reads whole planes that are never densified"
)


class ImageSet(Protocol):
    """What evaluate() needs of `nuwire.data.SparseImageSet`."""

    labels: np.ndarray
    events: pd.DataFrame

    def __len__(self) -> int: ...

    def batch(self, idx: np.ndarray) -> list[Tensor]: ...

    def sparse_batch(self, idx: np.ndarray) -> list[Any]: ...


def device_setup(device: torch.device | str) -> DeviceSetup:
    """The placement training uses: bf16 autocast and channels_last on CUDA, plain fp32 on the CPU."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return DeviceSetup(dev, amp_dtype=None, channels_last=False, pin_memory=False)
    bf16 = torch.cuda.is_bf16_supported()
    return DeviceSetup(dev, amp_dtype=torch.bfloat16 if bf16 else None, channels_last=True, pin_memory=False)


@torch.no_grad()
def score_set(model: nn.Module, dataset: ImageSet, setup: DeviceSetup, batch_size: int = 64) -> np.ndarray:
    """Softmax probability of class 1 (νe CC) for every event of `dataset`, in its order (float64).

    The model must already be on setup.device and in eval mode."""
    n = len(dataset)
    scores: list[Tensor] = []
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(start + batch_size, n))
        views = dataset.sparse_batch(idx) if takes_sparse(model) else dataset.batch(idx)
        views = [setup.place_batch(v) for v in views]
        with setup.autocast():
            logits = model(*views)
        # Kept on the device until the end: a .cpu() per batch would wait for the GPU each time.
        scores.append(torch.softmax(logits.float(), dim=1)[:, 1])
    if not scores:
        return np.empty(0, dtype=np.float64)
    return torch.cat(scores).cpu().double().numpy()


def _check_scores(score: np.ndarray, split: str) -> None:
    bad = int((~np.isfinite(score)).sum())
    if bad:
        raise NuwireError(
            f"the model gives NaN or infinite scores for {bad} of {score.size} {split} events: its weights "
            "diverged in training (see history.csv; a NaN loss is the sign). Retrain with a lower learning "
            "rate, then evaluate again."
        )


def predictions_frame(dataset: ImageSet, score: np.ndarray, split: str) -> pd.DataFrame:
    events = dataset.events.reset_index(drop=True)
    frame = events[KEY_COLUMNS].copy()
    frame["split"] = split
    frame["label"] = np.asarray(dataset.labels, dtype=np.int64)
    frame["score"] = score
    for column in ("category", "nu_energy", "lep_energy"):
        frame[column] = events[column].to_numpy()
    return frame[PREDICTION_COLUMNS]


def pick_occlusion_events(labels: np.ndarray, score: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n highest-scored signal events, topped up with the highest-scored others:
    what the network takes for a νe CC interaction. Deterministic (stable sort)."""
    order = np.argsort(-score, kind="stable")
    signal_first = np.r_[order[labels[order] == 1], order[labels[order] != 1]]
    return signal_first[:n]


def occlusion_settings(shape: tuple[int, int], patch: int, stride: int | None, max_positions: int) -> tuple[int, int]:
    """(patch, stride) with at most max_positions patch positions on an image of `shape`: a bound
    on the cost per map. When the requested grid is larger, the stride grows (and the patch with
    it, so the patches still cover the image)."""
    height, width = shape
    stride = stride or patch

    def positions(p: int, s: int) -> int:
        return patch_starts(height, p, s).size * patch_starts(width, p, s).size

    n = positions(patch, stride)
    if n > max_positions:
        stride = math.ceil(stride * math.sqrt(n / max_positions))
        patch = max(patch, stride)
        while positions(patch, stride) > max_positions:
            stride += 1
            patch = max(patch, stride)
    return patch, stride


def _occlusion_panels(
    model: nn.Module, test_set: ImageSet, setup: DeviceSetup, score: np.ndarray, n: int, patch: int,
    stride: int | None, max_positions: int,
) -> tuple[list[OcclusionPanel], dict[str, Any]]:
    chosen = pick_occlusion_events(np.asarray(test_set.labels), score, n)
    events = test_set.events.reset_index(drop=True)
    planes = getattr(getattr(test_set, "view", None), "planes", None)  # SparseImageSet.view: ViewSpec
    panels: list[OcclusionPanel] = []
    used: dict[str, Any] = {"events": [], "patch": None, "stride": None}
    for i in chosen:
        views = [setup.place_batch(v) for v in test_set.batch(np.array([i]))]
        # The last view is the collection plane both for single-plane sets (planes=(2,)) and for
        # the three-plane ones (planes=(0, 1, 2)).
        view_index = len(views) - 1
        plane = int(planes[view_index]) if planes is not None else None
        p, s = occlusion_settings(tuple(views[view_index].shape[-2:]), patch, stride, max_positions)
        with setup.autocast():
            drop = occlusion_map(model, views, view_index, patch=p, stride=s)
        row = events.iloc[int(i)]
        key = f"{row['sample']} run {row['run']} subrun {row['subrun']} event {row['event']}"
        panels.append(OcclusionPanel(
            image=views[view_index][0, 0].float().cpu().numpy(), drop=drop, category=str(row["category"]),
            score=float(score[i]), label=f"{key}, " + (f"plane {plane}" if plane is not None else f"view {view_index}"),
        ))  # fmt: skip
        # .item(): plain Python numbers, so the returned metrics equal what metrics.json holds.
        keys = {k: row[k].item() if hasattr(row[k], "item") else row[k] for k in KEY_COLUMNS}
        used["events"].append(keys | {"view_index": view_index, "plane": plane})
        used["patch"], used["stride"] = p, s
    return panels, used


def evaluate(
    model: nn.Module,
    val_set: ImageSet,
    test_set: ImageSet,
    out_dir: Path,
    synthetic: bool,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
    n_occlusion: int = 3,
    provenance: dict[str, Any] | None = None,
    occlusion_patch: int = 8,
    occlusion_stride: int | None = None,
    max_occlusion_positions: int = MAX_OCCLUSION_POSITIONS,
) -> dict[str, Any]:
    """Score both sets, write predictions.parquet, metrics.json and the figures; return the metrics.

    The model is moved to `device` and left there, in eval mode.

    ``provenance`` keys (e.g. "training": train_meta, "point", "inputs") are added at the top level
    of metrics.json; they may not reuse the keys evaluate() writes. ``occlusion_patch`` is in
    pixels of the model's input image; the stride defaults to the patch size.
    """
    out_dir = Path(out_dir)
    provenance = dict(provenance or {})
    setup = device_setup(device)
    model = setup.place_model(model)
    model.eval()

    val_score = score_set(model, val_set, setup, batch_size)
    test_score = score_set(model, test_set, setup, batch_size)
    _check_scores(val_score, "validation")
    _check_scores(test_score, "test")
    val_y = np.asarray(val_set.labels, dtype=np.int64)
    test_y = np.asarray(test_set.labels, dtype=np.int64)

    report = metrics_report(val_y, val_score, test_y, test_score)
    chosen = report["threshold_choice"]["threshold"]
    test_at_chosen = report["test"]["thresholds"]["f1_opt_val"]
    LOG.info(
        "test: %d events, ROC AUC %s; val-chosen threshold %.4f gives accuracy %s, TPR %s, precision %s",
        len(test_y), report["test"]["roc_auc"], chosen, test_at_chosen["accuracy"], test_at_chosen["tpr"],
        test_at_chosen["precision"],
    )

    predictions = pd.concat(
        [predictions_frame(val_set, val_score, "val"), predictions_frame(test_set, test_score, "test")],
        ignore_index=True,
    )
    with atomic_path(out_dir / "predictions.parquet") as tmp:
        predictions.to_parquet(tmp, index=False)

    test_events = test_set.events.reset_index(drop=True)
    thresholds = {name: m["threshold"] for name, m in report["test"]["thresholds"].items()}
    plot_roc(test_y, test_score, report["test"], out_dir / "roc.png", synthetic)
    plot_score_distributions(test_score, test_events["category"].to_numpy(), out_dir / "scores.png", synthetic,
                             thresholds=thresholds)
    plot_efficiency(test_y, test_score, test_events["nu_energy"].to_numpy(), chosen, out_dir / "efficiency.png",
                    synthetic, title=f"Efficiency and purity at the val-chosen threshold {chosen:.3f} (test set)")
    plot_confusion(test_at_chosen, out_dir / "confusion.png", synthetic,
                   title=f"Confusion matrix at the val-chosen threshold, score ≥ {chosen:.3f} (test set)")
    if takes_sparse(model):
        LOG.info("occlusion maps %s", SPARSE_OCCLUSION_SKIPPED)
        panels, occlusion_used = [], {"events": [], "patch": None, "stride": None, "skipped": SPARSE_OCCLUSION_SKIPPED}
    else:
        panels, occlusion_used = _occlusion_panels(model, test_set, setup, test_score, n_occlusion, occlusion_patch,
                                                   occlusion_stride, max_occlusion_positions)
    plot_occlusion(panels, out_dir / "occlusion.png", synthetic, patch=occlusion_used["patch"],
                   stride=occlusion_used["stride"], note=textwrap.fill(occlusion_used.get("skipped") or "", 50) or None)

    payload: dict[str, Any] = {
        **report,
        "n_events": {"val": int(len(val_y)), "test": int(len(test_y))},
        "occlusion": occlusion_used,
        "synthetic": bool(synthetic),
    }
    clash = sorted(set(provenance) & set(payload))
    if clash:
        raise ValueError(f"provenance keys {clash} would overwrite evaluate's own metrics.json keys")
    payload.update(provenance)
    write_json(out_dir / "metrics.json", payload)
    return payload


def run_evaluate_job(
    index_path: str | os.PathLike[str],
    image_files: Sequence[str | os.PathLike[str]],
    weights: str | os.PathLike[str],
    meta: str | os.PathLike[str],
    history: str | os.PathLike[str],
    point: SweepPoint,
    settings: Mapping[str, Any],
    cuts: dict[str, dict[str, Any]],
    evaluate_settings: Mapping[str, Any],
    out_dir: Path,
    synthetic: bool,
) -> dict[str, Any]:
    """The `evaluate` rule: rebuild the trained model, score val and test, write everything."""
    train_meta = json.loads(Path(meta).read_text())
    model = build_model(train_meta["arch"], [tuple(s) for s in train_meta["input_shapes"]], **train_meta["hparams"])
    model.load_state_dict(checkpoint.load(weights))
    val_set = load_point_split(index_path, image_files, point, cuts, "val")
    test_set = load_point_split(index_path, image_files, point, cuts, "test")
    plot_training_curves(
        pd.read_csv(history), Path(out_dir) / "training_curves.png", synthetic, best_epoch=train_meta["best_epoch"]
    )
    manifest = Path(index_path).with_name("inputs.json")
    inputs = json.loads(manifest.read_text()) if manifest.exists() else []
    setup = select_device(str(settings.get("device", "auto")))
    return evaluate(
        model,
        val_set,
        test_set,
        Path(out_dir),
        synthetic=synthetic,
        device=setup.device,
        batch_size=int(evaluate_settings.get("batch_size", 64)),
        n_occlusion=int(evaluate_settings.get("occlusion_events", 3)),
        occlusion_patch=int(evaluate_settings.get("occlusion_patch", 8)),
        provenance={
            "point": point.as_dict(),
            "training": train_meta,
            "provenance": provenance({"point": point.as_dict(), "train": dict(settings), "cuts": cuts}, inputs),
        },
    )
