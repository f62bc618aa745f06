"""Rule dataset: event index with splits, statistics and figures."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.evaluation.pandora import write_calls  # noqa: E402
from nuwire.events.dataset import DatasetInputs, DatasetOutputs, read_qc, run_dataset  # noqa: E402
from nuwire.images.render import RenderParams  # noqa: E402
from nuwire.io.atomic import write_json  # noqa: E402
from nuwire.pipeline.stage import run_stage  # noqa: E402
from nuwire.provenance import input_manifest  # noqa: E402


def main(smk):
    p = smk.params
    params = RenderParams(
        dw=p.downsample["wire"], dt=p.downsample["time"], threshold=p.threshold, saturation=p.saturation
    )
    run_dataset(
        DatasetInputs(h5=list(smk.input.h5), images=list(smk.input.images), qc=list(smk.input.qc)),
        outputs=DatasetOutputs(
            index=smk.output.index,
            statistics=smk.output.statistics,
            qc=smk.output.qc,
            energy=smk.output.energy,
            displays=smk.output.displays,
        ),
        params=params,
        split_fractions=(p.split["train"], p.split["val"], p.split["test"]),
        synthetic=p.synthetic,
        n_displays=p.event_displays,
        max_skipped_fraction=p.max_skipped_fraction,
    )
    # Sizes and checksums of the files the render jobs read, for every later metrics.json to cite.
    rendered = {qc["file"]: qc for qc in read_qc(list(smk.input.qc)).values()}
    write_json(smk.output.inputs, input_manifest(list(smk.input.h5), rendered))
    write_calls(list(smk.input.h5), smk.output.pandora)


run_stage(snakemake, main)
