"""Rule systematics_render: one input file's test events, re-rendered under one detector variation."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.images.render import ReadOptions, RenderParams  # noqa: E402
from nuwire.pipeline.stage import run_stage  # noqa: E402
from nuwire.systematics.rerender import VariationFiles, render_variation_file  # noqa: E402
from nuwire.systematics.variations import Variation  # noqa: E402


def main(smk):
    p = smk.params
    params = RenderParams(
        dw=p.downsample["wire"], dt=p.downsample["time"], threshold=p.threshold, saturation=p.saturation
    )
    render_variation_file(
        VariationFiles(
            h5=smk.input.h5,
            index=smk.input.index,
            nominal_qc=smk.input.nominal_qc,
            images=smk.output.images,
            qc=smk.output.qc,
        ),
        Variation(**p.variation),
        sample=smk.wildcards.sample,
        params=params,
        read=ReadOptions(progress=True, threads=smk.threads),
    )


run_stage(snakemake, main)
