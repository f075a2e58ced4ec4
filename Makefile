# Everything a fresh machine needs is done by these targets themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## The whole suite on this machine: intake 8001, dispatch 8002, parts 8003, claims 8004, billing 8005.
run: setup
	$(BIN)/aftersales run

## Lint, then every test against the real RabbitMQ and PostgreSQL (AMQP_URL, TEST_DATABASE_URL).
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache *.egg-info
