"""Configuration checks a JSON schema cannot express, and loading a config outside Snakemake.

Snakemake validates `config/*.yaml` against the package's `nuwire/config.schema.yaml`
(`snakemake.utils.validate`), then calls `check_config` before any job is planned. Every error names
the field (as a dotted path) and the valid choices.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from nuwire.architectures import check_architecture
from nuwire.errors import ConfigError
from nuwire.events.cuts import check_split_fractions
from nuwire.geometry import Geometry, get_geometry
from nuwire.io.atomic import write_text

# Re-exported: the schema and its validation live in nuwire.schema (a base module).
from nuwire.schema import validate_with_schema

if TYPE_CHECKING:
    from nuwire.events.sweep import SweepPoint


def check_config(config: dict[str, Any]) -> None:
    """Cross-field checks; raises ConfigError naming the field."""
    from nuwire.images.render import RenderParams  # local: render imports pyarrow

    RenderParams.from_config(config["render"])  # its cross-field check: saturation above threshold
    check_split_fractions((config["split"]["train"], config["split"]["val"], config["split"]["test"]))
    source = config["input"]["source"]
    if source == "opensamples":
        directory = config["input"].get("opensamples_dir")
        if not directory:
            raise ConfigError(
                "input.opensamples_dir is required when input.source is 'opensamples': set it to the "
                "directory holding the WithWire *.h5 files."
            )
        if not Path(directory).is_dir():
            from nuwire.pipeline.paths import described

            what = "it is a file" if Path(directory).exists() else "it does not exist"
            raise ConfigError(
                f"input.opensamples_dir: {described(directory)} is not a directory ({what}). Point it at the directory "
                "holding the OpenSamples WithWire *.h5 files (~ and $VARIABLES are expanded)."
            )
    elif source == "synthetic" and "synthetic" not in config:
        raise ConfigError("synthetic: section required when input.source is 'synthetic'.")
    cuts = sorted(config["cuts"])
    archs = sorted(config["architectures"])
    for i, block in enumerate(config["sweep"]):
        for cut in block["cut"]:
            if cut not in config["cuts"]:
                raise ConfigError(f"sweep[{i}].cut: unknown cut {cut!r}; defined under cuts: {cuts}.")
        for arch in block["arch"]:
            check_architecture(arch, f"sweep[{i}].arch")
            if arch not in config["architectures"]:
                raise ConfigError(
                    f"sweep[{i}].arch: {arch!r} has no settings under architectures: (defined: {archs}); "
                    "add an architectures entry for it."
                )


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The effective config of the file at `path`: the file, then the workflow's defaults."""
    with open(path) as fh:
        config = yaml.safe_load(fh) or {}
    validate_with_schema(config)
    check_config(config)
    return config


def write_effective_config(config: dict[str, Any], path: str | os.PathLike[str], config_hash: str) -> None:
    """The config a run used, defaults filled in, as YAML; its hash is the provenance's config hash."""
    header = (
        "# The effective configuration of this run: the user's config with the workflow's defaults\n"
        "# filled in (nuwire/config.schema.yaml). Models' hparams not listed keep the\n"
        f"# model's defaults. config_hash (SHA-256 of its canonical JSON): {config_hash}\n"
    )
    write_text(path, header + yaml.safe_dump(config, sort_keys=True, default_flow_style=False))


def check_point_images(config: dict[str, Any], points: Sequence[SweepPoint], geometry: Geometry) -> None:
    """Refuse, naming the point, a sweep point whose scale leaves an image axis empty for the
    rendered images of `geometry` (render.downsample), before any job runs."""
    from nuwire.images.render import RenderParams  # local: render imports pyarrow

    ds = config["render"]["downsample"]
    params = RenderParams(dw=ds["wire"], dt=ds["time"], threshold=0.0, saturation=1.0)
    for point in points:
        for plane in point.planes:
            height, width = params.image_shape(geometry.n_wires[plane], geometry.n_ticks)
            scaled = (math.floor(height * point.scale_value), math.floor(width * point.scale_value))
            if min(scaled) < 1:
                smallest = 1 / min(height, width)
                raise ConfigError(
                    f"sweep point {point.path}: scale {point.scale} shrinks the plane {plane} image of "
                    f"{height} × {width} pixels (geometry {geometry.name!r}, {geometry.n_ticks} ticks × "
                    f"{geometry.n_wires[plane]} wires, render.downsample {ds['time']} × {ds['wire']}) to "
                    f"{scaled[0]} × {scaled[1]}. Use a scale of at least {smallest:.3g} in the sweep."
                )


# Input sides from which on every architecture's layers fit (AlexNet, the most demanding, needs 63
# pixels); only points with a smaller side pay for importing torch to check them.
SAFE_INPUT_SIDE = 64


def check_point_models(config: dict[str, Any], points: Sequence[SweepPoint], geometry: Geometry) -> None:
    """Refuse, naming the point, one whose model cannot take its images (too small for the
    architecture's layers): the model's own shape check on torch's meta device, no memory. Points
    whose inputs are at least SAFE_INPUT_SIDE on both sides are not checked (importing torch takes
    seconds, on every snakemake call)."""
    import torch  # local: torch is only imported where this is called

    from nuwire.images.render import RenderParams
    from nuwire.models import build_model

    ds = config["render"]["downsample"]
    params = RenderParams(dw=ds["wire"], dt=ds["time"], threshold=0.0, saturation=1.0)
    checked: set[tuple[str, tuple[tuple[int, int], ...]]] = set()
    for point in points:
        shapes = []
        for plane in point.planes:
            height, width = params.image_shape(geometry.n_wires[plane], geometry.n_ticks)
            scaled = (math.floor(height * point.scale_value), math.floor(width * point.scale_value))
            shapes.append(scaled if point.crop is None else (point.crop, point.crop))
        key = (point.arch, tuple(shapes))
        if key in checked or min(min(s) for s in shapes) >= SAFE_INPUT_SIDE:
            continue
        checked.add(key)
        hparams = dict(config["architectures"][point.arch]["hparams"])
        try:
            with torch.device("meta"):  # shapes only, no weights in memory
                build_model(point.arch, shapes, **hparams)
        except ConfigError as err:
            raise ConfigError(f"sweep point {point.path}: {err}") from None


def input_geometry(config: dict[str, Any], first_input: str | os.PathLike[str] | None) -> Geometry | None:
    """The readout the images will have: the synthetic geometry, or what the first input file says
    (None when it cannot be read; its render job then reports why)."""
    if config["input"]["source"] == "synthetic":
        return get_geometry(config["synthetic"]["geometry"])  # check_config: present for this source
    if first_input is None:
        return None
    from nuwire.io.opensamples import readout_geometry

    return readout_geometry(first_input)


# The {sample} wildcard's pattern (workflow/rules/common.smk): input file stems must match it.
SAMPLE_NAME = "[A-Za-z0-9_.-]+"


def check_sample_names(inputs: dict[str, str]) -> None:
    """Refuse input files whose stem the {sample} wildcard cannot match (no job could render them)."""
    import re

    bad = sorted(stem for stem in inputs if not re.fullmatch(SAMPLE_NAME, stem))
    if bad:
        stem = bad[0]
        suggestion = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_.-]", "_", stem)).strip("_")
        others = (
            f" ({len(bad)} files: {', '.join(repr(b) for b in bad[:5])}{' ...' if len(bad) > 5 else ''})"
            if len(bad) > 1
            else ""
        )
        raise ConfigError(
            f"{inputs[stem]}: the name {stem!r} has characters outside {SAMPLE_NAME}, the pattern of the "
            f"{{sample}} wildcard of rule render (results/images/{{sample}}.parquet), so no job could make "
            f"its images{others}. Rename the file (e.g. to {suggestion + '.h5'!r}) or leave it out with "
            "input.pattern in the config."
        )
