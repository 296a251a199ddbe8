# Two commands for a newcomer: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
NATS_PORT ?= 4222
NATS_MONITOR_PORT ?= 8222
export NATS_PORT NATS_MONITOR_PORT

.PHONY: setup system-packages run test bench schemas lint clean

setup:  ## install uv if missing and the locked environment
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 \
		|| $(PYTHON) -m pip install --quiet uv \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv
	$(UV) sync --frozen
	@deploy/local/web-packages.sh

run: setup  ## nats-server + the four services + a dev SMTP sink, demo data, URLs; Ctrl-C stops all
	@mkdir -p .run/nats
	LEAD_INTAKE_NATS_URL=nats://127.0.0.1:$(NATS_PORT) \
	DEAL_PIPELINE_NATS_URL=nats://127.0.0.1:$(NATS_PORT) \
	NOTIFICATION_NATS_URL=nats://127.0.0.1:$(NATS_PORT) \
	ANALYTICS_NATS_URL=nats://127.0.0.1:$(NATS_PORT) \
	ANALYTICS_NATS_MONITOR_URL=http://127.0.0.1:$(NATS_MONITOR_PORT) \
	NOTIFICATION_HEADS_OF_SALES='["head@localhost"]' \
	$(UV) run --frozen honcho start -e deploy/local/dev.env -f deploy/local/Procfile

system-packages:  ## Debian packages the tests use (PostgreSQL, Chromium, Prometheus), when missing
	@deploy/local/system-packages.sh

test: setup system-packages  ## unit, service and end-to-end tests against real servers
	$(UV) run --frozen pytest -n 2 --dist loadfile -m "not solo"  # most tests wait on servers
	$(UV) run --frozen pytest -m solo  # the cluster test, with the machine to itself

bench: setup system-packages  ## throughput and latency against same-run baselines, JSON lines (BENCH_SCALE=0.1: quick)
	$(UV) run --frozen python -m bench

schemas: setup  ## export the events' JSON Schemas (refuses an incompatible change) and the AsyncAPI catalogue
	$(UV) run --frozen python -m crm_contracts.schemas
	$(UV) run --frozen python -m crm_contracts.catalogue

lint: setup  ## ruff, and mypy: strict on the contracts, every service's domain and the pure packages
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy

clean:  ## forget local data of `make run`
	rm -rf .run
