# The README's set-up commands. `make test` builds .venv once (the stamp file
# makes re-runs skip the install until pyproject.toml changes), then runs pytest.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The PyTorch pair installed first when the venv has none; override for other
# machines, e.g. `make test TORCH="torch torchvision"`.
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install test bench demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch, torchvision" 2>/dev/null || $(PY) -m pip install $(TORCH)
	$(PY) -m pip install -e ".[test,eval]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The main job: trains a captioner and a drawer on generated data (about 10 CPU minutes)
# and writes runs/demo/index.html.
demo: $(STAMP)
	$(VENV)/bin/vision-attention demo $(DEMO_ARGS)

# Speed benchmarks: scripts that print tables, never part of `make test`.
bench: $(STAMP)
	for f in tests/benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
