"""Rule effective_config: the run's config, defaults filled in, with its provenance hash."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.pipeline.config import write_effective_config  # noqa: E402
from nuwire.pipeline.stage import run_stage  # noqa: E402
from nuwire.provenance import config_hash  # noqa: E402


def main(smk):
    write_effective_config(smk.params.config, smk.output[0], config_hash(smk.params.config))


run_stage(snakemake, main)
