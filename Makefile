# make run   : set up (first time only) and open the app
# make test  : set up (first time only), check the code with ruff and run every test
# make serve : serve a class: REPLICAS app processes (default: 1.5 per core, rounded up) behind nginx on SERVE_PORT
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8501
SERVE_PORT ?= 8500
REPLICAS   ?=

.PHONY: setup run serve test bench clean

setup: $(STAMP)

$(STAMP): requirements.txt rnnviz/_kernels.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@echo "Compiling the engine's loops (once per machine)..."
	$(PY) -c "import rnnviz; rnnviz.warm_up()"
	@touch $(STAMP)

run: setup
	$(PY) -m streamlit run viz_app.py --server.port $(PORT)

serve: setup
	$(PY) -m deploy.serve --port $(SERVE_PORT) $(if $(REPLICAS),--replicas $(REPLICAS))

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest

bench: setup
	$(PY) benchmarks/bench_trace.py

clean:
	rm -rf $(VENV) .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
