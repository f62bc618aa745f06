# simulate: one synthetic OpenSamples file per sample name (only when input.source is synthetic).


rule simulate:
    output:
        f"{SYNTHETIC_DIR}/{{sample}}.h5",
    params:
        code=code("simulate"),
        group=lambda wc: wc.sample.split("_", 1)[0],
        file_index=lambda wc: int(wc.sample.rsplit("_", 1)[1]),
        events=lambda wc: config["synthetic"]["samples"][wc.sample.split("_", 1)[0]]["events_per_file"],
        geometry=config.get("synthetic", {}).get("geometry", "microboone"),
        seed=config.get("synthetic", {}).get("seed", 0),
    log:
        f"{RESULTS}/logs/simulate/{{sample}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate/{{sample}}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    conda:
        "../../envs/nuwire.yaml"
    script:
        "../scripts/simulate.py"
