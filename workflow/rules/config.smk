# config: the effective configuration of the run (the user's config with the workflow's defaults
# filled in), written to the results directory with the hash the provenance page cites.


rule effective_config:
    output:
        EFFECTIVE_CONFIG,
    log:
        log_file("effective_config"),
    localrule: True
    conda:
        "../../envs/nuwire.yaml"
    params:
        config=canonical(config),
    script:
        "../scripts/effective_config.py"
