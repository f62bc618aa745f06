"""Rendering at 1×, 2× and 4× the events, with 1 and 2 worker processes.

Each input file is one `render_file` task, as one Snakemake render job is; the tasks go to a pool
of worker processes (spawned and warmed up before the clock starts, so interpreter start-up is not
counted). The cost per event must stay flat as the event count grows: no step of rendering may be
worse than linear in the events of a file or the files of a run. With 2 workers the wall time shows
what the second core gives on this machine (other jobs share it: see the load average).
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import load_average, spread
from nuwire.images.render import RenderParams, render_file

FLAT_TOLERANCE = 1.25  # per-event cost at 4× within 25% of the cost at 1×


def _warm() -> None:
    import nuwire.images.render  # noqa: F401  (import cost paid before timing)


def _render_one(h5: str, out_dir: str, params: RenderParams) -> int:
    stem, out = Path(h5).stem, Path(out_dir)
    return render_file(h5, out / f"{stem}.parquet", out / f"{stem}.qc.json", sample=stem, params=params)["rendered"]


def _timed_pool(
    pool: ProcessPoolExecutor, files: Sequence[Path], out: Path, *, params: RenderParams
) -> tuple[int, float]:
    start = time.perf_counter()
    events = sum(pool.map(_render_one, [str(f) for f in files], [str(out)] * len(files), [params] * len(files)))
    return events, time.perf_counter() - start


def run(files: Sequence[str | Path], params: RenderParams | None = None, repeats: int = 2) -> dict[str, Any]:
    """`files` are the 4× set; 1× is its first quarter and 2× its first half (whole files)."""
    params = params or RenderParams.from_config({})
    files = [Path(f) for f in files]
    sizes = {"1x": files[: max(1, len(files) // 4)], "2x": files[: max(1, len(files) // 2)], "4x": files}
    plan = [(1, "1x"), (1, "2x"), (1, "4x"), (2, "2x"), (2, "4x")]
    rows = []
    load_before = load_average()
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench_scaling_") as tmp:
        pools = {w: ProcessPoolExecutor(max_workers=w, mp_context=ctx, initializer=_warm) for w in (1, 2)}
        try:
            for w, pool in pools.items():
                # Start every worker and let each render once untimed: first calls pay lazy imports.
                list(pool.map(_warm_task, range(w)))
                # One output directory per worker: two writers of one output would race.
                warm_dirs = [Path(tmp) / f"warm{w}-{i}" for i in range(w)]
                for d in warm_dirs:
                    d.mkdir()
                list(pool.map(_render_one, [str(files[0])] * w, [str(d) for d in warm_dirs], [params] * w))
            for workers, size in plan:
                times, events = [], 0
                for _ in range(repeats):
                    events, seconds = _timed_pool(pools[workers], sizes[size], Path(tmp), params=params)
                    times.append(seconds)
                rows.append(
                    {
                        "workers": workers,
                        "size": size,
                        "files": len(sizes[size]),
                        "events": events,
                        "wall_s": spread(times, 2),
                        "wall_s_per_event": spread((t / events for t in times), 3),
                    }
                )
        finally:
            for pool in pools.values():
                pool.shutdown()
    per_event = {(r["workers"], r["size"]): r["wall_s_per_event"]["median"] for r in rows}
    growth = per_event[(1, "4x")] / per_event[(1, "1x")]
    return {
        "name": "scaling",
        "rows": rows,
        "per_event_4x_over_1x": round(growth, 3),
        "flat": growth <= FLAT_TOLERANCE,
        "flat_tolerance": FLAT_TOLERANCE,
        "speedup_2_workers_4x": round(per_event[(1, "4x")] / per_event[(2, "4x")], 2),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


def _warm_task(_: int) -> None:
    time.sleep(0.2)  # long enough that every worker of the pool receives one


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(sys.argv[1:], repeats=1), indent=2))
