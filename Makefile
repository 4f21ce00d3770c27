# udlms / tokenpad — every target sets itself up on first use (stamp file), see README.md.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench mpy deploy soak fuzz lint clean setup

setup: $(STAMP)

$(STAMP): requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v WARNING || true
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m tools.demo

test: $(STAMP)
	$(BIN)/python -m tools.run_tests

lint: $(STAMP)
	$(BIN)/ruff check lib firmware host_tests tools

bench: $(STAMP)
	$(BIN)/python -m tools.bench

mpy: $(STAMP)
	$(BIN)/python -m tools.build.mpy

# make deploy BOARD=rpi_pico PORT=/dev/ttyACM0 [CONFIG=my-meter.json] [DRY=1] [ROMFS=1]
deploy: $(STAMP)
	@$(BIN)/python -m tools.build.deploy $(if $(BOARD),--board $(BOARD),) $(if $(PORT),--port $(PORT),) $(if $(CONFIG),--config $(CONFIG),) $(if $(DRY),--dry-run,) $(if $(ROMFS),--romfs,)

# 1000 sessions with faults per frame, then 1000 at 1% corrupted and 1% lost bytes
soak: $(STAMP)
	$(BIN)/python -m tools.qa.soak --sessions 1000
	$(BIN)/python -m tools.qa.soak --sessions 1000 --byte-rates --quiet

fuzz: $(STAMP)
	$(BIN)/python -m tools.qa.fuzz --long

clean:
	rm -rf build .pytest_cache .hypothesis
