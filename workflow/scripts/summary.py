"""Rule summary: all sweep points' metrics beside the thesis's rows; overlay figures; runtimes; provenance."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.figures import FigureContext  # noqa: E402
from nuwire.pipeline.stage import run_stage  # noqa: E402
from nuwire.report.summary import SummaryInputs, run_summary  # noqa: E402


def main(smk):
    run_summary(
        SummaryInputs(
            metrics=list(smk.input.metrics),
            predictions=list(smk.input.predictions),
            benchmarks=list(smk.input.benchmarks),
            benchmark_jobs=smk.params.benchmark_jobs,
            points=smk.params.points,
            inputs_manifest=smk.input.inputs,
        ),
        outputs=dict(smk.output.items()),
        config=smk.params.config,
        context=FigureContext(synthetic=smk.params.synthetic),
    )


run_stage(snakemake, main)
