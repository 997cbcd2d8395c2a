# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
# On a CPU-only machine this pins the CPU wheel; on a CUDA machine use e.g. `make demo TORCH=torch`.
TORCH ?= torch==2.13.0
DEMO_STEPS ?= 100
OUT ?= out

.PHONY: install demo lint test bench startup quality clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e '.[dev,ray]'  # ray: ~80 MB wheel, ~12 s, so CI tests fit --ray
	touch $@

install: $(VENV)/.installed

demo: install
	mkdir -p $(OUT)
	$(VENV)/bin/audiosplat fit examples/piano_mozart_k545.wav -o $(OUT)/demo.splat --steps $(DEMO_STEPS)
	$(VENV)/bin/audiosplat render $(OUT)/demo.splat -o $(OUT)/demo.wav
	$(VENV)/bin/audiosplat inspect $(OUT)/demo.splat

lint: install
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest -q

bench: install
	$(PY) -m benchmarks.speed

startup: install
	$(PY) -m benchmarks.startup

quality: install
	$(PY) -m benchmarks.fit_quality --steps 300

clean:
	rm -rf $(OUT) .pytest_cache
