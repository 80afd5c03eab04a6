# Two entry points, both usable on a fresh machine with only Python 3.11:
#   make demo   set up .venv and run the main job on the bundled demo data
#   make test   set up .venv and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
KERNEL := winback-workbench

.PHONY: demo test bench env clean

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (winback-workbench)" > /dev/null
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/workbench demo

test: $(VENV)/.installed
	$(PY) -m pytest

bench: $(VENV)/.installed
	for f in benchmarks/bench_*.py benchmarks/survey_design.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) outputs/demo
