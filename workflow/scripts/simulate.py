"""Rule simulate: write one synthetic OpenSamples file."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.geometry import get_geometry  # noqa: E402
from nuwire.pipeline.stage import run_stage  # noqa: E402
from nuwire.simulate import simulate_file  # noqa: E402


def main(smk):
    p = smk.params
    simulate_file(
        smk.output[0],
        sample=p.group,
        n_events=p.events,
        geometry=get_geometry(p.geometry),
        seed=p.seed,
        file_index=p.file_index,
        progress=True,
    )


run_stage(snakemake, main)
