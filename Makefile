# Two commands from a fresh clone:  `make demo`  and  `make test`.
# Both create .venv with pip when it is missing (torch/torchvision pinned by constraints.txt).
# editable_mode=compat: a path entry for the clone, so `python` started in the clone's
# parent folder imports the package and not the clone folder as a namespace package.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.geoseg-installed

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]" --config-settings editable_mode=compat
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/geoseg demo demo_output

test: $(STAMP)
	$(PY) -m ruff check geoseg tests benchmarks
	$(PY) -m ruff format --check geoseg tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -q

clean:
	rm -rf demo_output .pytest_cache
