"""Rule render: one input file to sparse Parquet images and a QC record."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.images.render import ReadOptions, RenderParams, render_file  # noqa: E402
from nuwire.pipeline.stage import run_stage  # noqa: E402


def main(smk):
    p = smk.params
    params = RenderParams(
        dw=p.downsample["wire"], dt=p.downsample["time"], threshold=p.threshold, saturation=p.saturation
    )
    render_file(
        smk.input[0],
        smk.output.images,
        smk.output.qc,
        sample=smk.wildcards.sample,
        params=params,
        read=ReadOptions(progress=True, threads=smk.threads),
    )


run_stage(snakemake, main)
