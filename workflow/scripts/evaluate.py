"""Rule evaluate: score the test set with the best weights; metrics and figures."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.evaluation.evaluate import EvaluateInputs, EvaluateOutputs, run_evaluate_job  # noqa: E402
from nuwire.events.sweep import SweepPoint  # noqa: E402
from nuwire.figures import FigureContext  # noqa: E402
from nuwire.pipeline.stage import run_stage, set_threads  # noqa: E402


def main(smk):
    set_threads(smk.threads)  # within the Slurm allocation and the CPU affinity
    run_evaluate_job(
        inputs=EvaluateInputs(**dict(smk.input.items())),
        # The rule's outputs by name, the training curves (drawn by the job itself) among them.
        outputs=EvaluateOutputs(**dict(smk.output.items())),
        point=SweepPoint.from_wildcards(smk.wildcards),
        settings=smk.params.settings,
        cuts=smk.params.cuts,
        evaluate_settings=smk.params.evaluate,
        context=FigureContext(synthetic=smk.params.synthetic),
    )


run_stage(snakemake, main)
