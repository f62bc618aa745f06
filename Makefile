# The two commands of the quick start are `make run` and `make test`.
# Everything they need is installed into .venv by the `venv` target from exact pins.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= 2
CONFIG ?= config/config.yaml
PYTEST_ARGS ?=
STAMP  := $(VENV)/.installed

.PHONY: venv run report test test-fast bench slurm-profile lint clean

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "nuwire needs Python 3.11 (set PYTHON=...)"'
	$(PYTHON) -m venv $(VENV)
	# torch first and alone, so that no other package can pull a different torch build.
	$(BIN)/pip install --quiet -c requirements/constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c requirements/constraints.txt -e ".[test,lint]"
	touch $(STAMP)

venv: $(STAMP)

## run: the main job on the synthetic default, end to end, ending with results/report.html
run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --report results/report.html
	@echo "Report: results/report.html"

## test: the test suite (CI adds the slow and Slurm checks with PYTEST_ARGS)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

## slurm-profile: make `snakemake --profile slurm` resolve to this repository's profiles/slurm
slurm-profile:
	@dest="$${XDG_CONFIG_HOME:-$$HOME/.config}/snakemake/slurm"; \
	if [ -e "$$dest" ] && [ ! -L "$$dest" ]; then \
		echo "$$dest exists and is not a link; move it away, then run make slurm-profile again" >&2; exit 1; \
	fi; \
	mkdir -p "$$(dirname "$$dest")" && ln -sfn "$(CURDIR)/profiles/slurm" "$$dest" && \
	echo "linked $$dest -> $(CURDIR)/profiles/slurm (now: snakemake --profile slurm)"

## lint: formatting and lint of the Python (ruff) and the rules (snakefmt), then Snakemake's own lint
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

clean:
	rm -rf results resources .snakemake
