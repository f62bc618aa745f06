# nuwire: MicroBooNE OpenSamples wire readouts -> sparse event images -> CC nu_e classifiers.
# Stages, in DAG order: simulate (or real files) -> render -> dataset -> train -> evaluate -> summary
# (and, with `systematics:` in the config, the test events re-rendered and re-scored per variation).
# `snakemake --cores 2` runs everything for config/config.yaml (the synthetic demo); with a config of
# your own, from any directory: `snakemake -s /path/to/nuwire/Snakefile --directory ~/ana
# --configfile ~/ana/real.yaml`, or use it as a module (README, "Use it on your own data").
# The report is made with `snakemake --report results/report.html` (the README's `make run` does both).
import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# nuwire's own files are found from this Snakefile, not from the working directory: the user's
# directory (--directory, or the directory of a Snakefile that uses this one as a module) holds
# only their config and results. current_basedir, not basedir: as a module, basedir is the user's.
NUWIRE_DIR = Path(workflow.current_basedir.get_path_or_uri(secret_free=True))
if (NUWIRE_DIR / "src" / "nuwire").is_dir():  # a clone or a snakedeploy copy without the package installed
    sys.path.insert(0, str(NUWIRE_DIR / "src"))

# Jobs inherit this (locally, and through sbatch's default --export=ALL on Slurm). OpenMP's default
# makes idle torch threads spin at every parallel region until the slowest one arrives; when
# another process holds one of the job's cores (a shared node, the login node, CI), two threads
# then train up to 25x slower than one (docs/benchmarks.md, section 4). Sleeping threads lose
# little when the cores are free. A value set by the user is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# The demo config only when the user gave no config at all (no --configfile, no --config, no
# module `config:`): it is one config among others, never a base that a user's config is merged
# over. The defaults a user's config inherits are the schema's (validate fills them in).
if not workflow.overwrite_configfiles and not config:

    configfile: str(NUWIRE_DIR / "config" / "config.yaml")


# The schema is package data (nuwire/config.schema.yaml): the one home of every default, found
# the same way from a clone, an installed package or a module.
from nuwire.schema import SCHEMA_PATH

validate(config, str(SCHEMA_PATH), set_default=True)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/config.smk"
include: "workflow/rules/simulate.smk"


if config["input"]["source"] == "zenodo":  # needs snakemake-storage-plugin-http only then

    include: "workflow/rules/zenodo.smk"


include: "workflow/rules/inspect.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/systematics.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
