"""Errors a user can act on. Each message names the file, key or config field and says what to do.

Entry points (the CLI and the Snakemake scripts) print these as one paragraph, without a traceback;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class NuwireError(Exception):
    """Base class: an input or configuration problem the user can fix."""


class InputFileError(NuwireError):
    """An input HDF5 file that cannot be used as it is (names the file)."""


class ConfigError(NuwireError):
    """A configuration mistake (names the field and the valid choices)."""


class CheckpointError(NuwireError):
    """A checkpoint that does not belong to this job's configuration."""


class OutputError(NuwireError):
    """An output that cannot be written (permission, read-only or full file system); names the path."""
