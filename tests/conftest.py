"""Shared fixtures. Builders: `builders.py` (image Parquet sets and output bundles), `h5files.py` (HDF5 files
and random planes), `workflow_runs.py` (copies of the workflow, the tiny config, snakemake runs)."""

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
