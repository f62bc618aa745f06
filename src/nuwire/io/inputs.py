"""Which input files a run uses, by sample name (the file's stem): every file named, none dropped."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from nuwire.errors import ConfigError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Names HDF5 files go by; one of these that the pattern leaves out is mentioned, not used.
HDF5_SUFFIXES = {".h5", ".hdf5", ".he5", ".hdf", ".h5py"}


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


def hdf5_problem(path: str | os.PathLike[str]) -> str | None:
    """Why `path` cannot be an HDF5 file from its first bytes, or None: empty, unreadable, or no
    HDF5 signature at offset 0 or at a user-block offset (512, 1024, 2048, ... bytes). Reads at
    most a few bytes per offset, so thousands of files are checked in seconds."""
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "is empty (0 bytes)"
        with open(path, "rb") as fh:
            offset = 0
            while offset + len(HDF5_SIGNATURE) <= size:
                fh.seek(offset)
                if fh.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                    return None
                offset = 512 if offset == 0 else offset * 2
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    return f"is not an HDF5 file ({size:,} bytes without the HDF5 signature)"


def check_hdf5_signatures(files: Iterable[str | os.PathLike[str]], field: str = "input.opensamples_dir") -> None:
    """Every input file read up front: all files that are empty or not HDF5 in one message,
    rather than one failed render job each."""
    problems = [(str(f), why) for f in files if (why := hdf5_problem(f)) is not None]
    if problems:
        shown = "; ".join(f"{path}: {why}" for path, why in problems[:20])
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ConfigError(
            f"{field}: {len(problems)} input file{'s are' if len(problems) > 1 else ' is'} not usable: "
            f"{shown}{more}. Re-copy {'them' if len(problems) > 1 else 'it'} from the source (compare "
            "size and checksum), or remove them from the input directory; no job was started."
        )


def look_alikes(directory: str | os.PathLike[str], pattern: str, used: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files in `directory` (recursively when the pattern recurses) named like HDF5 files that
    `pattern` does not select: e.g. `.hdf5` or `.H5` next to the `*.h5` inputs."""
    root = Path(directory)
    taken = {Path(u).resolve() for u in used}
    candidates = root.rglob("*") if "**" in pattern else root.glob("*")
    return sorted(
        str(p) for p in candidates if p.suffix.lower() in HDF5_SUFFIXES and p.is_file() and p.resolve() not in taken
    )
