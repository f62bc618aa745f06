"""Training throughput per architecture on this machine's CPU, and a projection to one GPU.

Measured (`rows`): forward + backward + SGD step samples/s with batches of 16 on the CPU, at the
demo's input sizes — plane-2 vertex crops of 128×128 (config/config.yaml's sweep) and a whole
compact-geometry plane-2 image at scale 0.5 (1024 ticks × 500 wires, downsampled 2×2 by render,
then halved: 256×125); mvresnet takes three such views. Inputs are 95% zeros with 8-bit values / 255
elsewhere, like the rendered images. The rate is from the median step time after one warm-up
step, which damps the noise of a shared machine but does not remove it.

Projected (`projection`, NOT measured: there is no GPU here): the thesis dataset, 44,272 events ×
10 epochs, all counted as forward+backward training samples (an upper bound: validation is 15% of
the events and costs a forward pass only), at the demo sizes and at the thesis's whole plane-2
image at scale 0.5 (MicroBooNE 6400 ticks × 3456 wires → 1600×864; planes 0/1 → 1600×600).
Time on one GPU = the largest of three bounds, each resting on an assumption:
- arithmetic: training FLOPs per sample (torch's FlopCounterMode on the meta device: shapes only,
  no arithmetic) at GPU_TFLOPS sustained (bf16 autocast on an A100-class card; small convolutions
  at batch 16 reach a small fraction of the 312 TFLOP/s peak);
- launch: small models at batch 16 are bound by kernel launches and Python, GPU_STEP_FLOOR_S per step;
- transfer: float32 batches copied host→device at H2D_GBPS (pinned memory);
and the CPU side (sparse→dense batch assembly in loader workers) is assumed to keep up.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from nuwire.models import build_model, views_for

BATCH = 16
THREADS = 2  # the demo's train.threads
MIN_SECONDS = 1.5  # per measurement, after one warm-up step
MAX_STEPS = 20
EVENTS = 44_272  # thesis: 132,816 plane images / 3
EPOCHS = 10
GPU_TFLOPS = 40.0  # assumed sustained bf16 throughput, see module docstring
GPU_STEP_FLOOR_S = 0.004  # assumed minimum wall time per training step at batch 16
H2D_GBPS = 12.0  # assumed pinned host→device bandwidth, GB/s

CROP = [(128, 128)]  # plane-2 vertex crop at scale 0.5 (demo sweep)
COMPACT_WHOLE = [(256, 125)]  # compact geometry, plane 2, whole image, downsample 2×2, scale 0.5
COMPACT_WHOLE_3 = [(256, 106), (256, 106), (256, 125)]  # compact planes 0, 1, 2
THESIS_WHOLE = [(1600, 864)]  # MicroBooNE plane 2, downsample 2×2, scale 0.5
THESIS_WHOLE_3 = [(1600, 600), (1600, 600), (1600, 864)]

# The demo config's hparams (config/config.yaml); the models' defaults for the rest.
HPARAMS: dict[str, dict[str, Any]] = {
    "lenet": {},
    "alexnet": {},
    "vit": {"patch": 16, "dim": 32, "depth": 1, "heads": 2},
    "resnet": {"width": 16},
    "mvresnet": {"width": 16},
}


def _shapes(arch: str, single: list[tuple[int, int]], triple: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if views_for(arch) == 1:
        return single
    return triple if len(triple) == 3 else single * 3


def _label(shapes: list[tuple[int, int]]) -> str:
    return " + ".join(f"{h}x{w}" for h, w in shapes)


def _batch(shapes: list[tuple[int, int]], generator: torch.Generator) -> list[torch.Tensor]:
    views = []
    for shape in shapes:
        values = torch.randint(1, 256, (BATCH, 1, *shape), generator=generator).float() / 255
        mask = torch.rand((BATCH, 1, *shape), generator=generator) < 0.05
        views.append(values * mask)
    return views


def _step(model: torch.nn.Module, opt: torch.optim.Optimizer, *, views: list[torch.Tensor], y: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(*views), y)
    loss.backward()
    opt.step()


def measure_cpu(arch: str, shapes: list[tuple[int, int]]) -> dict[str, Any]:
    """Real training steps on the CPU: samples/s from the median step time."""
    torch.manual_seed(0)
    model = build_model(arch, shapes, **HPARAMS[arch])
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    views = _batch(shapes, generator)
    y = torch.randint(0, 2, (BATCH,), generator=generator)
    _step(model, opt, views=views, y=y)  # warm-up: oneDNN picks kernels for these shapes on first use
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < MAX_STEPS and (len(times) < 3 or time.perf_counter() - start < MIN_SECONDS):
        t0 = time.perf_counter()
        _step(model, opt, views=views, y=y)
        times.append(time.perf_counter() - t0)
    rate = BATCH / statistics.median(times)
    best_rate = BATCH / min(times)  # nearer an idle machine's rate when other jobs share the cores
    return {
        "arch": arch,
        "input": _label(shapes),
        "parameters": sum(p.numel() for p in model.parameters()),
        "cpu_samples_per_s": round(rate, 1),
        "cpu_samples_per_s_best_step": round(best_rate, 1),
        "cpu_samples_per_s_worst_step": round(BATCH / max(times), 1),
        "cpu_steps_timed": len(times),
        "cpu_hours_44k_x10": round(EVENTS * EPOCHS / rate / 3600, 2),
    }


def train_flops_per_sample(arch: str, shapes: list[tuple[int, int]]) -> float:
    """Forward + backward FLOPs of one sample, counted on the meta device (no memory, no arithmetic)."""
    with torch.device("meta"):
        model = build_model(arch, shapes, **HPARAMS[arch])
        views = [torch.empty(BATCH, 1, h, w) for h, w in shapes]
        with FlopCounterMode(display=False) as counter:
            model(*views).sum().backward()
    return counter.get_total_flops() / BATCH


def project_gpu(arch: str, shapes: list[tuple[int, int]]) -> dict[str, Any]:
    """PROJECTION (not measured) of 44,272 events × 10 epochs on one GPU; see module docstring."""
    samples = EVENTS * EPOCHS
    flops = train_flops_per_sample(arch, shapes)
    bytes_per_sample = 4 * sum(h * w for h, w in shapes)
    bounds = {
        "arithmetic": samples * flops / (GPU_TFLOPS * 1e12),
        "launch": samples / BATCH * GPU_STEP_FLOOR_S,
        "transfer": samples * bytes_per_sample / (H2D_GBPS * 1e9),
    }
    limit = max(bounds, key=bounds.__getitem__)
    return {
        "arch": arch,
        "input": _label(shapes),
        "train_gflop_per_sample": round(flops / 1e9, 3),
        "projected_gpu_minutes": round(bounds[limit] / 60, 1),
        "bound_by": limit,
    }


def run(whole_images: bool = True, threads: tuple[int, ...] = (THREADS,)) -> dict[str, Any]:
    """CPU rows at the demo's crop (and, with `whole_images`, whole compact images) for each torch
    thread count in `threads`; projections at all sizes."""
    measured = ((CROP, CROP), (COMPACT_WHOLE, COMPACT_WHOLE_3)) if whole_images else ((CROP, CROP),)
    rows = []
    for n in threads:
        # On a shared machine the thread count matters: OpenMP threads that wait at every barrier
        # for a thread descheduled by another job can make 2 threads far slower than 1.
        torch.set_num_threads(n)
        rows += [
            {"threads": n, **measure_cpu(arch, _shapes(arch, single, triple))}
            for single, triple in measured
            for arch in HPARAMS
        ]
    torch.set_num_threads(THREADS)
    projection = [
        project_gpu(arch, _shapes(arch, single, triple))
        for single, triple in ((CROP, CROP), (COMPACT_WHOLE, COMPACT_WHOLE_3), (THESIS_WHOLE, THESIS_WHOLE_3))
        for arch in HPARAMS
    ]
    return {
        "name": "train",
        "threads": list(threads),
        "batch_size": BATCH,
        "load_average_1min": round(os.getloadavg()[0], 2),  # other jobs share the cores: context for the rates
        "rows": rows,
        "projection": {
            "label": "PROJECTION, not measured: 44,272 events x 10 epochs on one GPU",
            "assumed_gpu_sustained_tflops": GPU_TFLOPS,
            "assumed_gpu_step_floor_s": GPU_STEP_FLOOR_S,
            "assumed_h2d_gb_per_s": H2D_GBPS,
            "assumes": "every event a forward+backward sample; CPU-side batch assembly keeps up; bf16 autocast",
            "rows": projection,
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
