# aws-ml-labs: `make lab` opens the labs, `make test` runs every check. Both set up .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The install is redone only when pyproject.toml changes.
STAMP_RUN := $(VENV)/.stamp-run
STAMP_DEV := $(VENV)/.stamp-dev
PORT   ?= 8888
PYTEST_ARGS ?=

.PHONY: lab test labs labs-check lint format bench clean venv

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e .
	@touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e ".[dev]"
	@touch $@ $(STAMP_RUN)

venv: $(STAMP_DEV)

## lab: set up, then open JupyterLab on labs/ (offline backend unless MLLAB_BACKEND=aws)
lab: $(STAMP_RUN)
	MLLAB_BACKEND=$${MLLAB_BACKEND:-offline} $(BIN)/jupyter lab --notebook-dir=labs \
		--no-browser --ip=127.0.0.1 --port=$(PORT) --ServerApp.open_browser=False \
		$$([ "$$(id -u)" = 0 ] && echo --allow-root)

## test: set up, lint, then run every test: each solution under nbval, then the suite
## (unit tests, learner copies fail at their stubs, labs/ in sync, stated costs measured)
test: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@home=$$(mktemp -d); \
	MLLAB_NBVAL_HOME=$$home $(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax solutions $(PYTEST_ARGS); nb=$$?; \
	MLLAB_NBVAL_HOME=$$home $(BIN)/python -m pytest -n 2 --durations=15 $(PYTEST_ARGS); rc=$$?; \
	rm -rf $$home; \
	if [ $$nb -ne 0 ]; then echo "nbval run of solutions/ failed (exit $$nb)"; exit $$nb; fi; exit $$rc

## labs: regenerate the learner notebooks in labs/ from solutions/ (labs-check: only compare)
labs: $(STAMP_RUN)
	$(BIN)/python -m mllab.workbook.generate solutions labs

labs-check: $(STAMP_RUN)
	$(BIN)/python -m mllab.workbook.generate solutions labs --check

## lint: ruff and mypy
lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## format: apply ruff's formatting and safe fixes
format: $(STAMP_DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: run the benchmarks (printed ratios; nothing asserted)
bench: $(STAMP_DEV)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
