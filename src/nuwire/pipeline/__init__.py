"""Running stages as Snakemake jobs: config checks, the stage runner, code fingerprints, the lock, CPUs."""
