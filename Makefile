# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN := runs/dcgan-fashion-mnist
# Where torch 2.13.0 comes from. Empty: pip's configured index (on the development and CI
# machines a local CPU wheel). On plain PyPI that version is the multi-GB CUDA build; there,
# `make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu` takes the CPU one.
TORCH_INDEX ?=

.PHONY: demo test lint install system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# The pinned CPU build first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -q -e '.[test,lab,export]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages: Fashion-MNIST (the demo's data) and Chromium (the lab's browser tests).
# Installed only when missing and when running as root; otherwise those tests skip.
system-deps:
	@missing=""; \
	test -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz || missing="$$missing dataset-fashion-mnist"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
	  echo "installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	elif [ -n "$$missing" ]; then echo "not root: cannot install$$missing (tests that need them skip)"; fi

demo: $(STAMP) system-deps
	@# A second `make demo` continues (or just re-finishes) the same run instead of failing.
	$(BIN)/ganforge train --config configs/dcgan-fashion-mnist.yaml \
	  $$(test -d $(RUN)/checkpoints && echo --resume $(RUN))
	$(BIN)/ganforge eval --run $(RUN)
	@echo "samples: $(RUN)/samples/  curves: $(RUN)/curves.png  metrics: $(RUN)/metrics.json  log: $(RUN)/metrics.csv"

test: $(STAMP) system-deps lint
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) runs
