"""Rule systematics_score: one point's trained weights on one variation's test events."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.events.sweep import SweepPoint  # noqa: E402
from nuwire.pipeline.stage import run_stage, set_threads  # noqa: E402
from nuwire.systematics.score import ScoreInputs, score_variation  # noqa: E402


def main(smk):
    set_threads(smk.threads)
    score_variation(
        ScoreInputs(
            index=smk.input.index, images=list(smk.input.images), weights=smk.input.weights, meta=smk.input.meta
        ),
        point=SweepPoint.from_wildcards(smk.wildcards),
        cuts=smk.params.cuts,
        device=str(smk.params.device),
        evaluate_settings=smk.params.evaluate,
        out=smk.output.predictions,
    )


run_stage(snakemake, main)
