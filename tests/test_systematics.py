"""Detector variations (nuwire.systematics): the ADC each one makes of a hand-written readout, the
re-render of selected events, and the paired deltas against the nominal scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from h5files import event_rows, noisy_planes, write_file
from nuwire.errors import ConfigError
from nuwire.geometry import COMPACT
from nuwire.images.render import ReadOptions, RenderParams, Rerender, render_file
from nuwire.systematics.deltas import nominal_metrics, paired_delta
from nuwire.systematics.rerender import VariationFiles, render_variation_file
from nuwire.systematics.variations import Variation, dead_wires, variations_from_config

KEY = ("bnb_WithWire_00", 5, 6, 7)


def readout() -> np.ndarray:
    """8 wires × 6 ticks: wire w, tick t holds 10·w + t (so every value names its place)."""
    return (10 * np.arange(8)[:, None] + np.arange(6)[None, :]).astype(np.float32)


def test_gain_scales_every_value():
    out = Variation.from_config("up", {"gain": 1.1}).apply(readout(), 2, KEY)
    np.testing.assert_array_equal(out, readout() * np.float32(1.1))
    assert out.dtype == np.float32
    assert out[3, 4] == np.float32(34 * np.float32(1.1))


def test_time_shift_moves_ticks_and_fills_zeros():
    later = Variation.from_config("late", {"time_shift": 2}).apply(readout(), 0, KEY)
    np.testing.assert_array_equal(later[:, :2], 0)
    np.testing.assert_array_equal(later[:, 2:], readout()[:, :4])
    earlier = Variation.from_config("early", {"time_shift": -1}).apply(readout(), 0, KEY)
    np.testing.assert_array_equal(earlier[:, :5], readout()[:, 1:])
    np.testing.assert_array_equal(earlier[:, 5], 0)
    assert not Variation.from_config("gone", {"time_shift": 6}).apply(readout(), 0, KEY).any()


def test_dead_wires_are_whole_aligned_groups_the_same_in_every_event():
    v = Variation.from_config("dead", {"dead_fraction": 0.5, "dead_group": 2, "seed": 3})
    out = v.apply(readout(), 1, KEY)
    zeroed = dead_wires(8, fraction=0.5, group=2, seed=3, plane=1)
    # Half of 8 wires in groups of 2: two whole aligned pairs out of {0,1}, {2,3}, {4,5}, {6,7}.
    pairs = zeroed.reshape(-1, 2)
    assert pairs.shape == (2, 2) and (pairs[:, 0] % 2 == 0).all() and (pairs[:, 1] == pairs[:, 0] + 1).all()
    expected = readout()
    expected[zeroed] = 0
    np.testing.assert_array_equal(out, expected)  # those wires read 0, every other value unchanged
    other_event = v.apply(readout(), 1, ("nue_WithWire_01", 1, 2, 3))
    np.testing.assert_array_equal(other_event, out)  # one dead-channel map per plane
    # A trailing partial group: 7 wires in groups of 4 are the groups {0..3} and {4..6}.
    assert sorted(dead_wires(7, fraction=0.6, group=4, seed=0, plane=0).tolist()) in ([0, 1, 2, 3], [4, 5, 6])
    assert sorted(dead_wires(7, fraction=0.99, group=4, seed=0, plane=0).tolist()) == list(range(7))
    assert dead_wires(8, fraction=0.05, group=2, seed=3, plane=1).size == 0  # under half a group rounds to none


def test_noise_is_seeded_per_event_and_has_the_stated_sigma():
    v = Variation.from_config("noisy", {"noise": 5.0, "seed": 4})
    flat = np.zeros((400, 500), dtype=np.float32)
    a, again = v.apply(flat, 2, KEY), v.apply(flat, 2, KEY)
    np.testing.assert_array_equal(a, again)  # repeatable
    assert a.dtype == np.float32
    other = v.apply(flat, 2, ("bnb_WithWire_00", 5, 6, 8))
    assert not np.array_equal(a, other)  # another event, other noise
    assert not np.array_equal(a, v.apply(flat, 1, KEY))  # another plane too
    assert abs(float(a.mean())) < 5.0 * 5 / np.sqrt(a.size)
    assert abs(float(a.std()) - 5.0) < 0.05
    # Gaussian: 68.3% within 1σ, 95.4% within 2σ.
    assert abs(float((np.abs(a) < 5.0).mean()) - 0.6827) < 0.005
    assert abs(float((np.abs(a) < 10.0).mean()) - 0.9545) < 0.003
    # Added to the charge, not replacing it.
    np.testing.assert_allclose(v.apply(readout(), 2, KEY) - readout(), v.apply(np.zeros_like(readout()), 2, KEY),
                               atol=1e-4)  # fmt: skip


def test_zero_size_variation_returns_the_array_itself():
    adc = readout()
    assert Variation.from_config("nominal", {"gain": 1.0, "noise": 0.0}).apply(adc, 0, KEY) is adc


def test_zero_size_variation_renders_the_nominal_images_byte_for_byte(tmp_path: Path):
    rng = np.random.default_rng(5)
    planes = [noisy_planes(rng) for _ in range(3)]
    h5 = write_file(tmp_path / "bnb_WithWire_00.h5", [event_rows((5, 6, k), planes[k]) for k in range(3)])
    params = RenderParams(dw=2, dt=2, threshold=10.0, saturation=100.0)
    nominal = tmp_path / "nominal.parquet"
    render_file(h5, nominal, tmp_path / "nominal.qc.json", sample="bnb_WithWire_00", params=params)
    zero = Variation.from_config("zero", {"gain": 1.0, "noise": 0.0})
    varied = tmp_path / "zero.parquet"
    keys = [(5, 6, k) for k in range(3)]
    render_file(h5, varied, tmp_path / "zero.qc.json", sample="bnb_WithWire_00", params=params, rerender=Rerender(keys,
                vary=lambda ev, p, adc: zero.apply(adc, p, ("bnb_WithWire_00", ev.run, ev.subrun, ev.event))))  # fmt: skip
    assert varied.read_bytes() == nominal.read_bytes()

    # The test split only: exactly those events, with the varied ADC rendered by the same formula.
    index = pd.DataFrame({"sample": ["bnb_WithWire_00"] * 3, "run": [5] * 3, "subrun": [6] * 3, "event": [0, 1, 2],
                          "split": ["train", "test", "test"]})  # fmt: skip
    index.to_parquet(tmp_path / "events.parquet")
    up = Variation.from_config("up", {"gain": 2.0})
    files = VariationFiles(h5, tmp_path / "events.parquet", tmp_path / "nominal.qc.json", tmp_path / "up.parquet",
                           tmp_path / "up.qc.json")  # fmt: skip
    qc = render_variation_file(files, up, sample="bnb_WithWire_00", params=params, read=ReadOptions())
    assert qc["events_in_file"] == 2 and qc["rendered"] == 2 and qc["reconciled"] and qc["variation"]["gain"] == 2.0
    # Written once, the variation in it; the input's SHA-256 taken from its nominal render's QC.
    assert json.loads((tmp_path / "up.qc.json").read_text()) == qc
    assert qc["input_sha256"] == json.loads((tmp_path / "nominal.qc.json").read_text())["input_sha256"]
    doubled = tmp_path / "doubled.h5"
    write_file(doubled, [event_rows((5, 6, k), [p * np.float32(2) for p in planes[k]]) for k in range(3)])
    render_file(doubled, tmp_path / "d.parquet", tmp_path / "d.qc.json", sample="bnb_WithWire_00", params=params)
    got, want = pd.read_parquet(tmp_path / "up.parquet"), pd.read_parquet(tmp_path / "d.parquet")
    want = want[want["event"] > 0].reset_index(drop=True)
    assert got["event"].tolist() == [1, 1, 1, 2, 2, 2]
    for column in ("row", "col", "value"):
        assert [list(v) for v in got[column]] == [list(v) for v in want[column]]


def test_an_event_the_file_lacks_is_a_clear_error(tmp_path: Path):
    from nuwire.errors import InputFileError

    h5 = write_file(tmp_path / "bnb_WithWire_00.h5", [event_rows((5, 6, 0), noisy_planes(np.random.default_rng(1)))])
    with pytest.raises(InputFileError, match=r"bnb_WithWire_00.h5.*\(5, 6, 9\)"):
        render_file(
            h5,
            tmp_path / "x.parquet",
            tmp_path / "x.qc.json",
            sample="s",
            params=RenderParams.from_config({}),
            rerender=Rerender([(5, 6, 9)]),
        )
    assert not (tmp_path / "x.parquet").exists() and not (tmp_path / "x.qc.json").exists()


def predictions(scores: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame({"sample": ["s"] * n, "run": 1, "subrun": 1, "event": np.arange(n), "split": "test",
                         "label": labels, "score": scores})  # fmt: skip


def test_unchanged_scores_give_exactly_zero_deltas():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 200)
    nominal = predictions(np.clip(0.3 * labels + rng.random(200) * 0.7, 0, 1), labels)
    shuffled = nominal.sample(frac=1.0, random_state=1)  # the order of the rows does not matter
    d = paired_delta(nominal_metrics(nominal, 0.5, resamples=1000, seed=3), shuffled)
    for m in ("auc", "efficiency", "purity"):
        assert d.deltas[m]["delta"] == 0.0 and d.deltas[m]["ci95"] == [0.0, 0.0], m
        assert not d.deltas[m]["significant"]
    assert d.n_events == 200 and d.n_signal == int(labels.sum())


def test_a_real_shift_is_measured_and_called_significant():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], 500)
    score = np.clip(0.25 + 0.5 * labels + rng.normal(0, 0.15, 1000), 0, 1)
    nominal = predictions(score, labels)
    lower = predictions(np.clip(score - 0.1, 0, 1), labels)  # every score 0.1 lower: fewer signal pass
    d = paired_delta(nominal_metrics(nominal, 0.5, resamples=1000, seed=3), lower)
    eff_nom = float((score[labels == 1] >= 0.5).mean())
    eff_var = float((np.clip(score - 0.1, 0, 1)[labels == 1] >= 0.5).mean())
    assert d.deltas["efficiency"]["delta"] == pytest.approx(eff_var - eff_nom)
    assert d.deltas["efficiency"]["significant"] and d.deltas["efficiency"]["ci95"][1] < 0
    assert abs(d.deltas["auc"]["delta"]) < 1e-3  # a shift of every score keeps the ranking (up to the clip)
    with pytest.raises(Exception, match="do not hold the nominal test events"):
        paired_delta(nominal_metrics(nominal, 0.5, resamples=1000, seed=3), lower.iloc[:10])


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"bad-name": {"gain": 1.1}}, "systematics.bad-name"),
        ({"up": {"gain": 0}}, "systematics.up.gain"),
        ({"up": {"gaim": 1.1}}, "gaim"),
        ({"noisy": {"noise": -1}}, "systematics.noisy.noise"),
        ({"dead": {"dead_fraction": 1.0}}, "systematics.dead.dead_fraction"),
        ({"late": {"time_shift": 2.5}}, "systematics.late.time_shift"),
    ],
)
def test_invalid_variations_name_the_field(section: dict, field: str):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        variations_from_config({"systematics": section})


def test_the_schema_default_variation_is_nominal():
    assert Variation.from_config("x", {}).is_nominal and COMPACT.n_ticks > 0


def test_the_most_and_least_robust_architecture_are_named_only_when_the_intervals_allow():
    from nuwire.systematics.report import Row, display_table, robustness_words

    rng = np.random.default_rng(4)
    labels = np.repeat([0, 1], 300)
    base = np.clip(0.3 + 0.4 * labels + rng.normal(0, 0.2, 600), 0, 1)
    nominal = predictions(base, labels)
    gain = Variation.from_config("gain_up", {"gain": 1.1})
    measured = nominal_metrics(nominal, 0.5, resamples=1000, seed=3)

    def row(arch: str, varied: np.ndarray) -> Row:
        point = {"arch": arch, "cut": "full", "point": f"{arch}/plane2/scale0.5/full/whole"}
        return Row(gain, point, paired_delta(measured, predictions(varied, labels)))

    steady = row("lenet", base)  # unchanged by the variation
    shaken = row("resnet", np.clip(base + rng.normal(0, 0.3, 600), 0, 1))  # ranking scrambled
    words = " ".join(robustness_words([steady, shaken]))
    assert "Most robust: lenet" in words and "Least robust: resnet" in words
    alike = row("resnet", base.copy())
    words = " ".join(robustness_words([steady, alike]))
    assert "Most robust" not in words and "do not single it out" in words
    assert robustness_words([steady])[0].startswith("Only one architecture")
    table = display_table([steady, shaken])
    assert table["ΔAUC"].iloc[1].count("±") == 1 and table["n_test"].tolist() == [600, 600]
