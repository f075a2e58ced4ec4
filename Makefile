# Everything a fresh machine needs is done by these targets themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup ops-tools run demo test soak lint format clean bench bench-soak

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## promtool and prometheus (Debian's package) for the rule checks and the real-Prometheus test.
## Installed only when missing; as root, or through sudo when there is one.
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
ops-tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
		$(SUDO) apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
			prometheus >/dev/null; }

## The whole suite on this machine: intake 8001, dispatch 8002, parts 8003, claims 8004, billing 8005.
run: setup
	$(BIN)/aftersales run

## Scenarios 1 and 2 against the running suite (`make run` in another terminal), told as they happen.
demo: setup
	$(BIN)/aftersales demo

## The end-to-end fault run with 200 requests (make test runs a short one).
soak: setup
	E2E_FAULT_REQUESTS=200 $(BIN)/pytest -q -s -m "not fault" tests/e2e/test_under_faults.py

## Lint, then every test against the real RabbitMQ and PostgreSQL (AMQP_URL, TEST_DATABASE_URL).
test: setup ops-tools
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

## Benchmarks (bench/README.md): every figure of issue 10 in one run, against the local
## RabbitMQ and PostgreSQL; writes bench/results/latest.json and a table. STEADY=60 seconds.
STEADY ?= 60
bench: setup
	$(BIN)/python -m bench.run --steady-seconds $(STEADY)

## The same, plus the 10-minute memory soak at 200 reports/s.
bench-soak: setup
	$(BIN)/python -m bench.run --steady-seconds $(STEADY) --soak
