"""Which input files a run uses, by sample name (the file's stem): every file named, none dropped."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from nuwire.errors import ConfigError


def samples_by_stem(files: Iterable[str | os.PathLike[str]], field: str = "input.pattern") -> dict[str, str]:
    """{stem: path} of `files`; refuses two files with one stem (a recursive pattern over two sample
    folders), which would otherwise leave one of them out of the run without a word."""
    samples: dict[str, str] = {}
    for path in sorted(str(f) for f in files):
        stem = Path(path).stem
        if stem in samples:
            raise ConfigError(
                f"{field}: two input files share the name {stem!r}: {samples[stem]} and {path}. Each "
                "file's name (without .h5) names its images and results, so it must be unique: narrow "
                "the pattern to one copy, or rename one of them."
            )
        samples[stem] = path
    return samples


def sample_group(sample: str) -> str:
    """A sample's group, its name up to the first `_`: `bnb_WithWire_03` -> `bnb`."""
    return sample.split("_", 1)[0]
