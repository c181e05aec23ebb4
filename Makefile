# Two commands do all the set-up on a fresh machine (Python >= 3.11, Java 17, Maven):
#   make run    the main job: `vigil up --simulate 20` on a local Kafka it provisions
#   make test   the whole test suite, unit and integration (real Kafka)

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
SIMULATE ?= 20

.PHONY: install run test test-unit kafka-jars clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

kafka-jars: install
	$(BIN)/vigil kafka fetch

run: install
	$(BIN)/vigil up --simulate $(SIMULATE)

test: kafka-jars
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
