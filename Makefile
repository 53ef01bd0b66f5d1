# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo graphviz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Graphviz's `dot` is a system dependency: install it when we may, else say which package is missing.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing graphviz (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "error: Graphviz 'dot' is not installed; install the 'graphviz' system package (for example: sudo apt-get install graphviz)" >&2; \
	    exit 1; \
	  fi; }

install: $(STAMP) graphviz

test: install
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/archviz demo

clean:
	rm -rf $(VENV) build dist *.egg-info output/demo
