# Two commands: `make demo` (the whole pipeline on synthetic radiographs) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: demo test lint test-slurm report bench dryrun-nih clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,slurm,lint,storage,dicom]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/snakemake
	$(VENV)/bin/snakemake --report results/synthetic/report.html

test: $(STAMP)
	$(VENV)/bin/pytest -q --durations=25

# The workflow under `snakemake --lint` (every config; the real-film one where its films are at hand;
# a config that does not parse fails too), snakefmt and ruff.
lint: $(STAMP)
	for c in config/config.yaml config/nih.yaml config/shortcut.yaml \
	  $$(test -d ../shared/data/real-lungs && echo config/shortcut_real.yaml config/curve_real.yaml); do \
	  if ! $(VENV)/bin/snakemake --lint -n --configfile $$c > .lint.log 2>&1 || grep -q '^Lints for' .lint.log; then \
	    cat .lint.log; rm -f .lint.log; exit 1; fi; \
	done; rm -f .lint.log
	$(VENV)/bin/snakefmt --check Snakefile workflow
	$(VENV)/bin/ruff check workflow tests bench

test-slurm: $(STAMP)
	tests/slurm/cluster.sh install
	d=$$(mktemp -d) && tests/slurm/cluster.sh start $$d && \
	  (CXRLOC_SLURM=1 $(VENV)/bin/pytest -q -m slurm; rc=$$?; tests/slurm/cluster.sh stop $$d; exit $$rc)

report: $(STAMP)
	$(VENV)/bin/snakemake --report results/synthetic/report.html

bench: $(STAMP)
	$(PY) bench/attention_step.py
	$(PY) bench/startup.py

dryrun-nih: $(STAMP)
	$(VENV)/bin/snakemake -n --configfile config/nih.yaml

clean:
	rm -rf results .snakemake
