"""The `target` axis (nue_cc / flavour): classes, sweep paths, model heads, class weights, the
multi-class metrics against scikit-learn, and Holm's correction."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.metrics import confusion_matrix as sk_confusion

from nuwire.architectures import ARCHITECTURES
from nuwire.errors import ConfigError, NuwireError
from nuwire.evaluation.multiclass import _cell, multiclass_report, overall_words, plot_multiclass
from nuwire.events.sweep import SweepPoint, expand_sweep
from nuwire.events.targets import NUE_CLASS, binary_labels, class_labels, target_classes
from nuwire.figures import FigureContext
from nuwire.learn.train import balanced_class_weights
from nuwire.models import build_model, output_width, takes_sparse
from nuwire.stats.multiplicity import bootstrap_p_value, holm_adjusted, normal_p_value
from nuwire.stats.numfmt import format_value
from test_models import CROP, shapes_for, sparse_inputs, sparse_views

SMALL_HPARAMS = {"resnet": {"width": 8}, "mvresnet": {"width": 8}, "sparse_resnet": {"width": 8},
                 "sparse_mvresnet": {"width": 8}, "alexnet": {"hidden": 64}}  # fmt: skip


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("target", ["nue_cc", "flavour"])
def test_every_architecture_builds_the_head_its_target_needs(arch: str, target: str) -> None:
    torch.set_num_threads(1)
    shapes = shapes_for(arch, CROP)
    k = target_classes(target)
    torch.manual_seed(0)
    model = build_model(arch, shapes, n_classes=k, **SMALL_HPARAMS.get(arch, {})).train()
    assert output_width(model) == k
    views = sparse_inputs(shapes, 3) if takes_sparse(arch) else sparse_views(shapes, 3)
    logits = model(*views)
    assert logits.shape == (3, k)
    F.cross_entropy(logits, torch.arange(3) % k).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_two_class_build_draws_the_weights_it_always_drew() -> None:
    """n_classes=2 (the default) touches nothing: the same seed gives the same weights as before."""
    torch.manual_seed(3)
    a = build_model("lenet", [(128, 128)])
    torch.manual_seed(3)
    b = build_model("lenet", [(128, 128)], n_classes=2)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def index_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "category": ["nue_cc", "numu_cc", "nc", "nue_cc", "nc"],
        "label": [1, 0, 0, 1, 0],
    })  # fmt: skip


def test_class_labels_put_nue_cc_at_one_in_both_targets() -> None:
    events = index_rows()
    assert class_labels(events, "nue_cc").tolist() == [1, 0, 0, 1, 0]
    flavour = class_labels(events, "flavour")
    assert flavour.tolist() == [1, 0, 2, 1, 2]
    assert np.array_equal(binary_labels(flavour), events["label"].to_numpy()) and NUE_CLASS == 1


def test_an_event_without_a_flavour_class_is_named_not_dropped() -> None:
    events = pd.DataFrame({"category": ["nue_cc", "other_cc"], "label": [1, 0]})
    with pytest.raises(NuwireError, match="other_cc"):
        class_labels(events, "flavour")


def test_target_is_a_sweep_axis_in_the_path_only_when_not_the_default() -> None:
    block = {"arch": ["lenet"], "plane": [2], "scale": [0.5], "cut": ["full"], "crop": 128,
             "target": ["nue_cc", "flavour"]}  # fmt: skip
    points = expand_sweep([block])
    assert [p.path for p in points] == [
        "lenet/plane2/scale0.5/full/crop128",
        "lenet/plane2/scale0.5/full/crop128/flavour",
    ]
    assert "target" not in points[0].as_dict() and points[1].as_dict()["target"] == "flavour"
    # Without the key, the points are those of before (no target level).
    assert expand_sweep([{k: v for k, v in block.items() if k != "target"}]) == points[:1]
    seeded = expand_sweep([block], seeds=[1, 2])
    assert "lenet/plane2/scale0.5/full/crop128/flavour/seed2" in [p.path for p in seeded]
    for p in seeded:  # the window wildcard carries target and seed back to the same point
        wc = SimpleNamespace(arch=p.arch, plane=p.plane, scale=p.scale, cut=p.cut,
                             window=p.path.split(f"/{p.cut}/", 1)[1])  # fmt: skip
        assert SweepPoint.from_wildcards(wc) == p
    with pytest.raises(ConfigError, match=r"sweep\[0\].target: unknown target 'numu'"):
        expand_sweep([block | {"target": ["numu"]}])


def test_balanced_class_weights_follow_the_number_of_classes() -> None:
    w = balanced_class_weights(np.array([0, 1, 1, 2, 2, 2]), 3)
    assert torch.allclose(w, torch.tensor([6 / 3, 6 / 6, 6 / 9]))
    assert torch.allclose(balanced_class_weights(np.array([0, 1, 1, 1])), torch.tensor([2.0, 4 / 6]))
    with pytest.raises(ConfigError, match="0 of class 2"):
        balanced_class_weights(np.array([0, 1, 1]), 3)


def random_flavour_set(n: int = 300, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[classes]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return classes, probs, rng.uniform(0.1, 4.0, n)


def test_multiclass_metrics_equal_scikit_learn(tmp_path) -> None:
    classes, probs, energy = random_flavour_set()
    names = ("numu_cc", "nue_cc", "nc")
    report = multiclass_report(classes, probs, energy, names=names, resamples=200, seed=1)
    predicted = probs.argmax(axis=1)
    expected = sk_confusion(classes, predicted, labels=[0, 1, 2])
    assert report["confusion"] == expected.tolist()
    norm = sk_confusion(classes, predicted, labels=[0, 1, 2], normalize="true")
    assert np.allclose(report["confusion_normalized"]["value"], norm)
    assert np.allclose(report["efficiency"]["value"], np.diag(norm))
    assert np.allclose(report["purity"]["value"], np.diag(sk_confusion(classes, predicted, normalize="pred")))
    per_class = roc_auc_score(classes, probs, multi_class="ovr", average=None)
    assert np.allclose([a["value"] for a in report["roc_auc_ovr"]], per_class)
    macro = report["roc_auc_ovr_macro"]  # with its bootstrap interval and the events it was measured on
    assert macro["value"] == pytest.approx(roc_auc_score(classes, probs, multi_class="ovr"))
    assert macro["ci95"][0] <= macro["ci68"][0] <= macro["value"] <= macro["ci68"][1] <= macro["ci95"][1]
    assert 0 < macro["error"] < 0.1 and macro["n_events"] == classes.size
    accuracy = report["accuracy"]  # a binomial (Wilson) interval
    assert accuracy["value"] == pytest.approx(accuracy_score(classes, predicted))
    assert accuracy["ci68"][0] < accuracy["value"] < accuracy["ci68"][1] and accuracy["n_events"] == classes.size
    words = overall_words(report)  # the digits each number's error allows, never fixed
    assert f"({accuracy['n_correct']} of {classes.size})" in words and " ± " in words
    assert _cell(report, 0, 0).split("\n")[0] == format_value(
        norm[0, 0],
        (report["confusion_normalized"]["ci68_hi"][0][0] - report["confusion_normalized"]["ci68_lo"][0][0]) / 2,
    )
    for a in report["roc_auc_ovr"]:  # a bootstrap interval around each
        assert a["ci95"][0] <= a["ci68"][0] <= a["value"] <= a["ci68"][1] <= a["ci95"][1] and a["error"] > 0
    lo, hi = np.array(report["confusion_normalized"]["ci68_lo"]), np.array(report["confusion_normalized"]["ci68_hi"])
    assert (lo <= norm + 1e-12).all() and (norm <= hi + 1e-12).all() and (hi - lo > 0).all()
    # Efficiency against energy: the bins of each class add up to its events and its selected ones.
    rows = pd.DataFrame(report["efficiency_by_energy"])
    for c, name in enumerate(names):
        mine = rows[rows["class"] == name]
        assert mine["n"].sum() == (classes == c).sum()
        assert mine["selected"].sum() == expected[c, c]
    plot_multiclass(report, tmp_path / "m.png", context=FigureContext(synthetic=True))
    plot_multiclass(None, tmp_path / "b.png", context=FigureContext(synthetic=False), note="two classes")
    assert (tmp_path / "m.png").stat().st_size > 0 and (tmp_path / "b.png").stat().st_size > 0


def test_holm_by_hand() -> None:
    # Sorted p: 0.01, 0.02, 0.03, 0.04 -> 4·0.01, 3·0.02, 2·0.03, 1·0.04 = 0.04, 0.06, 0.06 (monotone), 0.06.
    assert holm_adjusted([0.03, 0.01, None, 0.04, 0.02]) == pytest.approx([0.06, 0.04, None, 0.06, 0.06])
    assert holm_adjusted([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # 2·0.5 caps at 1; monotone after
    assert holm_adjusted([]) == []
    assert bootstrap_p_value(np.array([0.1, 0.2, -0.1, 0.3])) == pytest.approx(0.5)
    assert bootstrap_p_value(np.full(100, 0.2)) == pytest.approx(0.01)  # one resample's worth, never 0
    assert normal_p_value(1.959964, [0.0, 2 * 1.959964]) == pytest.approx(0.05, rel=1e-4)
