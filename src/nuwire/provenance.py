"""Provenance recorded with every result: code version, config hash, packages, input files.

The input files' sizes and SHA-256 checksums are those each render job computed of the file it
read (its QC record), collected by the dataset stage into `dataset/inputs.json`; later stages copy
that manifest rather than re-reading gigabytes of HDF5.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from nuwire import __version__
from nuwire.io.atomic import jsonable
from nuwire.io.identity import sha256_file

PACKAGES = ("snakemake", "h5py", "numpy", "pandas", "torch", "scikit-learn", "pyarrow", "matplotlib", "pillow")


def input_manifest(
    paths: Sequence[str | os.PathLike[str]], rendered: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Size and SHA-256 of each input: those of the file its render job read (`rendered`: QC
    records by file path, `input_size` / `input_sha256`), else of the file as it is now."""
    out = []
    for p in paths:
        qc = (rendered or {}).get(str(p), {})
        if "input_sha256" in qc:
            out.append({"file": str(p), "size": int(qc["input_size"]), "sha256": str(qc["input_sha256"])})
        else:
            out.append({"file": str(p), "size": os.path.getsize(p), "sha256": sha256_file(p)})
    return out


def config_hash(settings: Any) -> str:
    """SHA-256 of the canonical JSON of the settings that determine a result."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=jsonable)
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the checkout this package runs from ('unknown' outside git)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(settings: Any, inputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "nuwire_version": __version__,
        "git_commit": git_commit(),
        "config_hash": config_hash(settings),
        "packages": package_versions(),
        "inputs": inputs or [],
    }
