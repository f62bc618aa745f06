"""The run's paths as the user meant them, checked before any job: `~` and `$VARS` expanded, a
relative path said with the directory it was resolved against, and a `results:` directory that
cannot hold anything it should not (the file system root, the inputs, nuwire's own code)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from nuwire.errors import ConfigError

# (field, keys into the config) of every path a user may write with ~ or $VAR.
PATH_FIELDS = (
    ("results", ("results",)),
    ("input.opensamples_dir", ("input", "opensamples_dir")),
    ("input.zenodo.download_dir", ("input", "zenodo", "download_dir")),
    ("synthetic.resources_dir", ("synthetic", "resources_dir")),
)
# nuwire's own folders: a results directory there would mix outputs with the code and its tests.
OWN_FOLDERS = ("workflow", "src", "config", "profiles", "envs", "tests", "docs", "requirements")


def expand_path(value: str, field: str) -> str:
    """`value` with `~` and environment variables expanded; an unset variable is refused (left
    as it is, `$DATA/x` would be a directory named `$DATA`)."""
    expanded = os.path.expandvars(os.path.expanduser(value))
    unset = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", expanded)
    if unset:
        raise ConfigError(
            f"{field}: {value!r} names the environment variable ${unset[0]}, which is not set in the "
            "environment Snakemake runs in. Export it, or write the path out in the config."
        )
    return expanded


def expand_config_paths(config: dict[str, Any]) -> None:
    """Expand `~` and environment variables in every path field of `config`, in place (a path
    without them stays the same string, so existing runs see the same config)."""
    for field, keys in PATH_FIELDS:
        section: Any = config
        for key in keys[:-1]:
            section = section.get(key) if isinstance(section, dict) else None
        if isinstance(section, dict) and isinstance(section.get(keys[-1]), str):
            section[keys[-1]] = expand_path(section[keys[-1]], field)


def described(path: str | os.PathLike[str]) -> str:
    """`path`, followed for a relative one by the directory it is relative to."""
    if Path(path).is_absolute():
        return str(path)
    return f"{path} (relative to the working directory {Path.cwd()})"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_results_dir(results: str, workflow_dir: str | os.PathLike[str], input_dirs: dict[str, str]) -> None:
    """Refuse a `results:` that is empty, the file system root, a file (or below one), an input
    directory or inside it, or the workflow's own tree (its directory, a folder above it, or one
    of its code folders). `input_dirs` maps a config field to its directory."""
    if not results.strip():
        raise ConfigError(
            "results: is empty. Set it to the directory that should hold the run's outputs, e.g. results."
        )
    where = Path(results).resolve()
    if where == Path(where.anchor):
        raise ConfigError(
            f"results: {described(results)} is the root of the file system; the run would write its "
            "config.yaml, logs/ and images/ there. Set it to a directory of its own, e.g. results."
        )
    existing = next(p for p in (where, *where.parents) if p.exists())
    if not existing.is_dir():
        what = "is a file" if existing == where else f"is below the file {existing}"
        raise ConfigError(
            f"results: {described(results)} {what}, not a directory, so no output can be written there. "
            "Set results to a directory (it is created if missing), or move the file away."
        )
    for field, directory in input_dirs.items():
        if directory and _inside(where, Path(directory).resolve()):
            raise ConfigError(
                f"results: {described(results)} is {field} ({directory}) or inside it; the input files "
                "must never be written. Set results to a directory outside the input directory."
            )
    own = Path(workflow_dir).resolve()
    if _inside(own, where) or any(_inside(where, own / folder) for folder in OWN_FOLDERS):
        raise ConfigError(
            f"results: {described(results)} is nuwire's own tree ({own}) or one of its code folders; "
            "the run would write among the workflow's files. Use a directory of its own, e.g. results "
            "(the default) or one in your analysis directory."
        )
