"""Rule inspect: composition and energy statistics of the input files."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.io.inspect import format_inspection, inspect_files, write_inspection  # noqa: E402
from nuwire.pipeline.stage import run_stage  # noqa: E402


def main(smk):
    table = inspect_files(list(smk.input))
    print(format_inspection(table), file=sys.stderr)
    write_inspection(table, smk.output[0])


run_stage(snakemake, main)
