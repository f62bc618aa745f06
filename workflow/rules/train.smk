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
        f"{RESULTS}/logs/train/{{arch}}/plane{{plane}}/scale{{scale}}/{{cut}}/{{window}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{arch}}/plane{{plane}}/scale{{scale}}/{{cut}}/{{window}}.tsv"
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
        checkpoint_dir=lambda wc: f"{RESULTS}/checkpoints/{wc.arch}/plane{wc.plane}/scale{wc.scale}/{wc.cut}/{wc.window}",
    script:
        "../scripts/train.py"
