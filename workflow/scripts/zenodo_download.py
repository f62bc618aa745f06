"""Rule zenodo_download: keep the downloaded file only if its size and MD5 are the record's."""

import sys
from pathlib import Path

# Make the package importable when Snakemake runs this script in the conda env of envs/ too.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from nuwire.io.zenodo import RemoteFile, verified_copy  # noqa: E402
from nuwire.pipeline.stage import run_stage  # noqa: E402


def main(smk):
    remote = RemoteFile(**smk.params.remote)
    verified_copy(smk.input[0], smk.output[0], remote)
    print(f"{remote.key}: {remote.size:,} bytes, MD5 {remote.md5} as listed by record {remote.record}", file=sys.stderr)


run_stage(snakemake, main)
