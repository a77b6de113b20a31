# VitalStream: two commands on a fresh machine.
#   make demo   install the package and run the whole pipeline in one process (embedded broker + store)
#   make test   install everything the tests need (incl. Mosquitto and InfluxDB from Debian) and run them all

PYTHON ?= python3
VENV   ?= .venv
PIP    := $(VENV)/bin/pip
BIN    := $(VENV)/bin
DURATION ?=
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SERVER_PACKAGES := mosquitto influxdb

.PHONY: demo test venv system-packages lint typecheck pytest clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[all]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(BIN)/vitalstream demo $(if $(DURATION),--duration $(DURATION))

# The integration tests start real Mosquitto and InfluxDB 1.x servers and drive the nurse station's page
# in headless Chromium; install them when missing.
system-packages:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || missing="$$missing influxdb"; \
	command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || [ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

pytest: venv system-packages
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
