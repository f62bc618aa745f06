# evaluate: test-set scores, metrics with bootstrap intervals at fixed and validation-chosen thresholds,
# calibration, the sample-identity control and what the network looks at (figures).


rule evaluate:
    input:
        index=f"{RESULTS}/dataset/events.parquet",
        inputs=f"{RESULTS}/dataset/inputs.json",
        pandora=f"{RESULTS}/dataset/pandora.parquet",
        images=all_images,
        weights=f"{MODEL_DIR}/best.pt",
        history=f"{MODEL_DIR}/history.csv",
        meta=f"{MODEL_DIR}/train_meta.json",
    output:
        metrics=f"{MODEL_DIR}/metrics.json",
        predictions=f"{MODEL_DIR}/predictions.parquet",
        curves=model_figure("training_curves"),
        roc=model_figure("roc"),
        scores=model_figure("scores"),
        efficiency=model_figure("efficiency"),
        confusion=model_figure("confusion"),
        reliability=model_figure("reliability"),
        sample_control=model_figure("sample_control"),
        occlusion=model_figure("occlusion"),
        feature_maps=model_figure("feature_maps"),
        embedding=model_figure("embedding"),
        multiclass=model_figure("multiclass"),
    log:
        log_file(f"evaluate/{POINT}"),
    benchmark:
        benchmark_file(f"evaluate/{POINT}")
    conda:
        "../../envs/nuwire.yaml"
    threads: config["train"]["threads"]
    resources:
        **RESOURCES["evaluate"],
    params:
        code=code("evaluate"),
        cuts=point_cuts,
        settings=train_settings,
        evaluate=canonical(config["evaluate"]),
        synthetic=SYNTHETIC,
    script:
        "../scripts/evaluate.py"
