# Two commands for a fresh machine:
#   make demo   set everything up and run the whole loop on embedded defaults
#   make test   set everything up and run every check CI runs
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | sha256sum | cut -c1-12)

# Debian packages: WeasyPrint renders PDF reports with Pango; tests look at them with poppler;
# the cost ledger runs on Spark (--engine spark), which needs a Java runtime.
DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils openjdk-17-jre-headless

.PHONY: setup system demo test lint typecheck contracts unit bench docs clean

setup: system $(STAMP)

system:
	@missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev,evidence,runtime,finops,spark]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: setup
	$(BIN)/alignops demo --dir demo

test: lint typecheck contracts unit

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: setup
	$(BIN)/mypy

contracts: setup
	$(BIN)/lint-imports

# pytest exits 5 when it collects nothing; that means the suite is broken, so it fails.
unit: setup
	@$(BIN)/python -m pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: the test suite is broken"; exit 1; fi; \
	exit $$status

bench: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev,evidence,runtime,finops,spark,bench]'
	$(BIN)/python bench/check_bench.py
	$(BIN)/python bench/evidence_bench.py
	$(BIN)/python bench/runtime_bench.py
	$(BIN)/python bench/delivery_bench.py
	$(BIN)/python bench/monitor_bench.py
	$(BIN)/python bench/anomaly_bench.py
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/allocation_bench.py
	$(BIN)/python bench/cost_anomaly_bench.py
	$(BIN)/python bench/forecast_bench.py

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache bench/out

docs: setup
	$(BIN)/typer alignops.cli.app utils docs --name alignops --output docs/cli.md
