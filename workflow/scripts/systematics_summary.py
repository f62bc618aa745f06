"""Rule systematics_summary: every point's paired shifts under every variation; table, page, figure."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.figures import FigureContext  # noqa: E402
from nuwire.pipeline.stage import run_stage  # noqa: E402
from nuwire.systematics.report import SystematicsInputs, run_systematics_summary  # noqa: E402


def main(smk):
    run_systematics_summary(
        SystematicsInputs(
            points=smk.params.points,
            nominal_predictions=list(smk.input.nominal),
            nominal_metrics=list(smk.input.metrics),
            varied_predictions=list(smk.input.varied),
        ),
        variations={
            name: {k: v for k, v in spec.items() if k != "name"} for name, spec in smk.params.variations.items()
        },
        evaluate_settings=smk.params.evaluate,
        outputs=dict(smk.output.items()),
        context=FigureContext(synthetic=smk.params.synthetic),
    )


run_stage(snakemake, main)
