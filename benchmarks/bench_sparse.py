"""Sparse against dense ResNet on the same images: whole full-resolution plane-2 images and the demo's crops.

Inputs: the benchmark's synthetic MicroBooNE files (full geometry), rendered with the default
parameters (2 × 2 downsample: plane 2 is 3200 time rows × 1728 wires) and loaded by
`SparseImageSet` twice: whole planes at scale 1.0, and the demo sweep's 128 × 128 vertex crops at
scale 0.5. `sparse_resnet` and `resnet` of the same width and blocks (the demo's width 16,
[2, 2, 2, 2]) train on the same events: one step = batch assembly from the in-RAM set (sparse
batch, or the dense (B, 1, H, W) tensor) + forward + backward + SGD step; samples/s from the
median step after one warm-up step each, with 1 and 2 torch threads.

Peak memory per sample: each (model, input) runs in a fresh process; the kernel's resident-set
high-water mark is reset (/proc/self/clear_refs) after loading the data and building the model,
and (VmHWM − VmRSS before the step) / batch after one training step is what the step needed.

The two routes alternate step by step, and the ratio is taken round by round (a sparse step and the
dense step right after it), since other jobs share the cores.

Dense FLOPs: torch's FlopCounterMode on the meta device (`bench_train.train_flops_per_sample`).
Sparse FLOPs: 2 · C_in · C_out per rulebook pair of every convolution, × 3 for forward + backward.

Projected (NOT measured, no GPU here): 44,272 events × 10 epochs on one GPU for the sparse model,
as the largest of: arithmetic at bench_train.GPU_TFLOPS; memory traffic of the gathers and
scatter-adds (each rulebook pair reads a C_in row and writes a C_out row, ×3 for backward) at
GPU_GBPS; one kernel launch per ATen op (counted in a real step) at LAUNCH_S each; the host→device
copy of coordinates and values at bench_train.H2D_GBPS. The dense row is bench_train.project_gpu.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks import bench_train, load_average, spread

ROOT = Path(__file__).resolve().parent.parent
HPARAMS = {"width": 16, "blocks": [2, 2, 2, 2]}  # the demo's resnet width; both models alike
BATCH = {("sparse", "whole"): 4, ("dense", "whole"): 1, ("sparse", "crop"): 16, ("dense", "crop"): 16}
MIN_SECONDS = 1.5
MIN_ROUNDS = {"whole": 3, "crop": 5}  # rounds of one step per route
MAX_STEPS = 20
GPU_GBPS = 500.0  # assumed effective bandwidth of gathers and scatter-adds (a fraction of HBM's peak)
LAUNCH_S = 10e-6  # assumed host cost per ATen op on the GPU (dispatch + kernel launch)
ARCH = {"sparse": "sparse_resnet", "dense": "resnet"}
INPUTS = {"whole": "whole plane 2, scale 1.0", "crop": "vertex crop 128 × 128, scale 0.5"}


def _view(name: str) -> Any:
    from nuwire.images.views import ViewSpec

    return ViewSpec(planes=(2,), scale=1.0) if name == "whole" else ViewSpec(planes=(2,), scale=0.5, crop=128)


def prepare(h5_files: Sequence[Path], directory: Path) -> Path:
    """Render the files into `directory` and write their event index there; returns the index path."""
    from nuwire.events.dataset import build_event_index
    from nuwire.images.render import RenderParams, render_file

    params = RenderParams.from_config({})
    images, qcs = (
        [directory / f"{h5.stem}.parquet" for h5 in h5_files],
        [directory / f"{h5.stem}.qc.json" for h5 in h5_files],
    )
    for h5, image, qc in zip(h5_files, images, qcs):
        render_file(h5, image, qc, sample=h5.stem, params=params)
    index = build_event_index(h5_files, images, qcs, params=params)
    path = directory / "events.parquet"
    index.to_parquet(path)
    return path


def load(index_path: Path, input_name: str) -> Any:
    import pandas as pd

    from nuwire.images.image_set import SparseImageSet

    images = sorted(index_path.parent.glob("*_WithWire_*.parquet"))
    return SparseImageSet.load(images, pd.read_parquet(index_path), _view(input_name))


def _trainer(route: str, ds: Any, batch: int) -> tuple[torch.nn.Module, Callable[[int], None]]:
    from nuwire.models import build_model

    torch.manual_seed(0)
    model = build_model(ARCH[route], ds.input_shapes, **HPARAMS).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    labels = torch.from_numpy(ds.labels)

    def step(k: int) -> None:
        idx = (np.arange(batch) + k * batch) % len(ds)
        views = ds.sparse_batch(idx) if route == "sparse" else ds.batch(idx)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(*views), labels[idx]).backward()
        opt.step()

    return model, step


def measure(input_name: str, ds: Any) -> tuple[list[dict[str, Any]], list[float]]:
    """Both routes on one input, interleaved step by step (sparse, dense, sparse, dense, …) so that a
    change in the machine's load hits both alike; returns their rows and the per-round ratios."""
    routes = ("sparse", "dense")
    steps = {route: _trainer(route, ds, BATCH[(route, input_name)])[1] for route in routes}
    for step in steps.values():
        step(0)  # warm-up: first-use kernel selection and allocations
    times: dict[str, list[float]] = {route: [] for route in routes}
    start = time.perf_counter()
    while len(times["sparse"]) < MAX_STEPS and (
        len(times["sparse"]) < MIN_ROUNDS[input_name] or time.perf_counter() - start < MIN_SECONDS
    ):
        for route in routes:
            t0 = time.perf_counter()
            steps[route](len(times[route]) + 1)
            times[route].append(time.perf_counter() - t0)
    rows = []
    for route in routes:
        batch, t = BATCH[(route, input_name)], times[route]
        rows.append(
            {
                "route": route,
                "arch": ARCH[route],
                "input": input_name,
                "threads": torch.get_num_threads(),
                "batch": batch,
                "samples_per_s": round(batch / statistics.median(t), 2),
                "samples_per_s_worst_step": round(batch / max(t), 2),
                "samples_per_s_best_step": round(batch / min(t), 2),
                "steps_timed": len(t),
            }
        )
    ratios = [
        (BATCH[("sparse", input_name)] / ts) / (BATCH[("dense", input_name)] / td)
        for ts, td in zip(times["sparse"], times["dense"], strict=True)
    ]
    return rows, ratios


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {key}")


def peak_memory_child(route: str, index_path: Path) -> list[dict[str, Any]]:
    """In a fresh process: resident memory one training step adds, per sample (see module docstring).
    The crops go first: what their step leaves in the allocator's free lists is small beside a whole
    plane's needs, so it barely hides any of the second measurement."""
    torch.set_num_threads(1)
    out = []
    for input_name in ("crop", "whole"):
        ds = load(index_path, input_name)
        batch = BATCH[(route, input_name)]
        _, step = _trainer(route, ds, batch)
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
        before = _status_kb("VmRSS")
        step(0)
        out.append(
            {
                "route": route,
                "input": input_name,
                "batch": batch,
                "peak_MB_per_sample": round((_status_kb("VmHWM") - before) / 1024 / batch, 1),
            }
        )
    return out


def peak_memory(route: str, index_path: Path) -> list[dict[str, Any]]:
    code = (
        "import json, sys; from pathlib import Path; from benchmarks import bench_sparse as b; "
        "print(json.dumps(b.peak_memory_child(sys.argv[1], Path(sys.argv[2]))))"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code, route, str(index_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


class _OpCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204, PLR0917 (torch calls it so)
        self.ops += 1
        return func(*args, **(kwargs or {}))


def sparse_work(ds: Any, batch: int) -> dict[str, float]:
    """Per sample of one real training step: FLOPs and bytes moved by the sparse convolutions, sites
    per level, and ATen ops per step."""
    from nuwire.sparse import SparseConv2d, SubmanifoldConv2d

    model, _ = _trainer("sparse", ds, batch)
    pairs: list[tuple[int, int, int]] = []

    def hook(module: torch.nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        x = inputs[0]
        key = (
            ("submanifold", module.kernel_size)
            if isinstance(module, SubmanifoldConv2d)
            else ("strided", module.kernel_size, module.stride, module.padding)
        )
        rules = x.rules[key] if key[0] == "submanifold" else x.rules[key][1]
        pairs.append((sum(len(src) for src, _ in rules), module.in_channels, module.out_channels))

    for m in model.modules():
        if isinstance(m, SubmanifoldConv2d | SparseConv2d):
            m.register_forward_hook(hook)
    views = ds.sparse_batch(np.arange(batch) % len(ds))
    sites = len(views[0])
    with _OpCounter() as counter:
        F.cross_entropy(model(*views), torch.from_numpy(ds.labels[np.arange(batch) % len(ds)])).backward()
    flops = 3 * sum(2 * n * ci * co for n, ci, co in pairs)
    moved = 3 * sum(4 * n * (ci + co) for n, ci, co in pairs)
    return {
        "train_gflop_per_sample": flops / batch / 1e9,
        "gather_scatter_MB_per_sample": moved / batch / 1e6,
        "input_sites_per_sample": sites / batch,
        "aten_ops_per_step": counter.ops,
        "batch": batch,
    }


def project_sparse(work: dict[str, float], batch: int = 16) -> dict[str, Any]:
    """PROJECTION (not measured) of 44,272 events × 10 epochs on one GPU, batches of `batch`."""
    samples = bench_train.EVENTS * bench_train.EPOCHS
    bounds = {
        "arithmetic": samples * work["train_gflop_per_sample"] * 1e9 / (bench_train.GPU_TFLOPS * 1e12),
        "memory": samples * work["gather_scatter_MB_per_sample"] * 1e6 / (GPU_GBPS * 1e9),
        "launch": samples / batch * work["aten_ops_per_step"] * LAUNCH_S,
        "transfer": samples * work["input_sites_per_sample"] * 28 / (bench_train.H2D_GBPS * 1e9),  # 3 int64 + 1 f32
    }
    limit = max(bounds, key=bounds.__getitem__)
    return {
        "arch": "sparse_resnet",
        "train_gflop_per_sample": round(work["train_gflop_per_sample"], 3),
        "projected_gpu_minutes": round(bounds[limit] / 60, 1),
        "bound_by": limit,
        "bounds_minutes": {k: round(v / 60, 2) for k, v in bounds.items()},
    }


def run(h5_files: Sequence[Path], threads: Sequence[int] = (1, 2)) -> dict[str, Any]:
    before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench_sparse_") as tmp:
        index_path = prepare(h5_files, Path(tmp))
        sets = {name: load(index_path, name) for name in INPUTS}
        rows, ratios = [], {}
        for n in threads:
            torch.set_num_threads(n)
            for input_name, ds in sets.items():
                print(f"bench_sparse: {input_name}, {n} thread(s)", flush=True)
                pair, ratio = measure(input_name, ds)
                rows += pair
                ratios[f"{input_name}_{n}"] = spread(ratio, 2)
        torch.set_num_threads(max(threads))
        peaks = [p for route in ("sparse", "dense") for p in peak_memory(route, index_path)]
        work = {name: sparse_work(sets[name], BATCH[("sparse", name)]) for name in INPUTS}
        whole = sets["whole"]
        shape = whole.input_shapes[0]
        occupancy = float(np.mean(whole._planes[0].n_pix)) / (shape[0] * shape[1])
        n_events = {name: len(ds) for name, ds in sets.items()}
    # bench_train counts and projects its demo-width resnet, which is this benchmark's dense twin.
    assert {"blocks": [2, 2, 2, 2], **bench_train.HPARAMS["resnet"]} == HPARAMS
    dense_flops = {
        name: bench_train.train_flops_per_sample("resnet", [sets[name].input_shapes[0]]) / 1e9 for name in INPUTS
    }
    return {
        "name": "sparse",
        "hparams": HPARAMS,
        "inputs": {
            name: {"label": INPUTS[name], "shape": list(sets[name].input_shapes[0]), "events": n_events[name]}
            for name in INPUTS
        },
        "whole_plane_occupancy": round(occupancy, 5),
        "rows": rows,
        "sparse_over_dense": ratios,
        "target": {"whole_sparse_over_dense": 10.0},
        "peak_memory": peaks,
        "dense_train_gflop_per_sample": {k: round(v, 2) for k, v in dense_flops.items()},
        "sparse_work": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in work.items()},
        "dense_achieved_gflop_per_s": {  # dense FLOPs × measured dense rate: how busy the CPU's convolutions are
            f"{r['input']}_{r['threads']}": round(dense_flops[r["input"]] * r["samples_per_s"], 1)
            for r in rows
            if r["route"] == "dense"
        },
        "load_average_before": before,
        "load_average_after": load_average(),
        "projection": {
            "label": "PROJECTION, not measured: 44,272 events x 10 epochs on one GPU",
            "assumed": {
                "gpu_sustained_tflops": bench_train.GPU_TFLOPS,
                "gather_scatter_gb_per_s": GPU_GBPS,
                "host_s_per_aten_op": LAUNCH_S,
                "h2d_gb_per_s": bench_train.H2D_GBPS,
                "batch": 16,
            },
            "rows": [{**project_sparse(work[name]), "input": name} for name in INPUTS]
            + [{**bench_train.project_gpu("resnet", [sets[name].input_shapes[0]]), "input": name} for name in INPUTS],
        },
    }


if __name__ == "__main__":
    files = sorted((ROOT / "results" / "benchmarks" / "data").glob("*.h5"))[:2]
    print(json.dumps(run(files), indent=2))
