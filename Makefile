# Two entry points for a fresh machine: `make demo` and `make test`.
# Both build the project's own virtual environment in .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test thorough bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/necessity explain examples/source-003.yaml

# The project's modules byte-compiled once: the tests start hundreds of `necessity` processes, and where
# PYTHONDONTWRITEBYTECODE is set each would compile some fifty modules again (about a sixth of a short command).
BYTECODE := $(BIN)/python -m compileall -q engine facts exchange > /dev/null

test: $(STAMP)
	$(BYTECODE)
	$(BIN)/necessity lint
	$(BIN)/necessity test --min-coverage 100
	$(BIN)/python -m pytest -n auto --dist loadfile

# the whole suite with every long search (tests/thorough.py): each shipped policy checked and diffed with itself, the
# whole mutation catalogue, every golden under every policy; tens of minutes on two cores
thorough: $(STAMP)
	$(BYTECODE)
	NECESSITY_THOROUGH=1 $(BIN)/python -m pytest -n auto --dist loadfile --timeout 3600 --durations 20

bench: $(STAMP)
	$(BIN)/python bench/run.py

# docs/images/*.png for docs/html.md (needs Chromium: apt-get install chromium)
screenshots: $(STAMP)
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
