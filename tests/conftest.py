"""Shared fixtures. Builders they use: `builders.py` (image Parquet sets), `h5files.py` (HDF5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import write_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small learnable image set (vertical tracks = signal) and its event index, per test module."""
    directory = tmp_path_factory.mktemp("images")
    write_dataset(directory)
    return directory
