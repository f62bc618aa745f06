"""Running stages as Snakemake jobs: config checks, the stage runner, error messages, code fingerprints, the lock."""
