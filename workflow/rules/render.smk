# render: one input file -> sparse 8-bit images of its three planes (Parquet) and a QC record.


rule render:
    input:
        input_h5,
    output:
        images=f"{RESULTS}/images/{{sample}}.parquet",
        qc=f"{RESULTS}/images/{{sample}}.qc.json",
    params:
        code=code("render"),
        downsample=canonical(config["render"]["downsample"]),
        threshold=config["render"]["threshold"],
        saturation=config["render"]["saturation"],
    log:
        f"{RESULTS}/logs/render/{{sample}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/render/{{sample}}.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=60,
    conda:
        "../../envs/nuwire.yaml"
    script:
        "../scripts/render.py"
