"""What the network looks at: choosing the events to occlude, bounding the occlusion cost, and
the 2-D embeddings of the penultimate-layer features of the test events.

Only test events are used. The figures are drawn by `nuwire.evaluation.interpret_plots`.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from nuwire.evaluation.occlusion import charged_positions

# In the order they are picked; each is (name, true label, called signal?, most confident first).
OCCLUSION_KINDS = (
    ("confident signal", 1, True),
    ("confident background", 0, False),
    ("missed signal", 1, False),
    ("false positive", 0, True),
)
MIN_TSNE_EVENTS = 8  # below this t-SNE's neighbourhoods mean nothing
# Exact t-SNE is plain numpy, so the same config gives the same figure byte for byte; the
# Barnes-Hut one sums over OpenMP threads in a varying order. Exact costs O(n^2) per step:
# a few seconds at 500 events, so it is used up to there.
EXACT_TSNE_MAX = 500


def pick_occlusion_events(labels: np.ndarray, score: np.ndarray, *, threshold: float, n: int) -> list[tuple[int, str]]:
    """Up to n (index, kind) pairs: the most confident correctly called signal and background
    events and the most confidently misclassified event of each kind, taken in turn (the best of
    each kind, then the second of each, ...). A kind with no event (nothing misclassified) is
    skipped. Deterministic (stable sorts)."""
    labels = np.asarray(labels)
    score = np.asarray(score, dtype=np.float64)
    called = score >= threshold
    queues = []
    for name, label, as_signal in OCCLUSION_KINDS:
        members = np.flatnonzero((labels == label) & (called == as_signal))
        # Most confident in the call the network made: highest score if called signal, else lowest.
        order = np.argsort(-score[members] if as_signal else score[members], kind="stable")
        queues.append((name, members[order].tolist()))
    picked: list[tuple[int, str]] = []
    depth = 0
    while len(picked) < n and any(depth < len(q) for _, q in queues):
        for name, queue in queues:
            if depth < len(queue) and len(picked) < n:
                picked.append((int(queue[depth]), name))
        depth += 1
    return picked


def occlusion_settings(image: np.ndarray, *, patch: int, stride: int | None, max_positions: int) -> tuple[int, int]:
    """(patch, stride) with at most max_positions CHARGED patch positions on `image` (empty ones
    cost nothing): a bound on the forward passes per map. When the requested grid has more, the
    stride grows (and the patch with it, so the patches still cover the charge)."""
    stride = stride or patch

    def charged(p: int, s: int) -> int:
        return int(charged_positions(image, p, s)[2].sum())

    n = charged(patch, stride)
    while n > max_positions:
        stride = max(stride + 1, math.ceil(stride * math.sqrt(n / max_positions)))
        patch = max(patch, stride)
        n = charged(patch, stride)
    return patch, stride


def embedding_subset(n: int, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of at most `limit` of n events, drawn without replacement (seeded)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def embed(features: np.ndarray, seed: int) -> dict[str, np.ndarray | float | None]:
    """2-D PCA (with the variance fraction the two components explain) and t-SNE of `features`
    (n, D), both standardised first; t-SNE is None below MIN_TSNE_EVENTS events."""
    x = np.asarray(features, dtype=np.float64)
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    out: dict[str, np.ndarray | float | None] = {"pca": None, "explained": None, "tsne": None}
    if x.shape[0] >= 2:
        k = min(2, x.shape[0], x.shape[1])
        pca = PCA(n_components=k, random_state=seed)
        coords = pca.fit_transform(x)
        out["pca"] = np.pad(coords, ((0, 0), (0, 2 - k)))
        out["explained"] = float(pca.explained_variance_ratio_.sum())
    if x.shape[0] >= MIN_TSNE_EVENTS:
        perplexity = float(min(30.0, (x.shape[0] - 1) / 3))
        method = "exact" if x.shape[0] <= EXACT_TSNE_MAX else "barnes_hut"
        out["tsne"] = TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=seed, method=method
        ).fit_transform(x)
    return out
