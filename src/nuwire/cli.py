"""The `nuwire` command: the workflow's stages by hand, one subcommand each.

    nuwire simulate --out DIR --sample bnb --files 2 --events-per-file 10 --geometry compact --seed 1
    nuwire inspect FILE...
    nuwire render FILE --out DIR

User mistakes (bad files, bad options) print one paragraph and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nuwire import __version__
from nuwire.errors import NuwireError
from nuwire.geometry import GEOMETRIES
from nuwire.schema import field_default, section_defaults
from nuwire.simulate.samples import SAMPLES


def _cmd_simulate(args: argparse.Namespace) -> None:
    from nuwire.geometry import get_geometry
    from nuwire.simulate import simulate_files

    paths = simulate_files(
        args.out,
        sample=args.sample,
        n_files=args.files,
        events_per_file=args.events_per_file,
        geometry=get_geometry(args.geometry),
        seed=args.seed,
    )
    for path in paths:
        print(path)


def _cmd_inspect(args: argparse.Namespace) -> None:
    from nuwire.io.inspect import format_inspection, inspect_files, write_inspection

    table = inspect_files(args.files)
    print(format_inspection(table))
    if args.tsv:
        write_inspection(table, args.tsv)


def _cmd_render(args: argparse.Namespace) -> None:
    from nuwire.images.render import ReadOptions, RenderParams, render_file

    params = RenderParams(dw=args.dw, dt=args.dt, threshold=args.threshold, saturation=args.saturation)
    for path in args.files:
        stem = Path(path).stem
        qc = render_file(
            path,
            Path(args.out) / f"{stem}.parquet",
            Path(args.out) / f"{stem}.qc.json",
            sample=stem,
            params=params,
            read=ReadOptions(progress=True),
        )
        print(f"{path}: {qc['rendered']} rendered, {qc['skipped']} skipped of {qc['events_in_file']}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nuwire", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"nuwire {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write synthetic files in the OpenSamples HDF5 schema")
    sim.add_argument("--out", required=True, help="output directory")
    sim.add_argument("--sample", required=True, choices=list(SAMPLES))
    sim.add_argument("--files", type=int, default=1)
    sim.add_argument("--events-per-file", type=int, default=10)
    sim.add_argument("--geometry", default=field_default("synthetic", "geometry"), choices=list(GEOMETRIES))
    sim.add_argument("--seed", type=int, default=field_default("synthetic", "seed"))
    sim.set_defaults(func=_cmd_simulate)

    ins = sub.add_parser("inspect", help="tables, event counts, composition and energies of files")
    ins.add_argument("files", nargs="+")
    ins.add_argument("--tsv", help="also write the table as TSV here")
    ins.set_defaults(func=_cmd_inspect)

    ren = sub.add_parser("render", help="render files to sparse Parquet images plus QC JSON")
    ren.add_argument("files", nargs="+")
    ren.add_argument("--out", required=True)
    render = section_defaults("render")  # the workflow's defaults (render.* in the config)
    ren.add_argument("--dw", type=int, default=render["downsample"]["wire"], help="wires per block")
    ren.add_argument("--dt", type=int, default=render["downsample"]["time"], help="ticks per block")
    ren.add_argument("--threshold", type=float, default=render["threshold"])
    ren.add_argument("--saturation", type=float, default=render["saturation"])
    ren.set_defaults(func=_cmd_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except NuwireError as err:
        print(f"nuwire: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
