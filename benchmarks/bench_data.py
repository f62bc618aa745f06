"""nuwire.images.image_set against the thesis route: RAM of the sparse set, and model-ready samples per second.

Thesis route: one PNG per sample, opened and decoded with Pillow, rescaled with nearest neighbour
and turned into a float tensor. Ours: `SparseImageSet` in RAM, densified per batch by `make_loader`.
Both deliver (16, 1, H, W) float32 batches of plane 2 at scale 0.5.

Without image files the benchmark makes its own plane-2 images at the default render size of the
MicroBooNE geometry (3200 time rows × 1728 wires after the 2× downsampling): cosmic tracks at
random angles, a neutrino vertex with tracks and a branching shower, and radiological blips, each
hit a pulse a few time rows tall, thresholded and saturated like the render (≈5% of pixels lit).
Given Parquet files, it uses their plane-2 images instead.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from PIL import Image

from nuwire.events.dataset import build_event_index
from nuwire.geometry import MICROBOONE
from nuwire.images.image_set import SparseImageSet, make_loader
from nuwire.images.render import IMAGE_SCHEMA, RenderParams, render_file
from nuwire.images.views import ViewSpec
from nuwire.simulate import simulate_file

SHAPE = (3200, 1728)  # plane 2, MicroBooNE, downsampled by 2 in time and wire
THRESHOLD, SATURATION = 10.0, 100.0  # ADC, as config/config.yaml renders
REAL_EVENTS = 44_272
BATCH, SCALE = 16, 0.5


def _hits(rng: np.random.Generator, r0: float, c0: float, *, angle: float, length: float, charge: float):
    """Points every half pixel along a straight segment, with a fluctuating charge per point."""
    t = np.arange(0.0, length, 0.5)
    q = charge * (1.0 + rng.exponential(0.3, len(t)))  # Landau-like upward tail
    return r0 + t * np.sin(angle), c0 + t * np.cos(angle), q


def synthetic_event(rng: np.random.Generator, shape: tuple[int, int] = SHAPE, n_cosmics: int = 100) -> np.ndarray:
    """One realistic-looking 8-bit plane image (see the module docstring)."""
    h, w = shape
    segs = []
    for _ in range(n_cosmics):
        segs.append(
            _hits(
                rng,
                rng.uniform(0, h),
                rng.uniform(0, w),
                angle=rng.uniform(0, np.pi),
                length=rng.uniform(300, 2500),
                charge=rng.uniform(25, 45),
            )
        )
    vr, vc = rng.uniform(0.3 * h, 0.7 * h), rng.uniform(0.2 * w, 0.8 * w)
    for _ in range(rng.integers(1, 4)):  # tracks from the vertex
        segs.append(_hits(rng, vr, vc, angle=rng.uniform(0, 2 * np.pi), length=rng.uniform(30, 400), charge=35))
    axis = rng.uniform(0, 2 * np.pi)  # shower: many short branches in a cone
    for _ in range(60):
        d = rng.uniform(0, 250)
        r0, c0 = vr + d * np.sin(axis), vc + d * np.cos(axis)
        segs.append(_hits(rng, r0, c0, angle=axis + rng.normal(0, 0.4), length=rng.uniform(5, 40), charge=30))
    r = np.concatenate([s[0] for s in segs] + [rng.uniform(0, h, 4000)])  # + blips
    c = np.concatenate([s[1] for s in segs] + [rng.uniform(0, w, 4000)])
    q = np.concatenate([s[2] for s in segs] + [rng.uniform(8, 40, 4000)])
    # Each hit: a deconvolved pulse over a few time rows on its wire, a little on the neighbours.
    adc = np.zeros(h * w, np.float32)
    rows, cols = np.floor(r).astype(np.int64), np.floor(c).astype(np.int64)
    for dr in range(-3, 4):
        for dc, share in ((0, 1.0), (-1, 0.15), (1, 0.15)):
            rr, cc = rows + dr, cols + dc
            ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            np.maximum.at(adc, rr[ok] * w + cc[ok], (q[ok] * share * np.exp(-dr * dr / 2.9)).astype(np.float32))
    scaled = np.clip((adc - THRESHOLD) / (SATURATION - THRESHOLD), 0.0, 1.0) * 255.0
    image = np.where(adc >= THRESHOLD, np.maximum(np.rint(scaled), 1), 0).astype(np.uint8)
    return image.reshape(h, w)


def _write_parquet(path: Path, images: list[np.ndarray]) -> pd.DataFrame:
    rows = []
    for e, dense in enumerate(images):
        r, c = np.nonzero(dense)
        h, w = dense.shape
        rows.append(
            dict(
                sample="bench",
                run=1,
                subrun=1,
                event=e,
                plane=2,
                height=h,
                width=w,
                row=r.astype(np.uint16),
                col=c.astype(np.uint16),
                value=dense[r, c],
            )
        )
    pq.write_table(pa.Table.from_pylist(rows, schema=IMAGE_SCHEMA), path, row_group_size=16, compression="zstd")
    return _events(pd.DataFrame({"sample": "bench", "run": 1, "subrun": 1, "event": range(len(images))}))


def _events(keys: pd.DataFrame) -> pd.DataFrame:
    events = keys.reset_index(drop=True).copy()
    events["label"] = np.arange(len(events)) % 2
    for p in range(3):
        events[f"reco_row_p{p}"] = np.nan  # crop falls back to the charge centroid
        events[f"reco_col_p{p}"] = np.nan
    return events


def _events_in(files: Sequence[Path], n_events: int) -> pd.DataFrame:
    keys = pd.concat(
        [
            pq.read_table(
                f, columns=["sample", "run", "subrun", "event", "plane"], filters=[("plane", "==", 2)]
            ).to_pandas()
            for f in files
        ]
    )
    return _events(keys.drop(columns="plane").drop_duplicates().head(n_events))


def _timed_epochs(step, n_samples: int, min_seconds: float) -> float:
    """Samples per second of `step(epoch)`, repeated for at least `min_seconds`."""
    done, t0, epoch = 0, time.perf_counter(), 0
    while True:
        step(epoch)
        done, epoch = done + n_samples, epoch + 1
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return done / elapsed


def _memory(files: Sequence[Path], events: pd.DataFrame) -> dict:
    """Occupancy, bytes per lit pixel and sparse/dense RAM of three views of plane 2."""
    memory = {}
    for name, view in {
        "plane2_scale1": ViewSpec((2,), 1.0),
        "plane2_scale0.5": ViewSpec((2,), SCALE),
        "plane2_scale0.5_crop128": ViewSpec((2,), SCALE, crop=128),
    }.items():
        t0 = time.perf_counter()
        ds = SparseImageSet.load(files, events, view)
        load_s = time.perf_counter() - t0
        plane = ds._planes[0]
        lit = int(plane.n_pix.sum())
        memory[name] = {
            "occupancy": lit / ds.dense_nbytes,
            "bytes_per_lit_pixel": ds.nbytes / max(lit, 1),
            "lit_pixels_per_token": lit / max(int(plane.n_tok.sum()), 1),
            "sparse_over_dense_uint8": ds.nbytes / ds.dense_nbytes,
            "coo_uint16_uint8_over_dense": 5 * lit / ds.dense_nbytes,  # plain row, col, value lists
            "MB_per_event": ds.nbytes / len(ds) / 1e6,
            "GB_for_all_real_events": ds.nbytes / len(ds) * REAL_EVENTS / 1e9,
            "load_events_per_s": len(ds) / load_s,
        }
    return memory


def _workflow_images(tmp: Path, n_events: int) -> tuple[list[Path], pd.DataFrame]:
    """Images of the workflow's own simulator and renderer (default config, MicroBooNE geometry)."""
    h5s, files, qcs = [], [], []
    for sample in ("nue", "bnb"):
        h5s.append(tmp / f"{sample}_WithWire_00.h5")
        files.append(h5s[-1].with_suffix(".parquet"))
        qcs.append(h5s[-1].with_suffix(".qc.json"))
        simulate_file(h5s[-1], sample, n_events, geometry=MICROBOONE, seed=1, file_index=0)
        render_file(h5s[-1], files[-1], qcs[-1], sample=h5s[-1].stem, params=RenderParams.from_config({}))
    return files, build_event_index(h5s, files, qcs, params=RenderParams.from_config({}))  # with reconstructed vertices


def _write_pngs(tmp: Path, files: Sequence[Path], events: pd.DataFrame) -> list[Path]:
    """The thesis's files: one PNG of the full-size plane-2 image per event."""
    full = SparseImageSet.load(files, events, ViewSpec((2,), 1.0))
    pngs = []
    for i in range(len(full)):
        dense = (full.batch(np.array([i]))[0][0, 0] * 255.0).round().to(torch.uint8).numpy()
        pngs.append(tmp / f"{i}.png")
        Image.fromarray(dense).save(pngs[-1])
    return pngs


def _throughput(
    files: Sequence[Path], events: pd.DataFrame, pngs: list[Path], *, seed: int, min_seconds: float
) -> dict:
    """Model-ready (16, 1, H, W) float32 batches of plane 2 at scale 0.5 per second, both routes."""
    ds = SparseImageSet.load(files, events, ViewSpec((2,), SCALE))
    h, w = ds.input_shapes[0]

    def consume(batch: torch.Tensor) -> None:
        # Both routes' batches are read once, as a model's first layer would: lazily zeroed pages
        # of the sparse set's batches are then paid for here, not hidden.
        float(batch.sum())

    def ours(epoch: int) -> None:
        for views, _, _ in make_loader(ds, BATCH, shuffle=True, seed=seed, epoch=epoch):
            assert views[0].shape[1:] == (1, h, w)
            consume(views[0])

    def thesis(epoch: int) -> None:
        order = np.random.default_rng((seed, epoch)).permutation(len(pngs))
        for k in range(0, len(order), BATCH):
            batch = []
            for i in order[k : k + BATCH]:
                with Image.open(pngs[i]) as im:
                    small = np.array(im.resize((w, h), Image.Resampling.NEAREST))
                batch.append(torch.from_numpy(small).to(torch.float32).div_(255.0))
            consume(torch.stack(batch)[:, None])

    ours_rate = _timed_epochs(ours, len(ds), min_seconds)
    thesis_rate = _timed_epochs(thesis, len(pngs), min_seconds)
    return {"sparse_set": ours_rate, "thesis_png": thesis_rate, "ratio": ours_rate / thesis_rate}


def run(
    parquet_files: Sequence[str | Path] | None = None, n_events: int = 32, *, seed: int = 0, min_seconds: float = 2.0
) -> dict:
    """Memory and throughput on generated images (or on the plane-2 images of `parquet_files`)."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        tmp = Path(tmp)
        result: dict = {"source": "parquet" if parquet_files else "synthetic tracks"}
        if parquet_files:
            files = [Path(f) for f in parquet_files]
            events = _events_in(files, n_events)
        else:
            rng = np.random.default_rng(seed)
            files = [tmp / "bench.parquet"]
            events = _write_parquet(files[0], [synthetic_event(rng) for _ in range(n_events)])
        result["events"] = len(events)
        result["memory"] = _memory(files, events)
        if not parquet_files:
            # The same for quiet events (fewer cosmics), and for the workflow's own simulation.
            quiet = [tmp / "quiet.parquet"]
            quiet_events = _write_parquet(quiet[0], [synthetic_event(rng, n_cosmics=30) for _ in range(n_events // 2)])
            result["memory_quiet_events"] = _memory(quiet, quiet_events)
            result["memory_workflow_simulation"] = _memory(*_workflow_images(tmp, max(n_events // 8, 1)))
        pngs = _write_pngs(tmp, files, events)
        result["png_kB_mean"] = float(np.mean([p.stat().st_size for p in pngs]) / 1e3)
        result["samples_per_s"] = _throughput(files, events, pngs, seed=seed, min_seconds=min_seconds)
        result.update(batch=BATCH, scale=SCALE)
        return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
