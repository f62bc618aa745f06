# zenodo: one real WithWire file of the configured Zenodo records (input.source: zenodo), fetched
# by the Snakemake HTTP storage plugin and kept in input.zenodo.download_dir once its size and MD5
# match the record's listing. A file already there is not downloaded again.
from dataclasses import asdict


rule zenodo_download:
    input:
        lambda wc: storage.http(ZENODO_FILES[wc.sample].url),
    output:
        f"{ZENODO_DIR}/{{sample}}.h5",
    log:
        log_file("zenodo_download/{sample}"),
    # Downloads run where Snakemake runs (the login node has the network; compute nodes may not).
    localrule: True
    conda:
        "../../envs/nuwire.yaml"
    params:
        remote=lambda wc: asdict(ZENODO_FILES[wc.sample]),
    script:
        "../scripts/zenodo_download.py"
