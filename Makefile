# The two commands of the README. PYTHON: a Python 3.11 interpreter; VENV: where to install.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= smoke
BIN := $(VENV)/bin

.PHONY: reproduce test install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'

reproduce: install
	$(BIN)/vadlib reproduce --profile $(PROFILE)

test: install
	$(BIN)/python -m pytest -n 2 --dist worksteal --durations 25
	$(BIN)/vadlib reproduce --profile full --dry-run --jobs 2
