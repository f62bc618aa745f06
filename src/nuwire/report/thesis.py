"""The thesis's published test-set results (plane 2, real MicroBooNE OpenSamples files).

Shown beside every sweep's results as a reference and always labelled as real-data thesis
numbers: they were not produced by this workflow. LeNet is absent because it never trained there
(every event went to one class).
"""

from __future__ import annotations

import pandas as pd

SOURCE = "thesis (real MicroBooNE data)"

_ROWS = [
    # model, cut, threshold, accuracy, tpr, tnr, precision, f1, roc_auc
    ("alexnet", "full", "0.33", 0.7651, 0.625, 0.881, 0.8128, 0.7068, 0.8314),
    ("alexnet", "full", "0.5", 0.7866, 0.697, 0.860, 0.8053, 0.7475, 0.8576),
    ("alexnet", "top50", "0.33", 0.8338, 0.804, 0.865, 0.8637, 0.8328, 0.9028),
    ("alexnet", "top50", "0.5", 0.8597, 0.839, 0.882, 0.8830, 0.8602, 0.9221),
    ("vit", "full", "", 0.6603, 0.644, 0.677, 0.6773, 0.6603, 0.7207),
]


def thesis_rows() -> pd.DataFrame:
    frame = pd.DataFrame(
        _ROWS, columns=["arch", "cut", "threshold", "accuracy", "tpr", "tnr", "precision", "f1", "roc_auc"]
    )
    frame.insert(0, "source", SOURCE)
    frame["plane"] = "2"
    return frame
