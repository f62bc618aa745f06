# nuwire: MicroBooNE OpenSamples wire readouts -> sparse event images -> CC nu_e classifiers.
# Stages, in DAG order: simulate (or real files) -> render -> dataset -> train -> evaluate -> summary.
# `snakemake --cores 2` runs everything for config/config.yaml; the report is made with
# `snakemake --report results/report.html` (the README's `make run` does both).
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/inspect.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/summary.smk"


rule all:
    input:
        get_final_output(),
    default_target: True
