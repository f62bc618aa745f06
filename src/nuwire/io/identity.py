"""Which content an input file has, cheaply: what makes a render job rerun when its input was
replaced, whatever the replacement's timestamp (`cp -p`, `rsync -a` keep the source's mtime, so
Snakemake's mtime trigger misses them), and not when it was merely touched.

The render rule's `params.input_id` is `input_identity(...)`: Snakemake stores it with the job
and reruns the job when it differs. Reading gigabytes on every DAG build is not an option, so:

1. the file's stat key (size, mtime, ctime, inode, device) is looked up in a small cache kept in
   Snakemake's own directory (`.snakemake/nuwire-input-ids.json`, next to the params Snakemake
   compares): an unchanged stat key gives the identity of the last build without reading a byte;
2. a new stat key (a new file, a touch, a replacement: no way to write a file leaves its ctime)
   costs a *sampled fingerprint*: SHA-256 of the size, the first and last MiB (the superblock and
   most of the HDF5 metadata), and 64 blocks of 64 KiB spread evenly over the file, about 6 MiB
   read per file. A different fingerprint is a different identity: the job reruns;
3. an equal fingerprint under a new stat key is a touch, or a change the samples missed (same
   size, all changed bytes between the samples). Only then is the whole file hashed, once, and
   compared with the SHA-256 of the file the render job actually read (its QC record,
   `input_sha256`): equal keeps the identity, different makes a new one.

So the identity changes exactly when the content differs from what was rendered; it reads
nothing for an unchanged file, ~6 MiB for a replaced one, and the whole file only after a touch
(once per touch). What it can miss: a change that keeps size, mtime, ctime and inode (only by
writing the device or resetting the clock), or a file changed while its render job reads it
(the job refuses that itself). Deleting `.snakemake/` forgets the cache: the next build takes
fingerprints again (same values), nothing reruns.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nuwire.io.atomic import write_json

HEAD_TAIL = 1 << 20  # bytes read at each end
SAMPLES = 64  # sampled blocks in between
SAMPLE = 64 << 10  # bytes per sampled block
CHUNK = 8 << 20
VERSION = "fp1"  # the fingerprint recipe: a new one changes every identity (and reruns every render) once


def stat_key(path: str | os.PathLike[str]) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def sampled_fingerprint(path: str | os.PathLike[str]) -> str:
    """`fp1:` + SHA-256 of the size, the first and last MiB and 64 evenly spread 64 KiB blocks."""
    size = os.path.getsize(path)
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        if size <= 2 * HEAD_TAIL + SAMPLES * SAMPLE:
            while block := fh.read(CHUNK):  # small file: all of it
                digest.update(block)
        else:
            inner = size - 2 * HEAD_TAIL - SAMPLE
            offsets = [0] + [HEAD_TAIL + inner * i // (SAMPLES - 1) for i in range(SAMPLES)] + [size - HEAD_TAIL]
            for offset, length in zip(offsets, [HEAD_TAIL] + [SAMPLE] * SAMPLES + [HEAD_TAIL]):
                fh.seek(offset)
                digest.update(fh.read(length))
    return f"{VERSION}:{digest.hexdigest()}"


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


class IdentityCache:
    """{path: {"stat": stat key, "id": identity}} in a JSON file. `flush()` writes it once, if it
    changed and this process may (`writable`: the main Snakemake process, not a cluster job);
    the workflow flushes when the DAG is built and at exit, not once per file."""

    def __init__(self, path: str | os.PathLike[str], writable: bool) -> None:
        self.path = Path(path)
        self.writable = writable
        self.dirty = False
        try:
            self.entries: dict[str, dict[str, Any]] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self.entries.get(key)
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, stat: list[int], identity: str) -> None:
        if self.entries.get(key) != {"stat": stat, "id": identity}:
            self.entries[key] = {"stat": stat, "id": identity}
            self.dirty = True

    def flush(self) -> None:
        if self.dirty and self.writable:
            try:
                write_json(self.path, self.entries)
                self.dirty = False
            except OSError:  # a cache: without it the next build only reads the samples again
                pass


def input_identity(
    path: str | os.PathLike[str], cache: IdentityCache, rendered_sha256: Callable[[], str | None]
) -> str:
    """The identity of `path`'s content for the render job's params (see the module docstring).
    `rendered_sha256()` gives the SHA-256 its last render job read, or None if none has."""
    key = str(Path(path).absolute())
    stat = stat_key(path)
    entry = cache.get(key)
    if entry is not None and entry.get("stat") == stat:
        return str(entry["id"])
    fingerprint = sampled_fingerprint(path)
    identity = fingerprint
    if entry is not None and str(entry.get("id", "")).startswith(fingerprint):
        # Same samples under a new stat key: a touch, or a change between the samples.
        rendered = rendered_sha256()
        whole = sha256_file(path) if rendered is not None else None
        identity = str(entry["id"]) if whole == rendered else f"{fingerprint}+{whole}"
    cache.put(key, stat, identity)
    return identity
