# Two entry points: `make demo` and `make test`. Both create or refresh .venv, install torch==2.13.0
# (the CPU build; any other spec pulls CUDA wheels) and then this package with its dev extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: venv
	$(BIN)/vssl demo --out demo_out

# pytest's own exit status is kept in $(VENV)/.pytest-status (make itself reports any failure as 2).
test: venv
	$(BIN)/python -m pytest -q; status=$$?; echo $$status > $(VENV)/.pytest-status; exit $$status

clean:
	rm -rf $(VENV) demo_out runs
