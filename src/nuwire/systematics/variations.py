"""Named detector variations: a change to one plane's wire ADC before the unchanged render formula.

A variation (the config's `systematics.<name>`) may combine, applied in this order:

time_shift     ticks the readout is moved later (earlier if negative); ticks moved in are 0. The
               event index's vertex is not moved, so crops see the vertex misplaced by as much.
gain           factor on every ADC value (a gain or recombination off by some percent).
noise          σ in ADC of Gaussian noise added to every tick of every wire, inside and outside the
               regions of interest; the render threshold then removes what it can. Seeded per
               (seed, sample, run, subrun, event, plane): the same event gets the same noise in
               every job, two events independent noise.
dead_fraction  fraction of the plane's wires zeroed on top of the file's own dead wires, in aligned
               groups of `dead_group` wires (real channels fail by front-end board). The same
               wires for every event of a plane (a detector has one dead-channel map), seeded by
               (seed, plane); dead wires read 0, noise included.

A variation of zero size (gain 1, noise 0, dead_fraction 0, time_shift 0) returns the ADC array
itself: its images are the nominal ones, byte for byte.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from nuwire.errors import ConfigError
from nuwire.schema import check_section, schema

# The schema's defaults of a variation (systematics.<name>.*), the one home of them.
DEFAULTS: dict[str, Any] = {
    key: spec["default"]
    for key, spec in schema()["properties"]["systematics"]["additionalProperties"]["properties"].items()
}
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_]*$"
_DEAD_STREAM = 0xDEAD  # separates the dead-channel draws from the noise draws of the same seed


@dataclass(frozen=True)
class Variation:
    """One named detector variation (see the module doc for each field)."""

    name: str
    gain: float
    noise: float
    dead_fraction: float
    dead_group: int
    time_shift: int
    seed: int

    def __post_init__(self) -> None:
        # Types and ranges are the schema's; it cannot say "finite".
        check_section({self.name: {f.name: getattr(self, f.name) for f in fields(self)[1:]}}, "systematics")
        for key in ("gain", "noise", "dead_fraction"):
            value = getattr(self, key)
            if not math.isfinite(value):
                raise ConfigError(f"systematics.{self.name}.{key} = {value!r}: must be a finite number.")
            object.__setattr__(self, key, float(value))

    @classmethod
    def from_config(cls, name: str, section: Mapping[str, Any]) -> Variation:
        """From the config's `systematics.<name>` (the schema's defaults for what it leaves out)."""
        unknown = sorted(set(section) - set(DEFAULTS))
        if unknown:
            raise ConfigError(f"systematics.{name}: unknown keys {unknown}; known: {sorted(DEFAULTS)}.")
        return cls(name=name, **{**DEFAULTS, **dict(section)})

    @property
    def is_nominal(self) -> bool:
        """True for a variation of zero size: the ADC is returned unchanged."""
        return self.gain == 1.0 and self.noise == 0.0 and self.dead_fraction == 0.0 and self.time_shift == 0

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def describe(self) -> str:
        """The changes in words, e.g. 'gain ×1.1, noise σ 5 ADC'."""
        parts = []
        if self.time_shift:
            parts.append(f"time shifted {self.time_shift:+d} ticks")
        if self.gain != 1.0:
            parts.append(f"gain ×{self.gain:g}")
        if self.noise:
            parts.append(f"noise σ {self.noise:g} ADC")
        if self.dead_fraction:
            parts.append(f"{self.dead_fraction:.0%} more dead wires (groups of {self.dead_group})")
        return ", ".join(parts) or "nominal (no change)"

    def apply(self, adc: np.ndarray, plane: int, key: tuple[str, int, int, int]) -> np.ndarray:
        """The varied ADC of one plane (n_wires, n_ticks) of the event `key` = (sample, run, subrun,
        event); a new array unless the variation is of zero size."""
        if self.is_nominal:
            return adc
        out = shift_ticks(adc, self.time_shift)
        if self.gain != 1.0:
            out = out * np.asarray(self.gain, dtype=adc.dtype)
        if self.noise:
            noise = event_rng(self.seed, plane, key).standard_normal(adc.shape, dtype=np.float32)
            out = out + (noise * np.float32(self.noise)).astype(adc.dtype, copy=False)
        if self.dead_fraction:
            out = np.array(out, copy=True) if out is adc else out
            out[
                dead_wires(
                    adc.shape[0], fraction=self.dead_fraction, group=self.dead_group, seed=self.seed, plane=plane
                )
            ] = 0
        return out


def shift_ticks(adc: np.ndarray, shift: int) -> np.ndarray:
    """The readout moved `shift` ticks later (earlier if negative); the ticks moved in are 0."""
    if shift == 0:
        return adc
    out = np.zeros_like(adc)
    if abs(shift) < adc.shape[1]:
        if shift > 0:
            out[:, shift:] = adc[:, :-shift]
        else:
            out[:, :shift] = adc[:, -shift:]
    return out


def event_rng(seed: int, plane: int, key: tuple[str, int, int, int]) -> np.random.Generator:
    """The noise generator of one plane of one event: a function of the seed, plane and event only."""
    sample, run, subrun, event = key
    words = [seed, plane, zlib.crc32(str(sample).encode()), *(int(v) & 0xFFFFFFFF for v in (run, subrun, event))]
    return np.random.default_rng(words)


def dead_wires(n_wires: int, *, fraction: float, group: int, seed: int, plane: int) -> np.ndarray:
    """Sorted indices of the wires a dead_fraction variation zeroes on a plane of `n_wires`: the
    nearest whole number of aligned groups of `group` wires to fraction × n_wires (a trailing
    partial group counts as a group), chosen without replacement by the (seed, plane) generator."""
    n_groups = -(-n_wires // group)
    k = min(n_groups, round(fraction * n_wires / group))
    chosen = np.sort(np.random.default_rng([seed, plane, _DEAD_STREAM]).choice(n_groups, size=k, replace=False))
    wires = (chosen[:, None] * group + np.arange(group)[None, :]).reshape(-1)
    return wires[wires < n_wires]


def variations_from_config(config: Mapping[str, Any]) -> dict[str, Variation]:
    """{name: Variation} of the config's `systematics` section (empty without one), validated."""
    out = {}
    for name, section in sorted((config.get("systematics") or {}).items()):
        if not re.match(NAME_PATTERN, str(name)):
            raise ConfigError(
                f"systematics.{name}: a variation name is letters, digits and underscores (it names a directory)."
            )
        if not isinstance(section, Mapping):
            raise ConfigError(f"systematics.{name}: give a mapping of changes, e.g. {{gain: 1.1}}.")
        out[str(name)] = Variation.from_config(str(name), section)
    return out
