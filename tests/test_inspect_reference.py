"""`nuwire inspect` on 2,000 simulated events per sample against the real samples' numbers.

Reference (docs/formats.md, from the OpenSamples WithWire files): bnb 24,332 events with νμ 23,984,
CC 17,564, NC 6,768, Eν mean 1.20 GeV and median 1.08; nue 19,940 events, all CC, νe 19,448,
Eν mean 1.62 and median 1.46. Fractions that 2,000 events measure to better than 5% are compared
(the rare ones, e.g. νe in bnb at 0.55%, are not: ~11 expected events cannot resolve 5%).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from nuwire.geometry import COMPACT
from nuwire.io.inspect import inspect_files
from nuwire.simulate import file_name, simulate_file

pytestmark = pytest.mark.slow

EVENTS = 2000
FILES = 4
REFERENCE = {
    "bnb": {"numu": 23984 / 24332, "cc": 17564 / 24332, "nc": 6768 / 24332, "mean": 1.20, "median": 1.08},
    "nue": {"nue": 19448 / 19940, "cc": 1.0, "mean": 1.62, "median": 1.46},
}


def _simulate(args: tuple[str, int, str]) -> str:
    sample, index, out = args
    path = Path(out) / file_name(sample, index)
    simulate_file(path, sample, EVENTS // FILES, geometry=COMPACT, seed=11, file_index=index)
    return str(path)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    jobs = [(s, i, str(out)) for s in ("bnb", "nue") for i in range(FILES)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(_simulate, jobs))
    frame = inspect_files(paths)
    return frame[frame["level"] == "group"].set_index("name")


def _close(measured: float, reference: float) -> bool:
    return abs(measured - reference) <= 0.05 * reference


def test_bnb_composition_and_energy(table):
    r, ref = table.loc["bnb"], REFERENCE["bnb"]
    assert r["events"] == EVENTS
    assert _close(r["pdg_14"] / r["events"], ref["numu"])
    assert _close(r["cc"] / r["events"], ref["cc"])
    assert _close(r["nc"] / r["events"], ref["nc"])
    assert _close(r["nu_energy_mean"], ref["mean"])
    assert _close(r["nu_energy_median"], ref["median"])


def test_nue_composition_and_energy(table):
    r, ref = table.loc["nue"], REFERENCE["nue"]
    assert r["events"] == EVENTS
    assert r["cc"] == r["nue_cc"] == EVENTS
    assert _close(r["pdg_12"] / r["events"], ref["nue"])
    assert _close(r["nu_energy_mean"], ref["mean"])
    assert _close(r["nu_energy_median"], ref["median"])
