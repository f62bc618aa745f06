# train: one model per sweep point; resumes from its checkpoint after a kill.


rule train:
    input:
        index=f"{RESULTS}/dataset/events.parquet",
        images=all_images,
    output:
        weights=f"{MODEL_DIR}/best.pt",
        history=f"{MODEL_DIR}/history.csv",
        meta=f"{MODEL_DIR}/train_meta.json",
    log:
        log_file(f"train/{POINT}"),
    benchmark:
        benchmark_file(f"train/{POINT}")
    conda:
        "../../envs/nuwire.yaml"
    threads: TRAIN_CPUS
    resources:
        **RESOURCES["train"],
    params:
        code=code("train"),
        settings=train_settings,
        cuts=point_cuts,
        # Not an output: Snakemake deletes outputs before rerunning a job, and the checkpoint
        # must survive a kill so the rerun can resume from it.
        checkpoint_dir=lambda wc: checkpoint_dir(POINT.format(**dict(wc.items()))),
    script:
        "../scripts/train.py"
