# Koordinator: `make run` starts the system, `make test` runs the suite.
# Both create .venv on first use; run and demo install only the runtime packages
# (requirements.txt), test/lint/bench also the tools (requirements-dev.txt).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: help install install-dev run demo test screenshots lint format bench bench-deps clean system-deps

help:
	@echo "make run    - serve on http://$(HOST):$(PORT) (SQLite under var/)"
	@echo "make demo   - a seeded plant, the server and simulated scanners (Ctrl-C stops)"
	@echo "make test   - the test suite (PostgreSQL too when TEST_POSTGRES_URL is set)"
	@echo "make lint   - ruff"
	@echo "make bench  - the benchmarks in bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per set: a server needs no pytest, ruff or playwright.
$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed-run
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed-run

install-dev: $(VENV)/.installed-dev

# Mosquitto for the MQTT tests: installed from the distribution where we are root and it
# is missing; elsewhere the tests fall back to the embedded broker.
system-deps:
	@if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing mosquitto"; \
	    apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null; \
	  else echo "note: no mosquitto binary; MQTT tests use the embedded broker"; fi; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (the page tests drive it headless)"; \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "error: the page tests need /usr/bin/chromium (apt-get install chromium)"; exit 1; fi; \
	fi
	@# CUPS with a PDF queue for the pdf-cups printer test (skipped where there is none)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  if [ ! -x /usr/sbin/cupsd ] || [ ! -e /usr/lib/cups/backend/cups-pdf ]; then \
	    echo "installing cups and cups-pdf (the pdf-cups printer test prints through them)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cups \
	      printer-driver-cups-pdf >/dev/null || echo "note: no CUPS; its printer test skips"; \
	  fi; \
	  if [ -x /usr/sbin/cupsd ]; then \
	    pgrep -x cupsd >/dev/null || /usr/sbin/cupsd; \
	    for i in 1 2 3 4 5 6 7 8 9 10; do lpstat -r 2>/dev/null | grep -q "is running" && break; sleep 0.5; done; \
	    lpstat -p KZ_PDF >/dev/null 2>&1 || lpadmin -p KZ_PDF -v cups-pdf:/ -E \
	      -m lsb/usr/cups-pdf/CUPS-PDF_noopt.ppd 2>/dev/null || echo "note: no CUPS queue KZ_PDF"; \
	  fi; \
	fi
	@if ! ldconfig -p 2>/dev/null | grep -q libzbar.so.0; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing libzbar0 (the label tests decode with zbar as well as zxing-cpp)"; \
	    apt-get update -qq && apt-get install -y -qq libzbar0 >/dev/null; \
	  else echo "error: the label tests need libzbar0 (apt-get install libzbar0)"; exit 1; fi; \
	fi

run: install
	$(BIN)/python -m server init-db
	$(BIN)/python -m server bootstrap --port $(PORT)
	$(BIN)/python -m server serve --host $(HOST) --port $(PORT)

# A seeded plant in var/demo.db, the server with its embedded broker, one real scanner
# agent per station reading a pseudo-terminal, and a simulated worker scanning into them.
demo: install
	$(BIN)/python -m server demo --port $(PORT)

# With TEST_POSTGRES_URL: two pytest processes side by side, one per backend (the suite
# mostly waits, so the run takes about its longer half); PYTEST_ARGS reach both.
test: install-dev system-deps
	$(BIN)/python tests/run_backends.py $(PYTEST_ARGS)

# Regenerate the screenshots of docs/img/pages (the page tests take them into a temp dir
# otherwise, so that a test run leaves the work tree clean).
screenshots: install-dev system-deps
	KOORDINATOR_SCREENSHOTS=$(CURDIR)/docs/img/pages $(BIN)/python -m pytest tests/web/test_browser.py tests/web/test_scan_camera.py tests/web/test_plant_pages_browser.py tests/web/test_printer_admin.py -k sqlite

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmarks drive the server with wrk (HTTP) and Mosquitto's C clients (MQTT load).
bench-deps: system-deps
	@for pkg in mosquitto-clients:mosquitto_pub wrk:wrk; do \
	  if ! command -v $${pkg#*:} >/dev/null 2>&1; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing $${pkg%%:*}"; \
	      apt-get update -qq && apt-get install -y -qq $${pkg%%:*} >/dev/null; \
	    else echo "error: the benchmarks need $${pkg%%:*} (apt-get install $${pkg%%:*})"; exit 1; fi; \
	  fi; \
	done

bench: install-dev bench-deps
	@for f in bench/bench_*.py; do echo "== $$f"; PYTHONPATH=. $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
