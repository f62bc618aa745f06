# render: one input file -> sparse 8-bit images of its three planes (Parquet) and a QC record.


rule render:
    input:
        input_h5,
    output:
        images=f"{RESULTS}/images/{{sample}}.parquet",
        qc=f"{RESULTS}/images/{{sample}}.qc.json",
    log:
        log_file("render/{sample}"),
    benchmark:
        benchmark_file("render/{sample}")
    conda:
        "../../envs/nuwire.yaml"
    threads: 1
    resources:
        **RESOURCES["render"],
    params:
        code=code("render"),
        input_id=input_id,
        downsample=canonical(config["render"]["downsample"]),
        threshold=config["render"]["threshold"],
        saturation=config["render"]["saturation"],
    script:
        "../scripts/render.py"
