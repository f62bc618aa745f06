# nuwire: MicroBooNE OpenSamples wire readouts -> sparse event images -> CC nu_e classifiers.
# Stages, in DAG order: simulate (or real files) -> render -> dataset -> train -> evaluate -> summary.
# `snakemake --cores 2` runs everything for config/config.yaml; the report is made with
# `snakemake --report results/report.html` (the README's `make run` does both).
import os

from snakemake.utils import min_version, validate

min_version("9.0")

# Jobs inherit this (locally, and through sbatch's default --export=ALL on Slurm). OpenMP's default
# makes idle torch threads spin at every parallel region until the slowest one arrives; when
# another process holds one of the job's cores (a shared node, the login node, CI), two threads
# then train up to 25x slower than one (docs/benchmarks.md, section 4). Sleeping threads lose
# little when the cores are free. A value set by the user is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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
