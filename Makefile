# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo graphviz site-tools evidence-tools clean

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

# The docs-site tests open the built sites in Debian's Chromium (driven by Playwright, no browser
# download) and check Mermaid with Mermaid's own parser under Node (tests/node, from npm).
# Installed when we may; else those tests are skipped and say why (.ci/run requires them).
site-tools:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: no 'chromium': the browser tests will be skipped (install Debian's 'chromium' package to run them)"; \
	  fi; }
	@if command -v npm >/dev/null 2>&1 && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then \
	  [ tests/node/node_modules/.package-lock.json -nt tests/node/package-lock.json ] || \
	    { echo "installing tests/node (npm ci)"; (cd tests/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || \
	      echo "note: npm ci failed in tests/node: the Mermaid parser and browser tests will be skipped"; }; \
	else \
	  echo "note: no Node.js 20.19 or newer with npm: the Mermaid parser and browser tests will be skipped"; \
	fi

# The evidence-pack tests check a pack the way an auditor's README tells them to, with standard
# tools: unzip, sha256sum (coreutils), openssl and jq. Installed when we may; else those tests are
# skipped and say why (.ci/run requires them).
evidence-tools:
	@missing=""; for tool in unzip jq openssl; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "note: missing$$missing: the evidence-pack tests that use them will be skipped"; \
	  fi; \
	fi

install: $(STAMP) graphviz

# Both cores: pytest-xdist's workers, each taking the next test when it is free (tests/conftest.py puts
# the longest modules first).
test: install site-tools evidence-tools
	$(BIN)/python -m pytest -q -n auto --dist worksteal

demo: install
	$(BIN)/archviz demo

clean:
	rm -rf $(VENV) build dist *.egg-info output/demo tests/node/node_modules
