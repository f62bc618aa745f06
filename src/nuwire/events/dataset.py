"""The dataset stage: event index with stable splits, statistics, QC summary and figures.

The event index (`events.parquet`) has one row per *rendered* event: truth from the HDF5 event
table, the Pandora and true vertices in image pixel coordinates, pixel counts per plane from the
image Parquet, and a train/val/test split that depends only on the event's own key, so adding files
never moves an event that was already assigned. Events the renderer skipped are not in the index;
the QC records account for them (`qc_summary.tsv`). Statistics are computed from the truth of every
event in the files, rendered or not, with the same code as `nuwire inspect`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nuwire.errors import NuwireError
from nuwire.events.cuts import SPLITS, check_split_fractions
from nuwire.geometry import N_PLANES
from nuwire.images.render import RenderParams, count_reasons
from nuwire.io.atomic import atomic_path
from nuwire.io.inputs import sample_group
from nuwire.io.inspect import PDGS, composition
from nuwire.io.keys import FILE_EVENT_KEY
from nuwire.io.opensamples import OpenSamplesFile
from nuwire.io.readers import open_parquet, parquet_error

PathLike = str | os.PathLike[str]
CATEGORIES = ("nue_cc", "numu_cc", "nc")
KEY = list(FILE_EVENT_KEY)
# A file may lose this fraction of its events to skips (reasons in the QC) before the stage stops.
DEFAULT_MAX_SKIPPED_FRACTION = 0.05

INDEX_COLUMNS = (
    ["sample", "sample_group", "run", "subrun", "event", "is_cc", "nu_pdg", "nu_energy", "lep_energy"]
    + ["category", "antineutrino", "label"]
    + [f"reco_row_p{p}" for p in range(N_PLANES)]
    + [f"reco_col_p{p}" for p in range(N_PLANES)]
    + [f"truth_row_p{p}" for p in range(N_PLANES)]
    + [f"truth_col_p{p}" for p in range(N_PLANES)]
    + [f"npix_p{p}" for p in range(N_PLANES)]
    + [f"height_p{p}" for p in range(N_PLANES)]
    + [f"width_p{p}" for p in range(N_PLANES)]
    + ["split"]
)


def sample_name(path: PathLike) -> str:
    """A sample is one input file, named by its stem."""
    return Path(path).stem


# -- splits ----------------------------------------------------------------------------------
def split_uniform(keys: pd.DataFrame) -> np.ndarray:
    """A number in [0, 1) per event (row of `keys`, with columns sample, run, subrun and event)
    from sha256 of "sample/run/subrun/event" (first 8 bytes)."""
    columns = (keys[c] for c in ("sample", "run", "subrun", "event"))
    text = (f"{s}/{int(r)}/{int(sr)}/{int(e)}" for s, r, sr, e in zip(*columns))
    ints = [int.from_bytes(hashlib.sha256(k.encode()).digest()[:8], "big") for k in text]
    # uint64 / 2^64, exact in float64 to 53 bits: never reaches 1.
    return np.asarray(ints, dtype=np.uint64).astype(np.float64) / 2.0**64


def assign_splits(keys: pd.DataFrame, fractions: Sequence[float] = (0.70, 0.15, 0.15)) -> np.ndarray:
    """train/val/test per event (row of `keys`: sample, run, subrun, event), from its own key only
    (stable when files are added)."""
    train, val, _ = check_split_fractions(fractions)
    u = split_uniform(keys)
    out = np.full(len(u), "test", dtype=object)
    out[u < train + val] = "val"
    out[u < train] = "train"
    return out


# -- inputs ----------------------------------------------------------------------------------
def read_truth(h5_files: Sequence[PathLike]) -> pd.DataFrame:
    """Truth and Pandora vertex of every event of every file, in file order (vectorised per file).

    Raises NuwireError if the same (run, subrun, event) appears twice: an event in two files would
    leak between the training and test sets; and if the files' readouts differ in size (wires per
    plane or `adc` ticks): their images could not share one model input.
    """
    stems = [sample_name(p) for p in h5_files]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        clash = [str(p) for p in h5_files if sample_name(p) == repeated[0]]
        raise NuwireError(
            f"input files {' and '.join(clash)} have the same name {repeated[0]!r}; a sample is named by its "
            "file stem, so every input file needs a different name. Rename or remove one."
        )
    frames = []
    readouts: dict[str, tuple[str, tuple[int, ...], int]] = {}
    for path in h5_files:
        with OpenSamplesFile(path) as f:
            truth = f.truth()
            reco = f.reco_vertices()
            readouts[str(path)] = (f.geometry.name, tuple(f.geometry.n_wires), f.n_ticks)
        sample = sample_name(path)
        truth = pd.concat([truth, reco.drop(columns=KEY)], axis=1)
        truth.insert(0, "sample_group", sample_group(sample))
        truth.insert(0, "sample", sample)
        truth["file"] = str(path)
        frames.append(truth)
    if not frames:
        raise NuwireError("dataset: no input HDF5 files were given; check the input directory in the config.")
    _check_one_readout_size(readouts)
    everything = pd.concat(frames, ignore_index=True)
    _check_duplicates(everything)
    return everything


def _check_one_readout_size(readouts: dict[str, tuple[str, tuple[int, ...], int]]) -> None:
    """Every file must have the same wires per plane and `adc` width (the most common one wins)."""
    sizes = Counter((wires, ticks) for _, wires, ticks in readouts.values())
    if len(sizes) < 2:
        return
    (wires, ticks), n_usual = sizes.most_common(1)[0]
    usual = [f for f, (_, w, t) in readouts.items() if (w, t) == (wires, ticks)]
    odd = [f for f in readouts if f not in usual]
    name, odd_wires, odd_ticks = readouts[odd[0]]
    others = ""
    if len(odd) > 1:
        others = f" ({len(odd)} files differ: {', '.join(odd[:3])}{', ...' if len(odd) > 3 else ''})"
    raise NuwireError(
        f"{odd[0]}: its /wire_table/adc is {odd_ticks} ticks wide with {'+'.join(map(str, odd_wires))} wires "
        f"per plane (geometry {name!r}), but {n_usual} of the {len(readouts)} input files, e.g. {usual[0]}, "
        f"have {ticks} ticks and {'+'.join(map(str, wires))} wires{others}. Images of one dataset must all have "
        "the same size: remove the odd file from the input directory, or run the files of each detector "
        "readout separately."
    )


def _check_duplicates(truth: pd.DataFrame) -> None:
    dup = truth.duplicated(KEY, keep=False)
    if not dup.any():
        return
    first = truth[dup].iloc[0]
    same = truth[dup & (truth.run == first.run) & (truth.subrun == first.subrun) & (truth.event == first.event)]
    files = list(dict.fromkeys(same["file"]))
    if len(files) > 1:
        raise NuwireError(
            f"event run {first.run}, subrun {first.subrun}, event {first.event} appears in both {files[0]} and "
            f"{files[1]} ({int(dup.sum())} rows share a key with another). The same event in two places would "
            "leak between training and test: remove the duplicate file from the input directory."
        )
    # One file holding an event more than once is a faulty file, not a duplicate file: removing
    # "the duplicate" would remove all of its events.
    raise NuwireError(
        f"{files[0]}: event run {first.run}, subrun {first.subrun}, event {first.event} appears {len(same)} times "
        f"inside this one file ({int(dup.sum())} rows of its event_table share a key with another). A "
        "duplicate inside one file would leak between training and test, and nuwire does not choose "
        "between the copies: re-copy or re-make the file (a merge or a writer that added events twice), "
        "or remove it from the input directory."
    )


def read_qc(qc_files: Sequence[PathLike]) -> dict[str, dict[str, Any]]:
    """QC records by sample."""
    out: dict[str, dict[str, Any]] = {}
    for path in qc_files:
        try:
            qc = json.loads(Path(path).read_text())
            sample = qc["sample"]
        except (OSError, ValueError, KeyError) as err:
            raise NuwireError(f"{path}: not a readable render QC record ({err}); re-run the render stage.") from None
        out[sample] = qc
    return out


def image_summary(parquet_path: PathLike) -> pd.DataFrame:
    """Per event: npix_p*, height_p*, width_p* from an image Parquet, one row group at a time.

    Pixel counts are list lengths; only the small `value` lists are decoded, never coordinates.
    """
    parts = []
    pf = open_parquet(parquet_path, made_by="render")
    try:
        for batch in pf.iter_batches(columns=KEY + ["plane", "height", "width", "value"], batch_size=3 * 64):
            frame = batch.select(KEY + ["plane", "height", "width"]).to_pandas()
            frame["npix"] = pc.list_value_length(batch.column("value")).to_numpy(zero_copy_only=False)
            parts.append(frame)
    except (OSError, pa.ArrowException) as err:  # a damaged row group past a good footer
        raise parquet_error(parquet_path, err, made_by="render") from err
    if not parts:
        columns = KEY + [f"{c}_p{p}" for c in ("npix", "height", "width") for p in range(N_PLANES)]
        return pd.DataFrame({c: pd.Series(dtype=np.int32) for c in columns})
    rows = pd.concat(parts, ignore_index=True)
    counts = rows.groupby(KEY, sort=False).size()
    if (counts != N_PLANES).any() or set(rows.plane.unique()) - set(range(N_PLANES)):
        raise NuwireError(
            f"{parquet_path}: some events do not have exactly one image per plane 0..2; the image "
            "file is damaged or not from nuwire render. Delete it and re-run the render stage."
        )
    wide = rows.pivot(index=KEY, columns="plane", values=["npix", "height", "width"])
    wide.columns = [f"{name}_p{plane}" for name, plane in wide.columns]
    wide = wide.reindex(counts.index).reset_index()  # back to file order
    for column in wide.columns:
        wide[column] = wide[column].astype(np.int32)
    return wide


def _match_inputs(
    h5_files: Sequence[PathLike], image_files: Sequence[PathLike], qc_files: Sequence[PathLike]
) -> tuple[dict[str, Path], dict[str, dict[str, Any]]]:
    """Image file and QC record of every input sample (by name); error naming what is missing."""
    images = {Path(p).name.removesuffix(".parquet"): Path(p) for p in image_files}
    qcs = read_qc(qc_files)
    samples = [sample_name(p) for p in h5_files]
    missing = [s for s in samples if s not in images or s not in qcs]
    if missing:
        raise NuwireError(
            f"dataset: no rendered images or QC record for {', '.join(missing)}; run the render stage "
            "for every input file first (snakemake does this when the dataset is asked for)."
        )
    return images, qcs


# -- the event index ---------------------------------------------------------------------------
def build_event_index(
    h5_files: Sequence[PathLike],
    image_files: Sequence[PathLike],
    qc_files: Sequence[PathLike],
    *,
    params: RenderParams,
    split_fractions: Sequence[float] = (0.70, 0.15, 0.15),
) -> pd.DataFrame:
    """The event index of the rendered events of `h5_files` (see docs/formats.md)."""
    return index_from_truth(read_truth(h5_files), image_files, qc_files, params=params, split_fractions=split_fractions)


def index_from_truth(
    truth: pd.DataFrame,
    image_files: Sequence[PathLike],
    qc_files: Sequence[PathLike],
    *,
    params: RenderParams,
    split_fractions: Sequence[float] = (0.70, 0.15, 0.15),
) -> pd.DataFrame:
    fractions = check_split_fractions(split_fractions)
    h5_by_sample = dict(zip(truth["sample"], truth["file"]))
    images, qcs = _match_inputs(list(h5_by_sample.values()), image_files, qc_files)
    parts = []
    for sample, events in truth.groupby("sample", sort=False):
        qc = qcs[sample]
        _check_qc(qc, events, params=params, image_path=images[sample])
        pixels = image_summary(images[sample])
        _check_rendered(qc, events, pixels=pixels, image_path=images[sample])
        parts.append(events.merge(pixels, on=KEY, how="inner", validate="one_to_one"))
    rendered = pd.concat(parts, ignore_index=True)
    return _index_columns(rendered, params, fractions)


def _check_qc(qc: dict[str, Any], events: pd.DataFrame, *, params: RenderParams, image_path: Path) -> None:
    sample = events["sample"].iloc[0]
    if qc.get("params") != json.loads(params.to_json()):
        raise NuwireError(
            f"{image_path}: rendered with {qc.get('params')}, but the configuration asks for "
            f"{json.loads(params.to_json())}; pixel coordinates would not match. Re-run the render stage."
        )
    if qc.get("events_in_file") != len(events) or not qc.get("reconciled"):
        raise NuwireError(
            f"QC of {sample}: {qc.get('events_in_file')} events rendered from, but "
            f"{events['file'].iloc[0]} holds {len(events)}; the images are stale. Re-run the render stage."
        )


def _check_rendered(qc: dict[str, Any], events: pd.DataFrame, *, pixels: pd.DataFrame, image_path: Path) -> None:
    """Rendered events + the QC's skipped events must be exactly the file's events."""
    skipped = pd.DataFrame(qc["skipped_events"], columns=KEY + ["index", "reason"])[KEY]
    accounted = pd.concat([pixels[KEY], skipped], ignore_index=True).astype(np.int64)
    expected = events[KEY].astype(np.int64)
    if len(accounted) != len(expected) or not accounted.sort_values(KEY).reset_index(drop=True).equals(
        expected.sort_values(KEY).reset_index(drop=True)
    ):
        raise NuwireError(
            f"{image_path}: its events plus the QC's {len(skipped)} skipped events do not match the "
            f"{len(expected)} events of {events['file'].iloc[0]}; the images are stale or from another "
            "file. Delete them and re-run the render stage."
        )


def _index_columns(df: pd.DataFrame, params: RenderParams, fractions: tuple[float, float, float]) -> pd.DataFrame:
    pdg = df["nu_pdg"].to_numpy()
    cc = df["is_cc"].to_numpy() == 1
    flavour = np.where(np.abs(pdg) == 12, "nue_cc", np.where(np.abs(pdg) == 14, "numu_cc", "other_cc"))
    category = np.where(cc, flavour, "nc")
    out = pd.DataFrame(
        {
            "sample": df["sample"].astype(str),
            "sample_group": df["sample_group"].astype(str),
            "run": df["run"].astype(np.int32),
            "subrun": df["subrun"].astype(np.int32),
            "event": df["event"].astype(np.int32),
            "is_cc": df["is_cc"].astype(np.int8),
            "nu_pdg": df["nu_pdg"].astype(np.int32),
            "nu_energy": df["nu_energy"].astype(np.float32),
            "lep_energy": df["lep_energy"].astype(np.float32),
            "category": category.astype(str),
            "antineutrino": pdg < 0,
            "label": (cc & (np.abs(pdg) == 12)).astype(np.int8),
        }
    )
    # Pixel coordinates: pixel (r, c) covers ticks [r·dt, (r+1)·dt) and wires [c·dw, (c+1)·dw).
    for p in range(N_PLANES):
        out[f"reco_row_p{p}"] = (df["reco_tick"].to_numpy(np.float64) / params.dt).astype(np.float32)
    for p in range(N_PLANES):
        out[f"reco_col_p{p}"] = (df[f"reco_wire_{p}"].to_numpy(np.float64) / params.dw).astype(np.float32)
    for p in range(N_PLANES):
        out[f"truth_row_p{p}"] = (df["nu_vtx_tick"].to_numpy(np.float64) / params.dt).astype(np.float32)
    for p in range(N_PLANES):
        out[f"truth_col_p{p}"] = (df[f"nu_vtx_wire_{p}"].to_numpy(np.float64) / params.dw).astype(np.float32)
    for name in ("npix", "height", "width"):
        for p in range(N_PLANES):
            out[f"{name}_p{p}"] = df[f"{name}_p{p}"].astype(np.int32)
    out["split"] = assign_splits(out, fractions).astype(str)
    return out[INDEX_COLUMNS]


def write_event_index(df: pd.DataFrame, path: PathLike) -> None:
    """Write the index as Parquet, atomically and deterministically."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata(None)  # pandas metadata is not needed to read it back
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_event_index(path: PathLike) -> pd.DataFrame:
    try:
        return open_parquet(path, made_by="dataset").read().to_pandas()
    except (OSError, pa.ArrowException) as err:
        raise parquet_error(path, err, made_by="dataset") from err


# -- QC and statistics -------------------------------------------------------------------------
def check_skipped_fraction(qc: pd.DataFrame, limit: float) -> None:
    """Stop when a file lost more than `limit` of its events (dataset.max_skipped_fraction)."""
    fraction = qc["skipped"] / qc["events"].clip(lower=1)
    over = qc[fraction > limit]
    if over.empty:
        return
    row = over.iloc[0]
    more = f" ({len(over)} files are over the limit: {', '.join(over['sample'])})" if len(over) > 1 else ""
    raise NuwireError(
        f"{row['file']}: {row['skipped']} of its {row['events']} events were skipped when rendering "
        f"({row['skipped'] / max(row['events'], 1):.0%}; reasons: {row['reasons']}), more than "
        f"dataset.max_skipped_fraction = {limit:g} allows{more}. Replace or remove the file, or, if losing "
        "those events is acceptable, raise dataset.max_skipped_fraction in the config."
    )


def qc_summary(qcs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per file: events, rendered, skipped, reasons (identical reasons counted)."""
    rows = []
    for sample in sorted(qcs):
        qc = qcs[sample]
        rows.append(
            {
                "sample": sample,
                "sample_group": sample_group(sample),
                "file": qc["file"],
                "events": qc["events_in_file"],
                "rendered": qc["rendered"],
                "skipped": qc["skipped"],
                "reconciled": bool(qc["reconciled"]),
                "reasons": count_reasons(qc["skipped_events"]),
            }
        )
    return pd.DataFrame(
        rows, columns=["sample", "sample_group", "file", "events", "rendered", "skipped", "reconciled", "reasons"]
    )


STAT_COLUMNS = (
    ["group", "events"]
    + [f"pdg_{code}" for code in PDGS]
    + ["cc", "nc", "nue_cc", "numu_cc"]
    + [f"{e}_{s}" for e in ("nu_energy", "lep_energy") for s in ("mean", "median", "std", "min", "max")]
)


def dataset_statistics(index_or_truth: pd.DataFrame, qc: pd.DataFrame | None = None) -> pd.DataFrame:
    """Composition and energies per sample group and combined (nue_cc counts CC νe and ν̄e).

    Given the truth of every event (read_truth) the numbers match `nuwire inspect`; given the event
    index they describe the rendered events. With `qc` (qc_summary) adds rendered/skipped counts.
    """
    rows = []
    for group, part in index_or_truth.groupby("sample_group", sort=True):
        rows.append({"group": group, **composition(part)})
    rows.append({"group": "combined", **composition(index_or_truth)})
    stats = pd.DataFrame(rows)[STAT_COLUMNS]
    if qc is not None:
        per_group = qc.groupby("sample_group")[["rendered", "skipped"]].sum()
        stats["rendered"] = [
            int(qc["rendered"].sum()) if g == "combined" else int(per_group["rendered"].get(g, 0)) for g in stats.group
        ]
        stats["skipped"] = [
            int(qc["skipped"].sum()) if g == "combined" else int(per_group["skipped"].get(g, 0)) for g in stats.group
        ]
    return stats


def write_tsv(df: pd.DataFrame, path: PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False, float_format="%.4f")


# -- the stage -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetOutputs:
    """The dataset stage's files, as its rule names them (`snakemake.output`)."""

    index: PathLike
    statistics: PathLike
    qc: PathLike
    energy: PathLike
    displays: PathLike


@dataclass(frozen=True)
class DatasetInputs:
    """The dataset stage's inputs, as its rule names them (`snakemake.input`)."""

    h5: Sequence[PathLike]  # the input files
    images: Sequence[PathLike]  # their image Parquet files
    qc: Sequence[PathLike]  # their render QC records


def run_dataset(
    inputs: DatasetInputs,
    outputs: DatasetOutputs,
    *,
    params: RenderParams,
    split_fractions: Sequence[float] = (0.70, 0.15, 0.15),
    synthetic: bool = False,
    n_displays: int = 2,
    max_skipped_fraction: float = DEFAULT_MAX_SKIPPED_FRACTION,
) -> dict[str, Any]:
    """Write the event index, statistics, QC summary, energy figure and event displays to `outputs`."""
    from nuwire.events.dataset_plots import plot_energy, plot_event_displays  # matplotlib only here
    from nuwire.figures import FigureContext

    h5_files, image_files, qc_files = list(inputs.h5), list(inputs.images), list(inputs.qc)
    truth = read_truth(h5_files)
    index = index_from_truth(truth, image_files, qc_files, params=params, split_fractions=split_fractions)
    qc = qc_summary(read_qc(qc_files))
    check_skipped_fraction(qc, max_skipped_fraction)
    stats = dataset_statistics(truth, qc)
    paths = {name: Path(path) for name, path in asdict(outputs).items()}
    write_event_index(index, paths["index"])
    write_tsv(stats, paths["statistics"])
    write_tsv(qc, paths["qc"])
    signal = index.loc[index["label"] == 1, "lep_energy"].to_numpy(np.float64)
    # The same median the "top50" cut uses (nuwire.events.cuts: all signal events of the index).
    context = FigureContext(synthetic=synthetic)
    plot_energy(
        truth, paths["energy"], context=context, signal_median=float(np.median(signal)) if len(signal) else None
    )
    images = {Path(p).name.removesuffix(".parquet"): Path(p) for p in image_files}
    plot_event_displays(index, images, paths["displays"], context=context, n_per_category=n_displays)
    return {
        "paths": {k: str(v) for k, v in paths.items()},
        "events": int(len(truth)),
        "rendered": int(len(index)),
        "skipped": int(qc["skipped"].sum()),
        "splits": {s: int((index["split"] == s).sum()) for s in SPLITS},
    }
