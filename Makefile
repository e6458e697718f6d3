# Two commands from a fresh clone:  `make demo`  and  `make test`.
# Both create .venv with pip when it is missing (torch/torchvision pinned by constraints.txt).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.geoseg-installed

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/geoseg demo demo_output

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf demo_output .pytest_cache
