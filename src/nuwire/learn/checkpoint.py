"""Checkpoint files: plain containers written atomically, read back only with weights_only=True.

Everything saved is tensors, dicts, lists, numbers and strings, so `torch.load(weights_only=True)`
(which refuses to unpickle anything else) can read it: a checkpoint or weight file from somewhere
else cannot run code when loaded.

A training's checkpoint directory holds `last.pt` (everything needed to continue after the last
finished epoch, written by the loop in `nuwire.learn.train`) and `best-eNNNN.pt` (the weights of
the best epoch so far). This module knows those names, checks that a file belongs to the job that
reads it, and clears the directory once the outputs are written.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nuwire.errors import CheckpointError
from nuwire.io.atomic import atomic_path
from nuwire.io.tempfiles import remove_stale_temporaries

FORMAT_VERSION = 1
LAST = "last.pt"
PathLike = str | os.PathLike[str]


def save(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """torch.save to a temporary file beside `path`, then rename: a kill never leaves half a file.

    Saved through a file object: given a path, torch.save names the zip archive inside after the
    file, and the temporary name is random, so the same weights would not give the same bytes.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        try:
            torch.save(payload, fh)
        except RuntimeError as err:
            # A full disk reaches torch's zip writer as "unexpected pos …", not as an OSError:
            # say what it is when the file system has no room for the tensors.
            needed = sum(t.nbytes for t in _tensors(payload))
            if shutil.disk_usage(tmp.parent).free < needed:
                raise OSError(errno.ENOSPC, "No space left on device", str(tmp)) from err
            raise


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint or weight file onto the CPU with weights_only=True."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise CheckpointError(
            f"{path} cannot be loaded as a nuwire checkpoint ({type(err).__name__}: {str(err).splitlines()[0]}). "
            f"It is damaged or holds objects other than tensors and plain containers. Delete it to start over."
        ) from None


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Model weights as contiguous CPU tensors, so a file written on a GPU loads anywhere as is."""
    return {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}


def rng_state() -> dict[str, Any]:
    """The global RNG states that training consumes (dropout, any legacy numpy use)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        # numpy's state tuple holds an ndarray, which weights_only refuses; store it as a tensor.
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["kind"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["gauss"],
        )
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def best_path(directory: PathLike, epoch: int) -> Path:
    return Path(directory) / f"best-e{epoch:04d}.pt"


def load_resumable(path: PathLike, digest: str) -> dict[str, Any]:
    """`last.pt` at `path`, refused unless it carries this job's config hash `digest`, this
    module's format and a best-weights file beside it."""
    path = Path(path)
    state = load(path)
    found = state.get("config_hash") if isinstance(state, dict) else None
    if found != digest:
        raise CheckpointError(
            f"{path} is a checkpoint of another training configuration (config hash "
            f"{str(found)[:12]}…, this job has {digest[:12]}…): the settings, view, cut or "
            f"dataset changed since it was written, so it cannot be resumed. Delete it (or the "
            f"directory {path.parent}) to start this job over."
        )
    if state.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written in checkpoint format {state.get('format')!r}, this version reads "
            f"{FORMAT_VERSION}. Delete it (or the directory {path.parent}) to start over."
        )
    best = state["best"]
    if best is not None and not best_path(path.parent, best["epoch"]).exists():
        raise CheckpointError(
            f"{path} refers to {best_path(path.parent, best['epoch']).name}, which is missing. "
            f"Delete the directory {path.parent} to start this job over."
        )
    return state


def load_best(directory: PathLike, epoch: int, digest: str) -> dict[str, torch.Tensor]:
    """The weights of the best epoch, refused unless written by the job with config hash `digest`."""
    directory = Path(directory)
    path = best_path(directory, epoch)
    state = load(path)
    if state.get("config_hash") != digest:
        raise CheckpointError(
            f"{path} belongs to another training configuration. Delete the directory "
            f"{directory} to start this job over."
        )
    return state["model"]


def remove_stale_best(directory: PathLike, keep_epoch: int | None) -> None:
    """Every best-weights file but that of `keep_epoch` (all of them for None)."""
    keep = None if keep_epoch is None else best_path(directory, keep_epoch)
    for path in Path(directory).glob("best-e*.pt"):
        if path != keep:
            path.unlink(missing_ok=True)


def remove_temporaries(directory: PathLike, outputs: Iterable[PathLike]) -> None:
    """Temporary files of atomic writes that a SIGKILL interrupted (see nuwire.io.atomic), of the
    checkpoint files in `directory` and of `outputs`."""
    targets = [Path(directory) / LAST, Path(directory) / "best-e*.pt", *(Path(p) for p in outputs)]
    for target in targets:
        remove_stale_temporaries(target)


def remove(directory: PathLike) -> None:
    """The checkpoint of a finished training, and its directory unless it holds something else."""
    (Path(directory) / LAST).unlink(missing_ok=True)
    remove_stale_best(directory, None)
    try:
        Path(directory).rmdir()
    except OSError:
        pass  # holds something that is not ours


__all__ = [
    "FORMAT_VERSION",
    "LAST",
    "best_path",
    "cpu_state_dict",
    "load",
    "load_best",
    "load_resumable",
    "remove",
    "remove_stale_best",
    "remove_temporaries",
    "rng_state",
    "save",
    "set_rng_state",
]
