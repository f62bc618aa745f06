"""Rule train: train one sweep point's model (resuming from its checkpoint after a kill)."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.events.sweep import SweepPoint  # noqa: E402
from nuwire.learn.train import TrainOutputs, run_train_job  # noqa: E402
from nuwire.pipeline.cpus import train_cpus  # noqa: E402
from nuwire.pipeline.stage import run_stage, set_threads  # noqa: E402


def main(smk):
    # Torch threads + loader workers within the CPUs the job was given (nuwire.pipeline.cpus).
    threads, workers = train_cpus(smk.threads, smk.params.settings["threads"], smk.params.settings["num_workers"])
    set_threads(threads)
    run_train_job(
        index_path=smk.input.index,
        image_files=list(smk.input.images),
        point=SweepPoint.from_wildcards(smk.wildcards),
        settings={**smk.params.settings, "threads": threads, "num_workers": workers},
        cuts=smk.params.cuts,
        outputs=TrainOutputs(
            weights=smk.output.weights,
            history=smk.output.history,
            meta=smk.output.meta,
            checkpoint_dir=Path(smk.params.checkpoint_dir),
        ),
    )


run_stage(snakemake, main)
