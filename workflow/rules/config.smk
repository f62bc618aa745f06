# config: the effective configuration of the run (the user's config with the workflow's defaults
# filled in), written to the results directory with the hash the provenance page cites.


rule effective_config:
    output:
        EFFECTIVE_CONFIG,
    log:
        f"{RESULTS}/logs/effective_config.log",
    localrule: True
    conda:
        "../../envs/nuwire.yaml"
    params:
        config=canonical(config),
    script:
        "../scripts/effective_config.py"
