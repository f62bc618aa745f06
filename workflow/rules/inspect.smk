# inspect: composition and energy statistics of the input files, read from event_table only.


rule inspect:
    input:
        all_input_h5,
    output:
        f"{RESULTS}/dataset/inspect.tsv",
    log:
        log_file("inspect"),
    benchmark:
        benchmark_file("inspect")
    conda:
        "../../envs/nuwire.yaml"
    threads: 1
    resources:
        **RESOURCES["inspect"],
    params:
        code=code("inspect"),
        input_ids=all_input_ids,
    script:
        "../scripts/inspect.py"
