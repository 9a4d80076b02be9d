# e-Cabinet. `make run` and `make test` work on a fresh machine: they install what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
FE_STAMP := frontend/vendor/.installed
CHROMIUM ?= /usr/bin/chromium
export ECABINET_DATA_DIR ?= data

.PHONY: run test unit integration e2e bench lint fmt setup chromium signing-tools deploy-tools janus clean constraints

setup: $(PY_STAMP) $(FE_STAMP)

$(PY_STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $@

$(FE_STAMP): frontend/package.json frontend/package-lock.json frontend/vendor.sh
	cd frontend && npm ci --omit=optional --no-audit --no-fund --loglevel=error && bash vendor.sh
	@touch $@

# Browser tests use Debian's Chromium (and Noto fonts, so Vietnamese renders in screenshots);
# install them when missing and we may (root with apt).
chromium:
	@if [ ! -x $(CHROMIUM) ] || [ ! -d /usr/share/fonts/truetype/noto ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium and fonts-noto-core for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core \
	      >/dev/null) || echo "could not install chromium: browser tests will skip"; \
	  else echo "chromium missing and not root: browser tests will skip"; fi; \
	fi

# Signature tests use SoftHSM2 (a PKCS#11 token), OpenSC's pkcs11-tool, poppler's pdfsig and NSS's
# certutil as independent validators; install them when missing and we may.
SIGNING_TOOLS := /usr/bin/softhsm2-util /usr/bin/pkcs11-tool /usr/bin/pdfsig /usr/bin/certutil
signing-tools:
	@if ! ls $(SIGNING_TOOLS) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing softhsm2, opensc, poppler-utils and libnss3-tools for the signature tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 opensc poppler-utils \
	      libnss3-tools >/dev/null) || echo "could not install the signing tools: those tests will skip"; \
	  else echo "signing tools missing and not root: those tests will skip"; fi; \
	fi

# The deployment test runs Debian's nginx with the generated configuration (deploy/), and the TURN test
# Debian's coturn; install them when missing and we may (their services are neither started nor
# enabled: the tests run their own nginx and turnserver on loopback ports).
deploy-tools:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's nginx for the deployment test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
	      || echo "could not install nginx: the deployment test will skip"; \
	    (nginx -s stop 2>/dev/null || true); \
	  else echo "nginx missing and not root: the deployment test will skip"; fi; \
	fi
	@if ! command -v turnserver >/dev/null && [ ! -x /usr/bin/turnserver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's coturn for the TURN test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coturn >/dev/null) \
	      || echo "could not install coturn: the TURN test will skip"; \
	    (systemctl stop coturn 2>/dev/null; systemctl disable coturn 2>/dev/null; true); \
	  else echo "coturn missing and not root: the TURN test will skip"; fi; \
	fi

# The bridge's behavioural tests run against both media backends: the embedded aiortc relay and Debian's
# Janus (VideoRoom plugin); install Janus when missing and we may (its service is neither started nor
# enabled: the tests run their own instances on loopback ports with a generated configuration).
janus:
	@if ! command -v janus >/dev/null && [ ! -x /usr/bin/janus ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's janus for the media backend tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq janus >/dev/null) \
	      || echo "could not install janus: the Janus backend tests will skip"; \
	    (systemctl stop janus 2>/dev/null; systemctl disable janus 2>/dev/null; true); \
	  else echo "janus missing and not root: the Janus backend tests will skip"; fi; \
	fi

run: setup
	$(BIN)/ecabinet demo
	$(BIN)/ecabinet serve

test: setup chromium signing-tools deploy-tools janus
	$(BIN)/python -m pytest -q -p no:cacheprovider

unit: setup
	$(BIN)/python -m pytest -q tests/unit

integration: setup signing-tools deploy-tools janus
	$(BIN)/python -m pytest -q tests/integration

e2e: setup chromium deploy-tools janus
	$(BIN)/python -m pytest -q tests/e2e

bench: setup
	@if ls bench/*.py >/dev/null 2>&1; then for b in bench/*.py; do \
	  case $$b in bench/__init__.py|bench/harness.py) continue;; esac; \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done; \
	else echo "no benchmarks yet"; fi

# After upgrading a dependency on purpose and passing the tests: record the versions CI will install.
constraints: setup
	(echo "# The versions every test passed with (make setup installs these; refresh with: make constraints)."; \
	 $(BIN)/pip freeze --exclude-editable --disable-pip-version-check | grep -v '^ecabinet') > constraints.txt

lint: setup
	$(BIN)/ruff check backend signing media exchange tests bench
	$(BIN)/mypy
	python3 ../shared/tools/import-rules 2>/dev/null || true

fmt: setup
	$(BIN)/ruff check --fix backend signing media exchange tests bench

clean:
	rm -rf $(VENV) frontend/node_modules frontend/vendor
