# inspect: composition and energy statistics of the input files, read from event_table only.


rule inspect:
    input:
        all_input_h5,
    output:
        f"{RESULTS}/dataset/inspect.tsv",
    params:
        code=code("inspect"),
    log:
        f"{RESULTS}/logs/inspect.log",
    benchmark:
        f"{RESULTS}/benchmarks/inspect.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/nuwire.yaml"
    script:
        "../scripts/inspect.py"
