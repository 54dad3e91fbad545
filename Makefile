# Credit Radar. `make demo` sets up and runs the product on a simulated city; `make test` runs the tests.
# The only prerequisites are Python 3.11 and Java 17.

PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
DEMO   ?= demo
SCALE  ?= tiny
SEED   ?= 7
PORT   ?= 8501

export SPARK_LOCAL_IP ?= 127.0.0.1
export MLFLOW_DISABLE_TELEMETRY = true
export PYSPARK_PYTHON = $(abspath $(BIN))/python

.PHONY: demo test venv check-prereqs lint bench clean

check-prereqs:
	@command -v $(PYTHON) >/dev/null 2>&1 || command -v python3 >/dev/null 2>&1 || { echo "Python 3.11 is required (not found on PATH)."; exit 1; }
	@py=$$(command -v $(PYTHON) || command -v python3); $$py -c 'import sys; sys.exit(0 if sys.version_info[:2]==(3,11) else 1)' \
	  || { echo "Python 3.11 is required; found $$($$py --version 2>&1) at $$py (set PYTHON=/path/to/python3.11)."; exit 1; }
	@command -v java >/dev/null 2>&1 || { echo "Java 17 is required by Spark (install OpenJDK 17: apt install openjdk-17-jre-headless)."; exit 1; }
	@java -version 2>&1 | grep -Eq 'version "(1[7-9]|2[0-9])' || { echo "Java 17 or newer is required; found: $$(java -version 2>&1 | head -1)"; exit 1; }

$(BIN)/radar: pyproject.toml | check-prereqs
	@py=$$(command -v $(PYTHON) || command -v python3); test -x $(BIN)/python || $$py -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(BIN)/radar

venv: $(BIN)/radar

demo: venv
	$(BIN)/radar simulate --scale $(SCALE) --seed $(SEED) --out $(DEMO)/city
	$(BIN)/radar run --input $(DEMO)/city/raw --as-of $$($(BIN)/python -c "import json;print(json.load(open('$(DEMO)/city/truth/scenario.json'))['as_of'])") --lake $(DEMO)/lake
	$(BIN)/radar plan --lake $(DEMO)/lake --seed $(SEED) --out $(DEMO)/plan.csv --inspectors $(DEMO)/city/inspectors.csv
	$(BIN)/radar users demo --lake $(DEMO)/lake
	$(BIN)/radar dashboard --lake $(DEMO)/lake --port $(PORT)

test: venv
	$(BIN)/ruff check radar tests bench
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check radar tests bench
	$(BIN)/ruff format --check radar tests bench

clean:
	rm -rf $(DEMO) .pytest_cache
