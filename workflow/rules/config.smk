# config: the effective configuration of the run (the user's config with the workflow's defaults
# filled in), written to the results directory with the hash the provenance page cites.


rule effective_config:
    output:
        EFFECTIVE_CONFIG,
    params:
        config=canonical(config),
    log:
        f"{RESULTS}/logs/effective_config.log",
    localrule: True
    conda:
        "../../envs/nuwire.yaml"
    script:
        "../scripts/effective_config.py"
