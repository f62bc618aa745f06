# evaluate: test-set scores, metrics at fixed and validation-chosen thresholds, figures.

MODEL_DIR = f"{RESULTS}/models/{{arch}}/plane{{plane}}/scale{{scale}}/{{cut}}/{{window}}"
MODEL_CATEGORY = "Model {arch} plane{plane} scale{scale} {cut} {window}"


def _model_figure(name, caption):
    return report(f"{MODEL_DIR}/{name}.png", caption=f"../report/{caption}.rst", category=MODEL_CATEGORY)


rule evaluate:
    input:
        index=f"{RESULTS}/dataset/events.parquet",
        images=all_images,
        weights=f"{MODEL_DIR}/best.pt",
        history=f"{MODEL_DIR}/history.csv",
        meta=f"{MODEL_DIR}/train_meta.json",
    output:
        metrics=f"{MODEL_DIR}/metrics.json",
        predictions=f"{MODEL_DIR}/predictions.parquet",
        curves=_model_figure("training_curves", "training_curves"),
        roc=_model_figure("roc", "roc"),
        scores=_model_figure("scores", "scores"),
        efficiency=_model_figure("efficiency", "efficiency"),
        confusion=_model_figure("confusion", "confusion"),
        occlusion=_model_figure("occlusion", "occlusion"),
    params:
        cuts=config["cuts"],
        settings=train_settings,
        evaluate=config.get("evaluate", {}),
        synthetic=SYNTHETIC,
        inputs_qc=all_qc,
    log:
        f"{RESULTS}/logs/evaluate/{{arch}}/plane{{plane}}/scale{{scale}}/{{cut}}/{{window}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{arch}}/plane{{plane}}/scale{{scale}}/{{cut}}/{{window}}.tsv"
    threads: config["train"].get("threads", 2)
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,
    conda:
        "../../envs/nuwire.yaml"
    script:
        "../scripts/evaluate.py"
