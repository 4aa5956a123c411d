# labkit: two commands on a fresh Debian machine.
#   make lab    set everything up, start the sandbox and JupyterLab on the runbooks
#   make test   set everything up and run every test (unit, integration, notebook, browser)
# binder/ is the single source of dependencies (apt.txt, requirements*.txt).
#
#   make lab PORT=8890            JupyterLab on another port (default 8888, or a free one if taken)
#   make lab LAB_ARGS=--keep-sandbox   leave the sandbox running when JupyterLab stops
#   LABKIT_VENV=/path/.venv make lab   reuse a ready venv (another checkout's): no apt, no pip; this
#                                 checkout's code and notebooks run in it (PYTHONPATH)

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.labkit-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := $(shell sed -e 's/\#.*//' binder/apt.txt | xargs)
PYTEST_ARGS ?=
PORT ?= 8888
LAB_ARGS ?=
ifdef LABKIT_VENV
VENV := $(LABKIT_VENV)
BIN := $(VENV)/bin
RUN_ENV := PYTHONPATH=$(CURDIR)
endif

.PHONY: lab test setup apt venv lint clean

lab: setup
	$(RUN_ENV) $(BIN)/python -m labkit.cli lab --port $(PORT) --notebooks $(CURDIR)/notebooks $(LAB_ARGS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

ifdef LABKIT_VENV
setup:
	@[ -x $(BIN)/python ] || { echo "LABKIT_VENV=$(LABKIT_VENV) has no bin/python: unset it or run make setup there"; exit 1; }
else
setup: apt venv
endif

# Install only what is missing, so a ready machine does not touch apt at all.
apt:
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# qemu:///embed run as root needs the qemu user Debian's libvirt-daemon-system would create (group kvm)
	@getent group kvm >/dev/null || $(SUDO) groupadd --system kvm
	@getent group libvirt-qemu >/dev/null || $(SUDO) groupadd --system libvirt-qemu
	@getent passwd libvirt-qemu >/dev/null || $(SUDO) useradd --system --gid kvm --groups libvirt-qemu \
	  --home-dir /var/lib/libvirt --no-create-home --shell /usr/sbin/nologin libvirt-qemu

venv: $(STAMP)

$(STAMP): pyproject.toml binder/requirements.txt binder/requirements-lab.txt binder/requirements-test.txt binder/requirements-bench.txt
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[lab,test,bench]"
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
