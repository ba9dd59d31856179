# kdial — the two commands a newcomer needs are `make demo` and `make test`.
# Everything else here is what they are made of.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Root on CI and in containers; sudo elsewhere.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Most integration tests wait on real time (retry delays, ring timeouts, health windows), so four
# processes finish the suite in under half the time even on two cores. A file stays on one
# process: its module fixtures (an operator, a switch) start once.
PARALLEL := -n 4 --dist loadfile

.DEFAULT_GOAL := help
.PHONY: help test lint typecheck layers crds unit integration e2e demo images system-deps demo-deps clean

help:  ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

test: $(VENV)/.installed system-deps  ## install what is missing, then ruff, mypy, import layers, CRD freshness and pytest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/kdial crds --check
	$(BIN)/pytest $(PARALLEL)

# A test's folder is its marker (tests/conftest.py): tests/unit starts no process and opens no
# socket; tests/integration does; tests/e2e needs a real cluster and is skipped without one.
unit: $(VENV)/.installed  ## the unit tests alone
	$(BIN)/pytest -m unit

integration: $(VENV)/.installed system-deps  ## the integration tests alone
	$(BIN)/pytest -m integration $(PARALLEL)

e2e: $(VENV)/.installed  ## the e2e tests against a disposable cluster (KUBECONFIG=path; installs the CRDs)
	$(BIN)/pytest -m e2e --kubeconfig "$(KUBECONFIG)"

crds: $(VENV)/.installed  ## regenerate crds/ from the pydantic models
	$(BIN)/kdial crds

demo: $(VENV)/.demo demo-deps  ## kdial end to end on this machine, under two minutes (DEMO_ARGS=--fast: shorter)
	$(BIN)/kdial demo $(DEMO_ARGS)

# The images the chart installs by default: kdial's tag is the chart's appVersion, FreeSWITCH's
# the chart's worker.freeswitchImage.tag. IMAGE_REGISTRY=registry.example.com/team builds them
# for your own registry (then set image.repository and worker.*.repository to match).
IMAGE_REGISTRY   ?= ghcr.io/kdial
APP_VERSION      := $(shell awk '/^appVersion:/ {gsub(/"/, "", $$2); print $$2}' charts/kdial/Chart.yaml)
FREESWITCH_TAG   := $(shell awk '/^  freeswitchImage:/ {f = 1} f && /^    tag:/ {gsub(/"/, "", $$2); print $$2; exit}' charts/kdial/values.yaml)
KDIAL_IMAGE      ?= $(IMAGE_REGISTRY)/kdial:$(APP_VERSION)
FREESWITCH_IMAGE ?= $(IMAGE_REGISTRY)/freeswitch:$(FREESWITCH_TAG)
# podman needs no daemon; docker answers --version without one, so ask its daemon.
ENGINE ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || { docker info >/dev/null 2>&1 && echo docker; })

images:  ## build the kdial image, and FreeSWITCH's (images/freeswitch), with podman or docker
	@[ -n "$(ENGINE)" ] || { \
		echo "make images needs podman, or docker with a running daemon; neither answers here." >&2; \
		if command -v docker >/dev/null; then echo "docker is installed but its daemon does not answer (docker info)." >&2; fi; \
		echo "Install podman, or start docker, or say which: make images ENGINE=docker" >&2; \
		exit 1; }
	$(ENGINE) build -t $(KDIAL_IMAGE) .
ifneq ($(wildcard images/freeswitch/Dockerfile),)
	$(ENGINE) build -t $(FREESWITCH_IMAGE) images/freeswitch
endif

# Debian's python3 needs python3-venv for `-m venv`; a redis-server is what the tests and the demo
# talk to; promtool (Debian's prometheus package) checks the chart's alerting rules.
demo-deps:
	@command -v redis-server >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends redis-server; }

system-deps:
	@command -v redis-server >/dev/null && command -v promtool >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends redis-server prometheus; }

$(BIN)/python:
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Everything, for the tests and linters (the `dev` extra includes `demo`).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Only what the demo runs: kdial and kmock (its emulated API server).
$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
