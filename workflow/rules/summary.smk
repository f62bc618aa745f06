# summary: every sweep point's metrics with errors in one table (the thesis's real-data rows apart),
# paired comparisons with the answers in words, forest plot, ROC overlay, AUC against scale and cut, job runtimes/memory from the benchmark files, and the
# provenance page (code, config hash, packages, input checksums).


rule summary:
    input:
        metrics=all_metrics,
        predictions=all_predictions,
        benchmarks=all_benchmarks,
        inputs=f"{RESULTS}/dataset/inputs.json",
    output:
        table=report(
            f"{RESULTS}/summary/summary.tsv",
            caption="../report/summary_table.rst",
            category="Sweep summary",
            labels={"table": "metrics per sweep point"},
        ),
        html=report(
            f"{RESULTS}/summary/summary.html",
            caption="../report/summary_table.rst",
            category="Sweep summary",
            labels={"table": "metrics per sweep point (HTML)"},
        ),
        values=f"{RESULTS}/summary/summary_values.tsv",
        # Flavour points' 3×3 confusion, efficiency, purity and one-vs-rest AUC (header only without one).
        multiclass=f"{RESULTS}/summary/multiclass.tsv",
        # Pandora's CC νe efficiency and purity beside each network's efficiency at Pandora's purity.
        pandora=f"{RESULTS}/summary/pandora.tsv",
        comparisons=f"{RESULTS}/summary/comparisons.tsv",
        comparisons_html=report(
            f"{RESULTS}/summary/comparisons.html",
            caption="../report/comparisons.rst",
            category="Sweep summary",
            labels={"table": "paired comparisons and sample control"},
        ),
        forest=report(
            f"{RESULTS}/summary/forest.png",
            caption="../report/forest.rst",
            category="Sweep summary",
            labels={"figure": "AUC of every point (forest plot)"},
        ),
        roc=report(
            f"{RESULTS}/summary/roc_overlay.png",
            caption="../report/roc_overlay.rst",
            category="Sweep summary",
            labels={"figure": "ROC overlay"},
        ),
        auc=report(
            f"{RESULTS}/summary/auc_by_point.png",
            caption="../report/auc_by_point.rst",
            category="Sweep summary",
            labels={"figure": "AUC by scale and cut"},
        ),
        runtimes=report(
            f"{RESULTS}/summary/runtimes.tsv",
            caption="../report/runtimes.rst",
            category="Sweep summary",
            labels={"table": "job runtimes and memory"},
        ),
        provenance=report(
            f"{RESULTS}/summary/provenance.html",
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"table": "code, config, packages and input files"},
        ),
    log:
        log_file("summary"),
    benchmark:
        benchmark_file("summary")
    conda:
        "../../envs/nuwire.yaml"
    threads: 1
    resources:
        **RESOURCES["summary"],
    params:
        code=code("summary"),
        synthetic=SYNTHETIC,
        points=[p.as_dict() for p in SWEEP],
        benchmark_jobs=[job for job, _ in benchmark_jobs()],
        # The effective config, hashed into the provenance page.
        config=canonical(config),
    script:
        "../scripts/summary.py"
