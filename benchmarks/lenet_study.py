"""Why the thesis's LeNet put every event in one class: one change at a time, on synthetic data.

Makes (once) a compact-geometry synthetic dataset through the workflow's own code path —
`nuwire.simulate.simulate_file` → `nuwire.images.render.render_file` → `nuwire.events.dataset.build_event_index` —
then trains LeNet variants with `nuwire.learn.train.train` and scores each one's best-validation weights.
Every variant differs from the thesis-faithful baseline (no activation, average pools, SGD lr 5e-4,
momentum 0.9, batch 16, 10 epochs, inputs 8-bit/255, whole plane-2 image at scale 0.5) in one
respect, except the rows marked as combinations. See docs/lenet.md for the results and reading.

    .venv/bin/python benchmarks/lenet_study.py                       # all variants, seeds 1 and 2
    .venv/bin/python benchmarks/lenet_study.py --only thesis relu    # a few
    .venv/bin/python benchmarks/lenet_study.py --data /tmp/lenet-data --out /tmp/lenet-out --seeds 1
    .venv/bin/python benchmarks/lenet_study.py --diagnose    # only the two diagnosis tables
    .venv/bin/python benchmarks/lenet_study.py --table       # every stored result, all seeds, no training

Columns of the printed table (per variant; per-seed values in OUT/results.json): val AUC of the
best epoch (per seed; optimistic, since it also picked the epoch), test AUC of the same weights
(mean over seeds), the fraction of validation events the weights put in the signal class (argmax,
per seed; the validation set is 41% signal, 27% after the top50 cut), the spread (standard
deviation) of the signal probability over validation events (≈0 means the network answers the
same for every event), and the training loss of the first and last epoch. One training of the
default data at scale 0.5 takes about a minute on one CPU thread (`--threads`, default 1).
Results are reused by (variant, seed) from OUT/results.json: use a new --out after changing
--files or --events.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from nuwire.events.cuts import CutSpec, select_events
from nuwire.events.dataset import build_event_index, read_event_index, write_event_index
from nuwire.geometry import COMPACT
from nuwire.images.image_set import SparseImageSet, make_loader
from nuwire.images.render import RenderParams, render_file
from nuwire.images.views import ViewSpec
from nuwire.learn.train import TrainConfig, TrainOutputs, train
from nuwire.models import build_model
from nuwire.simulate import file_name, simulate_file

SIM_SEED = 11
THESIS_TRAIN = {"optimizer": "sgd", "lr": 5e-4, "momentum": 0.9, "batch_size": 16, "epochs": 10}
FULL = CutSpec(name="full", signal_lep_energy_quantile=0.0)
TOP50 = CutSpec(name="top50", signal_lep_energy_quantile=0.5)


@dataclass(frozen=True)
class Variant:
    name: str
    change: str  # what differs from the thesis-faithful baseline, for the table
    hparams: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides
    scale: float = 0.5
    crop: int | None = None
    gain: float = 1.0  # inputs multiplied by this (255: raw 8-bit values instead of /255)
    cut: CutSpec = FULL


RELU_BN = {"activation": "relu", "batchnorm": True}
FIX = {**RELU_BN, "global_pool": "max"}  # the fix proposed in docs/lenet.md
VARIANTS = [
    Variant("thesis", "none: thesis-faithful (no activation, avg pools, SGD 5e-4)"),
    # input size and value scale
    Variant("scale1", "whole image at scale 1.0 (512×250)", scale=1.0),
    Variant("crop64", "64×64 vertex crop at scale 0.5", crop=64),
    Variant("x255", "inputs 0–255 instead of 0–1", gain=255.0),
    # pooling
    Variant("maxpool", "max inner pools", {"pool": "max"}),
    Variant("gmax", "global max pool", {"global_pool": "max"}),
    # learning rate / optimiser
    Variant("lr5e-3", "SGD lr 5e-3", train={"lr": 5e-3}),
    Variant("lr5e-2", "SGD lr 5e-2", train={"lr": 5e-2}),
    Variant("adam", "Adam lr 1e-3", train={"optimizer": "adam", "lr": 1e-3}),
    # class balance
    Variant("balanced", "class-weighted loss", train={"class_weights": "balanced"}),
    Variant("top50", "top50 cut (34% signal)", cut=TOP50),
    # activations and normalisation
    Variant("relu", "ReLU after each conv", {"activation": "relu"}),
    Variant("tanh", "tanh after each conv", {"activation": "tanh"}),
    Variant("bn", "batch norm after each conv (no activation)", {"batchnorm": True}),
    Variant("relu_bn", "ReLU + batch norm", RELU_BN),
    # combinations
    Variant("relu_bn_top50", "ReLU + batch norm, top50 cut", RELU_BN, cut=TOP50),
    Variant("relu_lr5e-3", "ReLU, SGD lr 5e-3", {"activation": "relu"}, train={"lr": 5e-3}),
    Variant("relu_gmax", "ReLU + global max pool", {"activation": "relu", "global_pool": "max"}),
    Variant("bn_gmax", "batch norm + global max pool (no activation)", {"batchnorm": True, "global_pool": "max"}),
    Variant("relu_bn_gmax", "**the fix**: ReLU + batch norm + global max pool", FIX),
    Variant("relu_bn_allmax", "the fix with max inner pools too", {**FIX, "pool": "max"}),
    Variant("fix_top50", "the fix, top50 cut", FIX, cut=TOP50),
    Variant("fix_scale1", "the fix, whole image at scale 1.0 (512×250)", FIX, scale=1.0),
]


# ------------------------------------------------------------------------------------ data


def make_data(directory: Path, n_files: int, n_events: int) -> Path:
    """Simulate, render and index `n_files` bnb + `n_files` nue compact files; return the index path."""
    index_path = directory / "events.parquet"
    if index_path.exists():
        return index_path
    directory.mkdir(parents=True, exist_ok=True)
    params = RenderParams.from_config({})
    h5_files = []
    for sample in ("bnb", "nue"):
        for i in range(n_files):
            h5 = directory / file_name(sample, i)
            if not h5.exists():
                simulate_file(h5, sample, n_events, geometry=COMPACT, seed=SIM_SEED, file_index=i)
            render_file(h5, h5.with_suffix(".parquet"), h5.with_suffix(".qc.json"), sample=h5.stem, params=params)
            h5_files.append(h5)
            print(f"data: {h5.name}", file=sys.stderr, flush=True)
    index = build_event_index(
        h5_files,
        [h.with_suffix(".parquet") for h in h5_files],
        [h.with_suffix(".qc.json") for h in h5_files],
        params=params,
    )
    write_event_index(index, index_path)
    return index_path


class Scaled:
    """A SparseImageSet whose batches are multiplied by `gain` (duck-types what train() uses)."""

    def __init__(self, ds: SparseImageSet, gain: float) -> None:
        self.ds, self.gain = ds, gain
        self.labels, self.events, self.input_shapes = ds.labels, ds.events, ds.input_shapes

    def __len__(self) -> int:
        return len(self.ds)

    def batch(self, idx: np.ndarray) -> list[torch.Tensor]:
        return [v * self.gain for v in self.ds.batch(idx)]


_CACHE: dict[tuple, SparseImageSet] = {}


def load_split(index: pd.DataFrame, images: list[Path], v: Variant, *, split: str) -> SparseImageSet:
    key = (v.scale, v.crop, v.cut, split)
    if key not in _CACHE:
        events = select_events(index, split, v.cut)
        _CACHE[key] = SparseImageSet.load(images, events, ViewSpec(planes=(2,), scale=v.scale, crop=v.crop))
    return _CACHE[key]


# ------------------------------------------------------------------------------------ runs


@torch.no_grad()
def signal_scores(model: torch.nn.Module, ds: Any) -> np.ndarray:
    model.eval()
    out = [
        torch.softmax(model(*views), dim=1)[:, 1] for views, _, _ in make_loader(ds, 64, shuffle=False, seed=0, epoch=0)
    ]
    return torch.cat(out).numpy()


def run_variant(v: Variant, seed: int, *, index: pd.DataFrame, images: list[Path], threads: int) -> dict[str, Any]:
    sets = {s: Scaled(load_split(index, images, v, split=s), v.gain) for s in ("train", "val", "test")}
    settings = {"hparams": v.hparams, **THESIS_TRAIN, **v.train, "seed": seed, "threads": threads, "device": "cpu"}
    cfg = TrainConfig.from_settings("lenet", settings)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        outputs = TrainOutputs(out / "best.pt", out / "history.csv", out / "train_meta.json", out / "ckpt")
        meta = train(cfg, sets["train"], sets["val"], outputs=outputs)
        history = pd.read_csv(outputs.history)
        model = build_model("lenet", sets["train"].input_shapes, **v.hparams)
        model.load_state_dict(torch.load(outputs.weights, weights_only=True))
    result: dict[str, Any] = {
        "variant": v.name,
        "seed": seed,
        "best_epoch": meta["best_epoch"],
        "train_loss_first": float(history["train_loss"].iloc[0]),
        "train_loss_last": float(history["train_loss"].iloc[-1]),
        "seconds": round(time.perf_counter() - start, 1),
    }
    for split in ("val", "test"):
        scores, labels = signal_scores(model, sets[split]), sets[split].labels
        result[f"{split}_auc"] = float(roc_auc_score(labels, scores))
        result[f"{split}_frac_signal"] = float((scores > 0.5).mean())
        result[f"{split}_score_std"] = float(scores.std())
        result[f"{split}_true_signal"] = float(labels.mean())
    return result


INIT_VARIANTS = ["thesis", "x255", "relu", "gmax", "bn", "bn_gmax", "relu_bn", "relu_bn_gmax"]


@torch.no_grad()
def diagnose(index: pd.DataFrame, images: list[Path], seed: int = 1) -> str:
    """How much the untrained network's output depends on the event at all: the standard deviation,
    over the validation events, of the logit difference (signal − background) and of the signal
    probability, in training mode (batch norm on batch statistics, as in the first step). Then the
    AUC of single image statistics, i.e. what a network that only counts charge can reach."""
    ds = load_split(index, images, VARIANTS[0], split="val")
    x = ds.batch(np.arange(len(ds)))[0]
    lines = [
        f"Validation inputs: mean pixel {x.mean():.4f}, {float((x > 0).float().mean()):.1%} of pixels lit.",
        "",
        "| variant | logit-difference spread at initialisation | signal-probability spread |",
        "| --- | ---: | ---: |",
    ]
    by_name = {v.name: v for v in VARIANTS}
    for name in INIT_VARIANTS:
        torch.manual_seed(seed)
        model = build_model("lenet", ds.input_shapes, **by_name[name].hparams).train()
        logits = model(x * by_name[name].gain)
        diff = logits[:, 1] - logits[:, 0]
        lines.append(f"| `{name}` | {float(diff.std()):.1e} | {float(torch.softmax(logits, 1)[:, 1].std()):.1e} |")
    lines += [
        "",
        "What a network that can only count charge could reach (ROC AUC of one number per image; "
        "below 0.5: signal has less of it):",
        "",
        "| image statistic | val AUC | test AUC |",
        "| --- | ---: | ---: |",
    ]
    stats = {
        "total charge (sum of pixels)": lambda t: t.sum(dim=(1, 2, 3)),
        "lit pixels": lambda t: (t > 0).sum(dim=(1, 2, 3)).float(),
        "brightest pixel": lambda t: t.amax(dim=(1, 2, 3)),
    }
    sets = {s: load_split(index, images, VARIANTS[0], split=s) for s in ("val", "test")}
    images_of = {s: d.batch(np.arange(len(d)))[0] for s, d in sets.items()}
    for label, stat in stats.items():
        aucs = [roc_auc_score(sets[s].labels, stat(images_of[s]).numpy()) for s in ("val", "test")]
        lines.append(f"| {label} | {aucs[0]:.2f} | {aucs[1]:.2f} |")
    return "\n".join(lines)


def table(results: list[dict[str, Any]]) -> str:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_name.setdefault(r["variant"], []).append(r)
    lines = [
        "| variant | change from the thesis-faithful LeNet | val AUC | test AUC | val predicted signal "
        "| val score spread | train loss first → last |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    changes = {v.name: v.change for v in VARIANTS}
    for name, rs in by_name.items():

        def mean(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return statistics.fmean(r[key] for r in rs)

        aucs = " / ".join(f"{r['val_auc']:.2f}" for r in rs)
        fracs = " / ".join(f"{r['val_frac_signal']:.2f}" for r in rs)
        lines.append(
            f"| `{name}` | {changes.get(name, '')} | {aucs} | {mean('test_auc'):.2f} | {fracs} "
            f"| {mean('val_score_std'):.2g} | {mean('train_loss_first'):.3f} → {mean('train_loss_last'):.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "nuwire-lenet-study" / "data")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nuwire-lenet-study")
    parser.add_argument("--files", type=int, default=6, help="files per sample (bnb and nue)")
    parser.add_argument("--events", type=int, default=50, help="events per file")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (training and diagnosis)")
    parser.add_argument("--only", nargs="+", help="variant names (default: all, then the diagnosis tables)")
    parser.add_argument("--diagnose", action="store_true", help="only print the initialisation and charge-only tables")
    parser.add_argument("--table", action="store_true", help="only print the table of every result in OUT, no training")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)  # train() sets it again; this covers data making and diagnose()
    variants = [v for v in VARIANTS if not args.only or v.name in args.only]
    if args.only and len(variants) != len(args.only):
        parser.error(f"unknown variant in {args.only}; known: {[v.name for v in VARIANTS]}")

    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else []
    order = {v.name: i for i, v in enumerate(VARIANTS)}
    if args.table:
        print(table(sorted(results, key=lambda r: (order.get(r["variant"], 99), r["seed"]))))
        return

    index_path = make_data(args.data, args.files, args.events)
    index = read_event_index(index_path)
    images = sorted(args.data.glob("*.parquet"))
    images.remove(index_path)
    if args.diagnose:
        print(diagnose(index, images))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    done = {(r["variant"], r["seed"]) for r in results}
    for v in variants:
        for seed in args.seeds:
            if (v.name, seed) in done:
                continue
            r = run_variant(v, seed, index=index, images=images, threads=args.threads)
            print(json.dumps(r), file=sys.stderr, flush=True)
            results.append(r)
            results_path.write_text(json.dumps(results, indent=1))
    wanted = {v.name for v in variants}
    shown = sorted(
        (r for r in results if r["variant"] in wanted and r["seed"] in args.seeds),
        key=lambda r: (order.get(r["variant"], 99), r["seed"]),
    )
    print(table(shown))
    if not args.only:
        print()
        print(diagnose(index, images))


if __name__ == "__main__":
    main()
