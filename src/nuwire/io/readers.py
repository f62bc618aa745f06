"""Reading a file an earlier stage wrote, or an error naming it and the stage that writes it.

A Parquet or JSON file that cannot be read (truncated by a full disk, a copy cut short) is an
InputFileError saying which file, and that deleting it and rerunning snakemake makes it again; the
original exception stays chained (`from err`), so the rule's log keeps its traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from nuwire.errors import InputFileError

PathLike = str | os.PathLike[str]


def parquet_error(path: PathLike, err: BaseException, made_by: str) -> InputFileError:
    return InputFileError(
        f"{path}: cannot be read as Parquet ({err}); it is truncated or damaged (a full disk or a copy "
        f"cut short). Delete it and rerun snakemake: the {made_by} stage writes it again."
    )


def open_parquet(path: PathLike, made_by: str) -> pq.ParquetFile:
    """pq.ParquetFile, or an InputFileError naming the file and the stage `made_by` that writes it."""
    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as err:
        if isinstance(err, FileNotFoundError):
            raise InputFileError(f"{path}: no such file; rerun snakemake, the {made_by} stage writes it.") from err
        raise parquet_error(path, err, made_by) from err


def read_json(path: PathLike, made_by: str) -> object:
    """json.loads of a file an earlier stage wrote, or an InputFileError naming it and that stage."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise InputFileError(
            f"{path}: not a readable JSON file ({err}); it is truncated or damaged. Delete it and rerun "
            f"snakemake: the {made_by} stage writes it again."
        ) from err
