# Two entry points, both usable on a fresh machine with only Python 3.11:
#   make demo   set up .venv and run the main job on the bundled demo data
#   make test   set up .venv and run the whole test suite
# and a third for development:
#   make test-fast   the tests not marked slow (no end-to-end runs), in a few minutes
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
KERNEL := winback-workbench

# Tests run on every core (pytest-xdist). Each worker takes whole test files (--dist loadfile), so a file's
# module fixtures (a demo month, the hostile-data run) are built once; files go out in the order
# tests/conftest.py sorts them (files with slow tests first), not by their number of tests. Skipped tests and
# their reasons are listed by -ra (pyproject's addopts; a second -r here would replace it).
PYTEST_PARALLEL := -n auto --dist loadfile --no-loadscope-reorder --durations=25

.PHONY: demo test test-fast bench env clean

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
	$(PY) -m pytest $(PYTEST_PARALLEL)

test-fast: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_PARALLEL) -m "not slow"

bench: $(VENV)/.installed
	for f in benchmarks/bench_*.py benchmarks/survey_design.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) outputs/demo
