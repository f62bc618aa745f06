"""Rule train: train one sweep point's model (resuming from its checkpoint after a kill)."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.events.sweep import SweepPoint  # noqa: E402
from nuwire.learn.train import TrainOutputs, run_train_job  # noqa: E402
from nuwire.pipeline.stage import run_stage, set_threads  # noqa: E402


def main(smk):
    set_threads(smk.threads)
    run_train_job(
        index_path=smk.input.index,
        image_files=list(smk.input.images),
        point=SweepPoint.from_wildcards(smk.wildcards),
        settings=smk.params.settings,
        cuts=smk.params.cuts,
        outputs=TrainOutputs(weights=smk.output.weights, history=smk.output.history, meta=smk.output.meta),
        checkpoint_dir=Path(smk.params.checkpoint_dir),
        threads=smk.threads,
    )


run_stage(snakemake, main)
