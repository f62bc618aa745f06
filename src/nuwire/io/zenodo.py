"""The real WithWire files from their Zenodo records: the record listing, and verified copies.

A record's public metadata (GET BASE_URL/api/records/ID) lists each file's name (`key`), size,
checksum ("md5:...") and download link (`links.self`). The listing is fetched once per record and
kept in the results directory; the Snakemake storage plugin for HTTP downloads each file, and
`verified_copy` puts it into the download directory only once its size and MD5 match the listing,
through a temporary file renamed at the end, so a partial or damaged file never carries the name a
render job reads.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import posixpath
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nuwire.errors import ConfigError, InputFileError
from nuwire.io.atomic import atomic_path, write_json
from nuwire.io.inputs import samples_by_stem

CHUNK = 8 << 20
TIMEOUT_S = 60


@dataclass(frozen=True)
class RemoteFile:
    record: int
    key: str
    size: int
    md5: str
    url: str


def listing_url(base_url: str, record: int) -> str:
    return f"{base_url.rstrip('/')}/api/records/{record}"


def parse_listing(metadata: dict[str, Any], record: int, base_url: str) -> list[RemoteFile]:
    """The files of a record's metadata; a file without an MD5 checksum is refused (it could not be
    verified)."""
    files = metadata.get("files")
    if not isinstance(files, list):
        raise ConfigError(
            f"input.zenodo: {listing_url(base_url, record)} has no 'files' list; is input.zenodo.base_url "
            "the records API of a Zenodo (or compatible) server?"
        )
    out = []
    for entry in files:
        key = str(entry.get("key", ""))
        algorithm, _, digest = str(entry.get("checksum", "")).partition(":")
        if algorithm != "md5" or not digest:
            raise ConfigError(
                f"input.zenodo: file {key!r} of record {record} lists checksum {entry.get('checksum')!r}, "
                "not 'md5:...'; it cannot be verified."
            )
        url = entry.get("links", {}).get("self") or f"{listing_url(base_url, record)}/files/{key}/content"
        out.append(RemoteFile(record=record, key=key, size=int(entry["size"]), md5=digest, url=url))
    return out


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in; raises ValueError for a bad port."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def unsafe_key(key: str) -> str | None:
    """Why a listed file name cannot be a local file name, or None. The local name is the key
    itself, so it must be a plain base name: no directory part, no absolute path, no `..`."""
    if not key or key in {".", ".."}:
        return "is empty or a dot name"
    if key.startswith(("/", "\\")) or (len(key) > 1 and key[1] == ":"):
        return "is an absolute path"
    if "/" in key or "\\" in key or posixpath.basename(key) != key:
        return "has a directory part (the local name must be a plain file name)"
    if "\x00" in key:
        return "holds a NUL character"
    return None


def unsafe_link(url: str, base_url: str) -> str | None:
    """Why a file's download link is not one nuwire fetches, or None: it must be on the configured
    server (scheme, host and port of `base_url`), carry no user name, and its path must have no
    `.`, `..` or empty segment, also percent-decoded (the HTTP storage plugin makes its local copy's
    path from the link's host and path, so a `..` would put that copy outside its directory)."""
    try:
        parts = urllib.parse.urlsplit(url)
        if _origin(url) != _origin(base_url) or "@" in parts.netloc:
            return f"is not on the configured server {base_url} (input.zenodo.base_url)"
    except ValueError as err:
        return f"is not a valid URL ({err})"
    if "\\" in url or any(ord(c) < 0x20 for c in url):
        return "holds a backslash or a control character"
    for path in (parts.path, urllib.parse.unquote(parts.path)):
        segments = path.split("/")[1:]
        if not segments or any(s in {"", ".", ".."} for s in segments) or posixpath.normpath(path) != path:
            return "has a '.', '..' or empty path segment"
    return None


def check_listed_file(f: RemoteFile, base_url: str) -> None:
    """Refuse a listed file whose name or link could read, write or delete anything outside the
    download directory (checked before anything is fetched, for kept listings too)."""
    why = unsafe_key(f.key)
    what = f"name {f.key!r}" if why else f"link {f.url!r}"
    why = why or unsafe_link(f.url, base_url)
    if why:
        raise ConfigError(
            f"input.zenodo: record {f.record} lists file {f.key!r} whose {what} {why}; nuwire refuses "
            "the listing rather than fetch or write anything outside input.zenodo.download_dir. Check "
            "input.zenodo.records and input.zenodo.base_url (a mirror must list links on its own "
            f"server), and delete the kept listing {f.record}.json under the results' zenodo/ folder "
            "if the server was fixed."
        )


def record_listing(base_url: str, record: int, cache_dir: str | os.PathLike[str]) -> list[RemoteFile]:
    """The record's files, from `cache_dir/RECORD.json` when it was fetched from the same server
    before, else fetched once and kept there."""
    cached = Path(cache_dir) / f"{record}.json"
    if cached.exists():
        kept = json.loads(cached.read_text())
        if kept.get("base_url") == base_url:
            return [RemoteFile(**f) for f in kept["files"]]
    url = listing_url(base_url, record)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            metadata = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise ConfigError(
            f"input.zenodo: cannot read the listing of record {record} from {url} ({err}). Check the "
            "network and input.zenodo.base_url, or download the files and use input.source: opensamples."
        ) from None
    files = parse_listing(metadata, record, base_url)
    write_json(cached, {"base_url": base_url, "record": record, "files": [asdict(f) for f in files]})
    return files


def remote_files(zenodo: dict[str, Any], cache_dir: str | os.PathLike[str]) -> dict[str, RemoteFile]:
    """{sample: file} of every record's files matching `zenodo['pattern']`; two files of one name
    (in two records) are refused rather than one dropped."""
    by_key: dict[str, RemoteFile] = {}
    for record in zenodo["records"]:
        for f in record_listing(zenodo["base_url"], int(record), cache_dir):
            # A key is checked when it or its base name matches the pattern (`*` matches `/` in
            # fnmatch, so `../x_WithWire_0.h5` would); the record's other files are never fetched.
            if fnmatch.fnmatch(f.key, zenodo["pattern"]) or fnmatch.fnmatch(
                posixpath.basename(f.key), zenodo["pattern"]
            ):
                check_listed_file(f, zenodo["base_url"])
                # A path per (record, key), so samples_by_stem sees both files of a shared name.
                by_key[f"record {record}/{f.key}"] = f
    not_h5 = sorted(key for key in by_key if not key.endswith(".h5"))
    if not_h5:
        raise ConfigError(
            f"input.zenodo.pattern {zenodo['pattern']!r} matches files that are not .h5: {not_h5[:3]}; "
            "narrow it to the WithWire HDF5 files."
        )
    samples = samples_by_stem(by_key, field="input.zenodo.records")
    if not samples:
        raise ConfigError(
            f"input.zenodo: no file of records {zenodo['records']} matches pattern {zenodo['pattern']!r}."
        )
    return {stem: by_key[path] for stem, path in samples.items()}


def verified_copy(source: str | os.PathLike[str], target: str | os.PathLike[str], remote: RemoteFile) -> None:
    """Copy the downloaded `source` to `target` if its size and MD5 are the listing's; otherwise
    nothing is written under `target` and the error names the file and both checksums."""
    if ".." in Path(source).parts:  # never delete or read through a path that climbs out of its folder
        raise InputFileError(f"{source}: the storage plugin's copy of {remote.key} is not inside its directory.")
    size = os.path.getsize(source)
    digest = hashlib.md5(usedforsecurity=False)
    with atomic_path(target) as tmp, open(source, "rb") as src, open(tmp, "wb") as dst:
        while block := src.read(CHUNK):
            digest.update(block)
            dst.write(block)
        if size != remote.size or digest.hexdigest() != remote.md5:
            # The download itself goes too, so that a rerun fetches the file again instead of
            # checking the same bad copy (the storage plugin keeps a copy it thinks complete).
            Path(source).unlink(missing_ok=True)
            raise InputFileError(
                f"{remote.url}: the downloaded {remote.key} has {size:,} bytes and MD5 {digest.hexdigest()}, "
                f"but record {remote.record} lists {remote.size:,} bytes and MD5 {remote.md5}. It was not "
                "kept; run again to download it again (if it fails the same way, the record or a proxy "
                "serves another file than the listing says)."
            )
