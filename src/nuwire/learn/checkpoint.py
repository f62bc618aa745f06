"""Checkpoint files: plain containers written atomically, read back only with weights_only=True.

Everything saved is tensors, dicts, lists, numbers and strings, so `torch.load(weights_only=True)`
(which refuses to unpickle anything else) can read it: a checkpoint or weight file from somewhere
else cannot run code when loaded.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nuwire.errors import CheckpointError
from nuwire.io.atomic import atomic_path

FORMAT_VERSION = 1


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


__all__ = ["FORMAT_VERSION", "cpu_state_dict", "load", "rng_state", "save", "set_rng_state"]
