# systematics: detector variations (config `systematics:`). Each variation re-renders the test events
# of every input file with its change applied to the ADC, scores every point's trained weights on
# them (never retraining), and one summary measures the paired shifts against the nominal scores.


rule systematics_render:
    input:
        h5=input_h5,
        index=f"{RESULTS}/dataset/events.parquet",
        nominal_qc=f"{RESULTS}/images/{{sample}}.qc.json",  # holds the input's SHA-256
    output:
        images=f"{SYSTEMATICS}/{{variation}}/images/{{sample}}.parquet",
        qc=f"{SYSTEMATICS}/{{variation}}/images/{{sample}}.qc.json",
    log:
        log_file("systematics_render/{variation}/{sample}"),
    benchmark:
        benchmark_file("systematics_render/{variation}/{sample}")
    conda:
        "../../envs/nuwire.yaml"
    threads: 1
    resources:
        **RESOURCES["systematics_render"],
    params:
        code=code("systematics_render"),
        variation=variation_settings,
        downsample=canonical(config["render"]["downsample"]),
        threshold=config["render"]["threshold"],
        saturation=config["render"]["saturation"],
    script:
        "../scripts/systematics_render.py"


rule systematics_score:
    input:
        index=f"{RESULTS}/dataset/events.parquet",
        images=variation_images,
        weights=f"{MODEL_DIR}/best.pt",
        meta=f"{MODEL_DIR}/train_meta.json",
    output:
        predictions=f"{SYSTEMATICS}/{{variation}}/models/{POINT}/predictions.parquet",
    log:
        log_file(f"systematics_score/{{variation}}/{POINT}"),
    benchmark:
        benchmark_file(f"systematics_score/{{variation}}/{POINT}")
    conda:
        "../../envs/nuwire.yaml"
    threads: config["train"]["threads"]
    resources:
        **RESOURCES["systematics_score"],
    params:
        code=code("systematics_score"),
        cuts=point_cuts,
        device=config["train"]["device"],
        evaluate=canonical(config["evaluate"]),
    script:
        "../scripts/systematics_score.py"


rule systematics_summary:
    input:
        nominal=all_predictions,
        metrics=all_metrics,
        varied=all_varied_predictions,
    output:
        table=report(
            f"{SYSTEMATICS}/summary/systematics.tsv",
            caption="../report/systematics.rst",
            category="Systematics",
            labels={"table": "shift of every point under every detector variation"},
        ),
        html=report(
            f"{SYSTEMATICS}/summary/systematics.html",
            caption="../report/systematics.rst",
            category="Systematics",
            labels={"table": "detector variations, robustness in words (HTML)"},
        ),
        figure=report(
            f"{SYSTEMATICS}/summary/systematics.png",
            caption="../report/systematics.rst",
            category="Systematics",
            labels={"figure": "variations × points"},
        ),
        values=f"{SYSTEMATICS}/summary/systematics_values.tsv",
    log:
        log_file("systematics_summary"),
    benchmark:
        benchmark_file("systematics_summary")
    conda:
        "../../envs/nuwire.yaml"
    threads: 1
    resources:
        **RESOURCES["systematics_summary"],
    params:
        code=code("systematics_summary"),
        synthetic=SYNTHETIC,
        points=[p.as_dict() for p in SWEEP],
        variations={name: v.as_dict() for name, v in VARIATIONS.items()},
        evaluate=canonical(config["evaluate"]),
    script:
        "../scripts/systematics_summary.py"
