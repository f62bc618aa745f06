"""Rule summary: all sweep points' metrics beside the thesis's rows; overlay figures; runtimes; provenance."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.pipeline.stage import run_stage  # noqa: E402
from nuwire.report.summary import run_summary  # noqa: E402


def main(smk):
    run_summary(
        metrics_files=list(smk.input.metrics),
        predictions_files=list(smk.input.predictions),
        benchmarks=list(smk.input.benchmarks),
        benchmark_jobs=smk.params.benchmark_jobs,
        points=smk.params.points,
        outputs=dict(smk.output.items()),
        synthetic=smk.params.synthetic,
        config=smk.params.config,
        inputs_manifest=smk.input.inputs,
    )


run_stage(snakemake, main)
