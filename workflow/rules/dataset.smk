# dataset: the event index with stable splits, dataset statistics and figures for the report.


rule dataset:
    input:
        h5=all_input_h5,
        images=all_images,
        qc=all_qc,
    output:
        index=f"{RESULTS}/dataset/events.parquet",
        inputs=f"{RESULTS}/dataset/inputs.json",
        # Pandora's CC νe call per event (nuwire.evaluation.pandora): the baseline of every point.
        pandora=f"{RESULTS}/dataset/pandora.parquet",
        statistics=report(
            f"{RESULTS}/dataset/statistics.tsv",
            caption="../report/statistics.rst",
            category="Dataset",
            labels={"table": "statistics"},
        ),
        qc=report(
            f"{RESULTS}/dataset/qc_summary.tsv",
            caption="../report/qc_summary.rst",
            category="Dataset",
            labels={"table": "rendering QC"},
        ),
        energy=report(
            f"{RESULTS}/dataset/energy.png",
            caption="../report/energy.rst",
            category="Dataset",
            labels={"figure": "energy spectra"},
        ),
        displays=report(
            f"{RESULTS}/dataset/event_displays.png",
            caption="../report/event_displays.rst",
            category="Dataset",
            labels={"figure": "event displays"},
        ),
    log:
        log_file("dataset"),
    benchmark:
        benchmark_file("dataset")
    conda:
        "../../envs/nuwire.yaml"
    threads: 1
    resources:
        **RESOURCES["dataset"],
    params:
        code=code("dataset"),
        downsample=canonical(config["render"]["downsample"]),
        threshold=config["render"]["threshold"],
        saturation=config["render"]["saturation"],
        split=canonical(config["split"]),
        synthetic=SYNTHETIC,
        event_displays=config["dataset"]["event_displays"],
        max_skipped_fraction=config["dataset"]["max_skipped_fraction"],
    script:
        "../scripts/dataset.py"
