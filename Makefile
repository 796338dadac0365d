# The README's set-up commands. `make test` builds .venv once (the stamp file
# makes re-runs skip the install until pyproject.toml changes), then runs pytest.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The PyTorch pair installed first when the venv has none; override for other
# machines, e.g. `make test TORCH="torch torchvision"`.
TORCH ?= torch==2.14.1 torchvision==0.29.1
# The exact versions the suite passed with (PyTorch aside, which TORCH chooses), so that a
# new release of a dependency cannot change a fresh install. `make constraints` refreshes it
# from the venv after the suite passes.
CONSTRAINTS := constraints.txt
TORCH_FAMILY := ^(torch|torchvision|triton|nvidia-|cuda-|sympy|mpmath|networkx|jinja2|markupsafe|filelock|fsspec|typing.extensions)

.PHONY: install lint test test-slow bench demo clean constraints

install: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch, torchvision" 2>/dev/null || $(PY) -m pip install $(TORCH)
	$(PY) -m pip install -c $(CONSTRAINTS) -e ".[test,eval,plot]"
	touch $(STAMP)

# ruff first: lint and format are part of passing, as the tests are.
test: $(STAMP) lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The shipped models scored on whole splits against their cards (needs VISION_ATTENTION_DATA).
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

# The main job: trains a captioner and a drawer on generated data for a fixed number of steps
# and writes runs/demo/index.html.
demo: $(STAMP)
	$(VENV)/bin/vision-attention demo $(DEMO_ARGS)

# Speed benchmarks: scripts that print tables, never part of `make test`.
bench: $(STAMP)
	for f in tests/benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

constraints: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v -i -E '$(TORCH_FAMILY)' > $(CONSTRAINTS)

clean:
	rm -rf $(VENV) build *.egg-info
