# The two set-up commands of the README. Both create the project venv (.venv) and install the pinned
# dependencies (requirements.txt) on first use, then reuse it.
#   make run    the default workflow end to end (synthetic data, CPU), then its HTML report
#   make test   the test suite, one pytest-xdist worker per core (installs slurm-wlm + munge with apt for the
#               SLURM test when run as root)
#   make test-extended  what CI runs after it: every shipped config end to end at tiny size, every rule in its
#               env, the GPU scripts' CPU smoke, the longest rerun checks and the jobs through SLURM
#               (pytest marker `extended`)
#   make env-venvs  one venv per conda env file (envs/*.yaml) from its pip part alone, under .venv-envs/, for
#               tests/test_envs.py; built once per machine, rebuilt when an env file changes (content hash)

VENV  ?= .venv
PY    := $(VENV)/bin/python
CORES ?= all

.PHONY: run test test-extended venv env-venvs bench clean-results

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.installed

env-venvs: venv
	$(PY) tests/test_envs.py build

run: venv
	$(VENV)/bin/snakemake --cores $(CORES)
	$(VENV)/bin/snakemake --report results/report.html

test: venv env-venvs
	-@[ "$$(id -u)" = 0 ] && scripts/slurm.sh install
	$(PY) -m pytest -n auto

test-extended: venv env-venvs
	-@[ "$$(id -u)" = 0 ] && scripts/slurm.sh install
	$(PY) -m pytest -m extended

bench: venv
	$(PY) benchmarks/run_all.py

clean-results:
	rm -rf results/*/ .snakemake
