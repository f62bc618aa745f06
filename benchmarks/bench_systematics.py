"""What a detector variation costs to re-render: `render_file` on the same events, nominal and under
each kind of variation (`nuwire.systematics.variations`), interleaved round by round.

A variation re-renders only the test split (the `split.test` share of the events) and then scores
each point once; this measures the render part per event, so that a variation's render cost is
about `split.test` × events × (this figure), against the nominal render's events × (nominal).
The scoring pass is the evaluate job's scoring without its figures (cheaper than evaluate).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import load_average, spread
from nuwire.images.render import RenderParams, Rerender, render_file
from nuwire.io.opensamples import OpenSamplesFile
from nuwire.systematics.variations import Variation

VARIATIONS = {
    "nominal (no variation)": None,
    "gain ×1.1": Variation.from_config("gain_up", {"gain": 1.1}),
    "noise σ 3 ADC": Variation.from_config("noise", {"noise": 3.0}),
    "10% more dead wires": Variation.from_config("dead", {"dead_fraction": 0.1}),
    "time shift +50 ticks": Variation.from_config("shift", {"time_shift": 50}),
}


def run(files: Sequence[str | Path], repeats: int = 2, params: RenderParams | None = None) -> dict[str, Any]:
    params = params or RenderParams.from_config({})
    files = [Path(f) for f in files]
    seconds: dict[str, list[float]] = {name: [] for name in VARIATIONS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIATIONS}
    before = load_average()
    events = 0
    with tempfile.TemporaryDirectory(prefix="bench_systematics_") as tmp:
        for _ in range(repeats):
            events = 0
            totals = {name: [0.0, 0.0] for name in VARIATIONS}
            for h5 in files:
                with OpenSamplesFile(h5) as f:
                    truth = f.truth()
                keys = list(zip(truth["run"], truth["subrun"], truth["event"], strict=True))
                events += len(keys)
                for name, variation in VARIATIONS.items():
                    vary = None
                    if variation is not None:

                        def vary(
                            ev: Any, plane: int, adc: np.ndarray, *, v: Variation = variation, sample: str = h5.stem
                        ) -> np.ndarray:
                            return v.apply(adc, plane, (sample, ev.run, ev.subrun, ev.event))

                    out = Path(tmp) / f"{h5.stem}.parquet"
                    wall, proc = time.perf_counter(), time.process_time()
                    # Selected events (as the systematics job reads them), all of the file's here.
                    render_file(
                        h5, out, Path(tmp) / "qc.json", sample=h5.stem, params=params, rerender=Rerender(keys, vary)
                    )
                    totals[name][0] += time.perf_counter() - wall
                    totals[name][1] += time.process_time() - proc
            for name, (w, c) in totals.items():
                seconds[name].append(w / events)
                cpu[name].append(c / events)
    nominal = "nominal (no variation)"
    return {
        "name": "systematics",
        "files": [str(f) for f in files],
        "events": events,
        "repeats": repeats,
        "params": str(params),
        "s_per_event": {name: spread(v, 3) for name, v in seconds.items()},
        "cpu_s_per_event": {name: spread(v, 3) for name, v in cpu.items()},
        "over_nominal": {name: spread(np.divide(v, seconds[nominal]), 2) for name, v in seconds.items()},
        "load_average_before": before,
        "load_average_after": load_average(),
    }
