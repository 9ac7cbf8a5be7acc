# intercom-stream developer commands. Needs Python 3.11+ and Java 17 + Maven (for the local Kafka).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# make test runs the suite on this many pytest-xdist processes (each starts its own broker and emulator).
TEST_WORKERS ?= 3

IMAGE  ?= localhost/intercom-stream:dev
EMULATOR_IMAGE ?= localhost/intercom-stream-emulator:dev

.PHONY: help install demo test test-unit lint format bench bench-scale soak image image-test clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## Create .venv and install the project with its dev tools

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,rocksdb]'
	touch $@

demo: install ## Broker + emulator + worker + sample events: print what reached Intercom
	$(BIN)/intercom-stream sandbox

test: install ## Run the whole test suite (unit, emulator, integration on a real Kafka)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

test-unit: install ## Only the fast tests that need no broker
	$(BIN)/pytest -m "not integration"

lint: install ## ruff + mypy
	$(BIN)/ruff check streams tests
	$(BIN)/ruff format --check streams tests
	$(BIN)/mypy streams

format: install ## Format the code
	$(BIN)/ruff format streams tests
	$(BIN)/ruff check --fix streams tests

bench: install $(VENV)/.bench-installed ## Benchmarks against the real broker and the emulator (prints a table)
	$(BIN)/pytest tests/benchmarks -p no:randomly -s -q

bench-scale: install $(VENV)/.bench-installed ## Many known contacts on RocksDB, 2-3 workers (CONTACTS=1000000; not in CI)
	$(BIN)/python -m tests.scale.run --contacts $(or $(CONTACTS),1000000) --standby-replicas $(or $(STANDBYS),0)

# The benchmarks also measure the RocksDB store: its optional extra.
$(VENV)/.bench-installed: pyproject.toml
	$(BIN)/pip install -q -e '.[dev,rocksdb]'
	touch $@

image: ## Build the worker and the emulator images with buildah (Debian base via debootstrap when no registry)
	IMAGE=$(IMAGE) EMULATOR_IMAGE=$(EMULATOR_IMAGE) image/build.sh

image-test: install image ## Run the images: the worker as the chart does (podman) against Kafka + emulator, and the emulator
	IMAGE=$(IMAGE) EMULATOR_IMAGE=$(EMULATOR_IMAGE) $(BIN)/pytest tests/image -p no:randomly -s -q

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache results

soak: install ## Combined faults (kill -9, broker restart, Intercom faults), N runs: lost/misordered/replays/stalls
	$(BIN)/python -m tests.soak.run --runs $(or $(RUNS),20) $(ARGS)
