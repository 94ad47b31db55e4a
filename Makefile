# Every target that needs the environment installs it first, so `make run` and `make test`
# work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= afdscope-out

.PHONY: install run test bench lint fuzz clean calibration-data calibrate docs

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/afdscope paper all --out $(OUT) --force
	$(BIN)/afdscope report --model deepseek-v3 --hardware h800 --context 4096 --tpot-slo-ms 50 \
		--out $(OUT)/report.html --force

test: install
	$(BIN)/python -m pytest

# The property and fuzz tests with a larger budget than `make test` gives them.
fuzz: install
	AFDSCOPE_FUZZ_EXAMPLES=5000 AFDSCOPE_PROPERTY_EXAMPLES=1000 $(BIN)/python -m pytest \
		tests/test_fuzz_loaders.py tests/test_fuzz_cli.py tests/test_paper_properties.py \
		tests/test_deploy_properties.py

# Times the paper analyses, evaluators, search, simulator and validation; writes the figures to
# benchmarks/results.json (or $$BENCH_OUT) and fails when a target of benchmarks/targets.py is missed.
# Refit the kernel profiles (calibration/profiles/*.yaml) from the committed measured tables.
calibrate: install
	$(BIN)/afdscope calibration fit

bench: install
	$(BIN)/python benchmarks/run.py

# Regenerate the CLI flag reference from the code (tests/test_cli_reference.py checks it is current).
docs: install
	$(BIN)/python -m afdscope.cli.reference > docs/cli-reference.md

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache

# Re-creates the measured kernel tables (src/afdscope/calibration/measured/, validation/data/) from the
# aiconfigurator-core wheel (Apache-2.0) in a scratch venv; needs the network, never run by test or run.
AIC_VENV ?= /tmp/aic-venv
AIC_VERSION ?= 0.12.0
calibration-data:
	test -x $(AIC_VENV)/bin/python || $(PYTHON) -m venv $(AIC_VENV)
	$(AIC_VENV)/bin/python -m pip install --quiet --no-deps 'aiconfigurator-core==$(AIC_VERSION)'
	$(AIC_VENV)/bin/python -m pip install --quiet 'pandas>=2.2' 'pyarrow>=15'
	$(AIC_VENV)/bin/python src/afdscope/calibration/sources/aiconfigurator.py
