# simulate: one synthetic OpenSamples file per sample name (only when input.source is synthetic).


rule simulate:
    output:
        f"{SYNTHETIC_DIR}/{{sample}}.h5",
    log:
        f"{RESULTS}/logs/simulate/{{sample}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate/{{sample}}.tsv"
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
        geometry=config.get("synthetic", {}).get("geometry", "microboone"),
        seed=config.get("synthetic", {}).get("seed", 0),
    script:
        "../scripts/simulate.py"
