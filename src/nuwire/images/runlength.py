"""Run-length storage of sparse 8-bit images: two bytes per run plus one byte per lit pixel.

A wire image is mostly empty and its lit pixels come in runs: a deconvolved pulse lights several
consecutive time rows of one wire, a track along the wire direction lights consecutive wires of
one row. Each image is read in the flat order (row-major or column-major) that gives it fewer
runs, and each run is one uint16 token: 11 bits for the gap of empty pixels since the end of the
previous run and 5 bits for its length. Longer runs continue in further tokens with gap 0; longer
gaps are bridged by tokens of length 0. Values are stored once per lit pixel, in the same order.

Against a coordinate list (uint16 row + uint16 col + uint8 value, 5 bytes per lit pixel) this
brings a typical track image to 1.3–1.8 bytes per lit pixel; the value byte is the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEN_BITS = 5
MAX_LEN = (1 << LEN_BITS) - 1  # 31 pixels per token
MAX_GAP = (1 << (16 - LEN_BITS)) - 1  # 2047 empty pixels before a token


@dataclass
class Runs:
    """Tokens of `n_img` images, image after image; values in the same pixel order."""

    token: np.ndarray  # uint16: gap << LEN_BITS | length
    value: np.ndarray  # uint8 per lit pixel
    n_tok: np.ndarray  # int64 per image
    n_pix: np.ndarray  # int64 per image
    vertical: np.ndarray  # bool per image: pixels in column-major order (else row-major)


def segment_arange(lengths: np.ndarray) -> np.ndarray:
    """0..n-1 for every n in `lengths`, concatenated (vectorised)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    return np.arange(ends[-1] if len(ends) else 0, dtype=np.int64) - np.repeat(ends - lengths, lengths)


def segments(lo: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """lo[i] .. lo[i]+lengths[i]-1 for every i, concatenated (vectorised)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return segment_arange(lengths) + np.repeat(np.asarray(lo, dtype=np.int64), lengths)


def _runs(img: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs of consecutive flat positions within each image: (image, gap, length, tokens) per run."""
    head = np.ones(len(img), dtype=bool)
    head[1:] = (img[1:] != img[:-1]) | (pos[1:] != pos[:-1] + 1)
    first = np.flatnonzero(head)
    run_img, start = img[first], pos[first]
    length = np.diff(np.append(first, len(img)))
    prev_end = np.zeros(len(first), dtype=np.int64)  # the cursor starts at 0 in every image
    same = np.zeros(len(first), dtype=bool)
    same[1:] = run_img[1:] == run_img[:-1]
    prev_end[1:] = np.where(same[1:], start[:-1] + length[:-1], 0)
    gap = start - prev_end
    n_tok = np.maximum(gap - 1, 0) // MAX_GAP + -(-length // MAX_LEN)  # gap bridges + pieces
    return run_img, gap, length, n_tok


def _tokens(gap: np.ndarray, length: np.ndarray, n_tok: np.ndarray) -> np.ndarray:
    """The uint16 tokens of runs (see the module docstring)."""
    bridges = np.maximum(gap - 1, 0) // MAX_GAP
    j = segment_arange(n_tok)
    run = np.repeat(np.arange(len(gap)), n_tok)
    k = j - bridges[run]  # piece number; negative for a bridge
    tok_gap = np.where(k < 0, MAX_GAP, np.where(k == 0, (gap - bridges * MAX_GAP)[run], 0))
    tok_len = np.where(k < 0, 0, np.minimum(length[run] - k * MAX_LEN, MAX_LEN))
    return ((tok_gap << LEN_BITS) | tok_len).astype(np.uint16)


def encode(
    img: np.ndarray, row: np.ndarray, col: np.ndarray, *, value: np.ndarray, n_img: int, shape: tuple[int, int]
) -> Runs:
    """Tokens of pixels given in row-major order within each image, images ascending (int64 inputs)."""
    height, width = shape
    pos_h = row * width + col
    # Column-major order by one sort of packed (image, position, value) keys: sorting plain int64
    # is several times faster than an argsort or lexsort, and carries the values along.
    packed = np.sort((img << 40) | ((col * height + row) << 8) | value.astype(np.int64))
    pos_v = (packed >> 8) & 0xFFFFFFFF
    cost_h, cost_v = (np.bincount(r[0], weights=r[3], minlength=n_img) for r in (_runs(img, pos_h), _runs(img, pos_v)))
    vertical = cost_v < cost_h
    # Both orders keep each image's pixels at the same positions (image is the first key), so
    # each image can take its pixels from the order that suits it.
    take_v = vertical[img]
    pos = np.where(take_v, pos_v, pos_h)
    run_img, gap, length, n_tok = _runs(img, pos)
    return Runs(
        token=_tokens(gap, length, n_tok),
        value=np.where(take_v, packed & 0xFF, value).astype(np.uint8),
        n_tok=np.bincount(run_img, weights=n_tok, minlength=n_img).astype(np.int64),
        n_pix=np.bincount(img, minlength=n_img).astype(np.int64),
        vertical=vertical,
    )


def decode(token: np.ndarray, n_tok: np.ndarray) -> np.ndarray:
    """Flat positions of the pixels of consecutive images' tokens, each in its image's own order."""
    tok = token.astype(np.int64)
    length = tok & MAX_LEN
    end = np.cumsum((tok >> LEN_BITS) + length)
    image_lo = np.cumsum(n_tok) - n_tok  # first token of each image: the cursor restarts there
    before = np.concatenate([[0], end])[image_lo]
    start = end - length - np.repeat(before, n_tok)
    return np.repeat(start, length) + segment_arange(length)
