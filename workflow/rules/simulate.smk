# simulate: one synthetic OpenSamples file per sample name (only when input.source is synthetic).


rule simulate:
    output:
        f"{SYNTHETIC_DIR}/{{sample}}.h5",
    log:
        log_file("simulate/{sample}"),
    benchmark:
        benchmark_file("simulate/{sample}")
    conda:
        "../../envs/nuwire.yaml"
    threads: 1
    resources:
        **RESOURCES["simulate"],
    params:
        code=code("simulate"),
        group=lambda wc: sample_group(wc.sample),
        file_index=lambda wc: int(wc.sample.rsplit("_", 1)[1]),
        events=lambda wc: config["synthetic"]["samples"][sample_group(wc.sample)]["events_per_file"],
        # Functions: the synthetic section exists only for source synthetic, this rule's only use.
        geometry=lambda wc: config["synthetic"]["geometry"],
        seed=lambda wc: config["synthetic"]["seed"],
    script:
        "../scripts/simulate.py"
