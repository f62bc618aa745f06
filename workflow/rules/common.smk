# Input functions, the sweep expansion and get_final_output(); logic lives in the nuwire package.
import atexit
import json
import re
import sys

import yaml
from pathlib import Path

from nuwire.pipeline.config import SAMPLE_NAME, check_config
from nuwire.schema import field_default
from nuwire.pipeline.paths import check_results_dir, described, expand_config_paths
from nuwire.errors import NuwireError
from nuwire.io.inputs import check_hdf5_signatures, look_alikes, sample_group, samples_by_stem
from nuwire.events.sweep import SweepPoint, expand_sweep, train_seed_settings
from nuwire.systematics.variations import variations_from_config

try:
    expand_config_paths(config)  # ~ and $VARS in paths, before anything looks at them
    check_config(config)
    _INPUT_DIRS = {
        "input.opensamples_dir": (
            config["input"]["opensamples_dir"] if config["input"]["source"] == "opensamples" else ""
        ),
        "input.zenodo.download_dir": (
            config["input"]["zenodo"]["download_dir"] if config["input"]["source"] == "zenodo" else ""
        ),
    }
    check_results_dir(config["results"], NUWIRE_DIR, _INPUT_DIRS)
    SWEEP = expand_sweep(config["sweep"], config["train"].get("seeds"))
    # Detector variations (workflow/rules/systematics.smk), each checked before any job. Not in
    # check_config: nuwire.pipeline.config is imported by train and evaluate, whose code
    # fingerprints must not change with the systematics code.
    VARIATIONS = variations_from_config(config)
except NuwireError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None

RESULTS = config["results"].rstrip("/")
SYNTHETIC = config["input"]["source"] == "synthetic"
# validate filled in the synthetic section's defaults where there is one (source synthetic).
SYNTHETIC_DIR = (
    config["synthetic"]["resources_dir"] if "synthetic" in config else field_default("synthetic", "resources_dir")
).rstrip("/")


def _synthetic_samples():
    names = []
    for group, spec in sorted(config["synthetic"]["samples"].items()):
        names += [f"{group}_WithWire_{i:02d}" for i in range(spec["files"])]
    return names


def _opensamples_files():
    directory = Path(config["input"]["opensamples_dir"])
    pattern = config["input"]["pattern"]
    files = sorted(directory.glob(pattern))
    others = look_alikes(directory, pattern, files) if workflow.is_main_process else []
    if others:
        print(
            f"nuwire: note: input.opensamples_dir: {len(others)} file(s) named like HDF5 do not match "
            f"input.pattern {pattern!r} and are not used: {', '.join(others[:10])}"
            f"{' ...' if len(others) > 10 else ''}. Widen input.pattern (e.g. '*.[hH]5') to use them.",
            file=sys.stderr,
        )
    if not files:
        raise WorkflowError(
            f"input.opensamples_dir: no files matching {pattern!r} in {described(directory)}. Copy the "
            "OpenSamples WithWire files there or fix the path in the config."
            f"{f' It holds {len(others)} other HDF5-like file(s), e.g. {Path(others[0]).name}: widen input.pattern to use them.' if others else ''}"
        )
    try:
        check_hdf5_signatures(files)  # all empty or non-HDF5 files in one message, before any job
        return samples_by_stem(files)
    except NuwireError as err:
        raise WorkflowError(f"invalid configuration: {err}") from None


def _zenodo_files():
    """{sample: RemoteFile} of the records' listings (fetched once, kept under RESULTS/zenodo/)."""
    from nuwire.io.zenodo import remote_files

    try:
        return remote_files(config["input"]["zenodo"], f"{RESULTS}/zenodo")
    except NuwireError as err:
        raise WorkflowError(f"invalid configuration: {err}") from None


SOURCE = config["input"]["source"]
ZENODO_DIR = config["input"]["zenodo"]["download_dir"].rstrip("/")
ZENODO_FILES = _zenodo_files() if SOURCE == "zenodo" else {}
if SYNTHETIC:
    INPUT_FILES = {s: f"{SYNTHETIC_DIR}/{s}.h5" for s in _synthetic_samples()}
elif SOURCE == "zenodo":
    INPUT_FILES = {s: f"{ZENODO_DIR}/{s}.h5" for s in ZENODO_FILES}
else:
    INPUT_FILES = _opensamples_files()
SAMPLES = sorted(INPUT_FILES)


wildcard_constraints:
    sample=SAMPLE_NAME,
    arch="|".join(re.escape(a) for a in sorted(config["architectures"])),
    plane="[012]|all",
    scale="[0-9.e-]+",
    # Escaped although the schema restricts cut names: a name is a regex alternative here.
    cut="|".join(re.escape(c) for c in sorted(config["cuts"])),
    # The target level only for a target other than nue_cc; the seed level only with several train.seeds.
    window="(whole|crop[0-9]+)(/flavour)?(/seed[0-9]+)?",


def canonical(value):
    """Nested dicts with sorted keys: Snakemake compares params as written, so a reordered but
    equal config section (e.g. after a YAML round trip) must not look like a change."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def _h5(sample):
    """An input file as an input of a job. A user's file (source opensamples) is `ancient`, so its
    timestamp alone reruns nothing (a `touch`), its content does, through the input_id params
    below; the workflow's own files (simulated, downloaded) rerun what follows when remade."""
    return ancient(INPUT_FILES[sample]) if SOURCE == "opensamples" else INPUT_FILES[sample]


def input_h5(wildcards):
    return _h5(wildcards.sample)


# The content identity of each input (nuwire.io.identity), a params value of render: a file
# replaced by `cp -p` or `rsync -a` (an older mtime) reruns its render, a touched one nothing.
# Synthetic files are the workflow's own outputs (their rules rerun them); a Zenodo file's
# identity is its listed MD5.
from nuwire.io.identity import IdentityCache, input_identity

_IDENTITIES = IdentityCache(".snakemake/nuwire-input-ids.json", writable=workflow.is_main_process)
atexit.register(_IDENTITIES.flush)  # after a dry run too; onstart below flushes before any job


def _rendered_sha256(sample):
    try:
        return json.loads(Path(f"{RESULTS}/images/{sample}.qc.json").read_text()).get("input_sha256")
    except (OSError, ValueError):
        return None


def sample_input_id(sample):
    if SYNTHETIC:
        return "made by the workflow"
    if SOURCE == "zenodo":
        return f"md5:{ZENODO_FILES[sample].md5}"
    return input_identity(INPUT_FILES[sample], _IDENTITIES, lambda: _rendered_sha256(sample))


def input_id(wildcards):
    return sample_input_id(wildcards.sample)


def all_input_ids(wildcards=None):
    return [sample_input_id(s) for s in SAMPLES]


def all_input_h5(wildcards=None):
    return [_h5(s) for s in SAMPLES]


def all_images(wildcards=None):
    return [f"{RESULTS}/images/{s}.parquet" for s in SAMPLES]


def all_qc(wildcards=None):
    return [f"{RESULTS}/images/{s}.qc.json" for s in SAMPLES]


# A sweep point's directory below models/ (nuwire.events.sweep.SweepPoint.path) as wildcards:
# the one pattern of every per-point output, log and benchmark.
POINT = "{arch}/plane{plane}/scale{scale}/{cut}/{window}"
MODEL_DIR = f"{RESULTS}/models/{POINT}"


def point_dir(point):
    return f"{RESULTS}/models/{point.path}"


# Where a job's log, benchmark and checkpoint live: RESULTS/{logs,benchmarks,checkpoints}/JOB, JOB
# being the rule's name, then its wildcards' path when it has several jobs (e.g. f"train/{POINT}").
def log_file(job):
    return f"{RESULTS}/logs/{job}.log"


def benchmark_file(job):
    return f"{RESULTS}/benchmarks/{job}.tsv"


def checkpoint_dir(job):
    return f"{RESULTS}/checkpoints/{job}"


def all_metrics(wildcards=None):
    return [f"{point_dir(p)}/metrics.json" for p in SWEEP]


def all_predictions(wildcards=None):
    """Each point's test scores, in the order of all_metrics (the summary pairs them)."""
    return [f"{point_dir(p)}/predictions.parquet" for p in SWEEP]


def benchmark_jobs():
    """(job, Snakemake benchmark file) of every job the summary reports the runtime of. Not the
    simulate jobs: their files may come from an earlier run, and asking for their benchmark
    files would simulate them again."""
    jobs = [(f"render {s}", benchmark_file(f"render/{s}")) for s in SAMPLES]
    jobs.append(("dataset", benchmark_file("dataset")))
    for p in SWEEP:
        jobs.append((f"train {p.path}", benchmark_file(f"train/{p.path}")))
        jobs.append((f"evaluate {p.path}", benchmark_file(f"evaluate/{p.path}")))
    return jobs


def all_benchmarks(wildcards=None):
    return [path for _, path in benchmark_jobs()]


MODEL_CATEGORY = "Model {arch} plane{plane} scale{scale} {cut} {window}"


def model_figure(name):
    """A per-model figure for the report, in that model's own category, captioned from report/NAME.rst."""
    return report(f"{MODEL_DIR}/{name}.png", caption=f"../report/{name}.rst", category=MODEL_CATEGORY)


def train_settings(wildcards):
    """The architecture's training settings plus the run-wide ones (with this job's seed), as one dict."""
    train = train_seed_settings(config["train"], SweepPoint.from_wildcards(wildcards))
    return canonical({**config["architectures"][wildcards.arch], **train})


EFFECTIVE_CONFIG = f"{RESULTS}/config.yaml"


def get_final_output():
    return [
        EFFECTIVE_CONFIG,
        f"{RESULTS}/dataset/inspect.tsv",
        f"{RESULTS}/dataset/events.parquet",
        *all_metrics(),
        f"{RESULTS}/summary/summary.tsv",
        *systematics_targets(),  # workflow/rules/systematics.smk; none without variations
    ]


# -- detector variations (config `systematics:`, workflow/rules/systematics.smk) ---------------------
SYSTEMATICS = f"{RESULTS}/systematics"


wildcard_constraints:
    variation="|".join(re.escape(v) for v in VARIATIONS) or "(?!)",


def variation_settings(wildcards):
    return VARIATIONS[wildcards.variation].as_dict()


def variation_images(wildcards):
    return [f"{SYSTEMATICS}/{wildcards.variation}/images/{s}.parquet" for s in SAMPLES]


def systematics_targets():
    """The summary's outputs when the config names variations, else nothing (the DAG is unchanged)."""
    if not VARIATIONS:
        return []
    return [f"{SYSTEMATICS}/summary/systematics.tsv", f"{SYSTEMATICS}/summary/systematics.png"]


def all_varied_predictions(wildcards=None):
    """Variation-major: every point of the first variation, then the next (the summary's order)."""
    return [f"{SYSTEMATICS}/{v}/models/{p.path}/predictions.parquet" for v in VARIATIONS for p in SWEEP]


# -- what reruns what (README, "What reruns what") ------------------------------------------------
from nuwire.pipeline.fingerprint import package_dir_for, stage_fingerprint

# NUWIRE_DIR (the Snakefile's): as a module, workflow.basedir is the user's directory.
_NUWIRE_SOURCES = package_dir_for(NUWIRE_DIR)


def code(stage):
    """Fingerprint of the nuwire code the stage's script runs (nuwire.pipeline.fingerprint), for params:
    editing that code reruns the stage and what follows; touching a file does not."""
    return stage_fingerprint(f"{NUWIRE_DIR}/workflow/scripts/{stage}.py", _NUWIRE_SOURCES)


def point_cuts(wildcards):
    """Only the point's own cut: adding or editing another cut must not rerun this point."""
    return canonical({wildcards.cut: config["cuts"][wildcards.cut]})


# -- sweep points the images cannot serve, refused before any job ---------------------------------
from nuwire.pipeline.config import check_point_images, check_point_models, input_geometry

try:
    _GEOMETRY = input_geometry(config, next(iter(INPUT_FILES.values()), None))
    if _GEOMETRY is not None:
        check_point_images(config, SWEEP, _GEOMETRY)
        if workflow.is_main_process:  # not again in every cluster job: this one imports torch
            check_point_models(config, SWEEP, _GEOMETRY)
except NuwireError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None


# -- input names a job could not be made for, refused before any job ------------------------------
from nuwire.pipeline.config import check_sample_names

try:
    check_sample_names(INPUT_FILES)
except NuwireError as err:
    raise WorkflowError(str(err)) from None


# -- resources: one place, the workflow profile ------------------------------------------------
# Each rule's `resources:` are profiles/default's `set-resources` entry for it, read here, so the
# rules and the profile cannot disagree, and a run without the profile (`--workflow-profile none`,
# or nuwire used as a module from another directory) still gets them.
with open(NUWIRE_DIR / "profiles" / "default" / "config.yaml") as _profile:
    RESOURCES = yaml.safe_load(_profile)["set-resources"]


# Train's CPUs: torch threads plus one per DataLoader worker process (nuwire.pipeline.cpus). The
# rule asks for that many threads; the Slurm plugin submits a rule's threads as --cpus-per-task
# (the workflow profile sets no cpus_per_task for train and evaluate, which would replace them),
# and the job fits torch and the workers into what it was actually given.
TRAIN_CPUS = config["train"]["threads"] + config["train"]["num_workers"]


# -- one workflow at a time per results directory (nuwire.pipeline.results_lock) ---------------------------
from nuwire.pipeline import results_lock


onstart:
    # Only the process that schedules jobs, not a cluster job running this Snakefile again.
    if workflow.is_main_process:
        try:
            results_lock.check_writable(RESULTS)
            _LOCK = results_lock.acquire(RESULTS, log=print)
        except NuwireError as err:
            raise WorkflowError(str(err)) from None
        atexit.register(results_lock.release, _LOCK)  # also after an interrupt
        _IDENTITIES.flush()  # the input identities of this DAG, before any job runs


onsuccess:
    results_lock.release(Path(RESULTS) / results_lock.LOCK_NAME)


onerror:
    results_lock.release(Path(RESULTS) / results_lock.LOCK_NAME)
