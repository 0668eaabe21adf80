# Two commands do everything on a fresh machine with Python 3.11:
#   make run   - create .venv, install, run the main job (Table 5 and friends) on config/config.yaml
#   make test  - create .venv, install, run the tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# other targets than the default, e.g. make run TARGETS=results/tables/localmin.csv
TARGETS ?=
export PATH := $(BIN):$(PATH)

.PHONY: run test lint format benchmark clean

# The image task's offline data: Debian's Fashion-MNIST (real images, MIT), where apt is usable.
FASHION_MNIST := /usr/share/datasets/fashion-mnist

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "fdi needs Python 3.11, found " + sys.version' 
	@test -d $(FASHION_MNIST) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null; } \
		|| echo "note: $(FASHION_MNIST) missing; the image task needs Debian's dataset-fashion-mnist package"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(TARGETS)

test: $(STAMP)
	bash tests/ssh/install-sshd.sh
	bash tests/slurm/start-cluster.sh
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --cores 1

format: $(STAMP)
	$(BIN)/ruff format fdi tests benchmarks
	$(BIN)/snakefmt Snakefile rules

benchmark: $(STAMP)
	$(BIN)/python benchmarks/tree_fit.py

clean:
	rm -rf results .snakemake
