# Entry points of the iterated representation learning tool. `make help` lists them.

CARGO ?= cargo
PIPELINE ?= pipelines/mnist-ae.yaml
STORE ?= artifacts
# Folder with the four MNIST IDX files; IRL_DATA_DIR from the environment takes precedence.
DATA_DIR ?= $(or $(IRL_DATA_DIR),../shared/datasets/mnist)
IRL := target/release/irl

# The LibTorch backend: PyTorch 2.9.0 (the version burn-tch 0.22 links against) in a virtual
# environment, and a build of its own in target/tch so that it never replaces the default one.
PYTHON ?= python3
VENV := .venv
TORCH_VERSION := 2.9.0
TORCH_LIB = $(wildcard $(CURDIR)/$(VENV)/lib/python3*/site-packages/torch/lib)
TCH_ENV = PATH="$(CURDIR)/$(VENV)/bin:$$PATH" LIBTORCH_USE_PYTORCH=1 LD_LIBRARY_PATH="$(TORCH_LIB)"
IRL_TCH := target/tch/release/irl
DEVICE ?= cpu

.PHONY: help build pipeline variants test chromium lint clean torch build-tch pipeline-tch test-tch

help:
	@echo "make pipeline   run $(PIPELINE) (30 rounds on MNIST), reusing finished stages"
	@echo "make variants   run the loop variants and controls in pipelines/variants (hours;"
	@echo "                make -j2 variants runs two at a time after the replace loop)"
	@echo "make test       build and run every test (uses the MNIST files in DATA_DIR)"
	@echo "make lint       cargo fmt --check and clippy with warnings as errors"
	@echo "make build-tch  build the LibTorch backend (installs torch==$(TORCH_VERSION) in $(VENV))"
	@echo "make pipeline-tch DEVICE=cuda:0   run $(PIPELINE) on LibTorch (DEVICE=cpu by default)"
	@echo "make test-tch   the training, reconstruction, resume and backend tests on LibTorch (CPU)"
	@echo "make clean      delete the build folder and the store ($(STORE))"

build:
	$(CARGO) build --release --locked -p irl-cli

pipeline: build
	$(IRL) --store $(STORE) run $(PIPELINE) --data-dir $(DATA_DIR)

# The wheel is the CUDA build (about 6 GB with its NVIDIA libraries); it also runs on the CPU.
$(VENV)/.torch-$(TORCH_VERSION):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet torch==$(TORCH_VERSION)
	@found=$$($(VENV)/bin/python -c 'import torch; print(torch.__version__.split("+")[0])') && \
		[ "$$found" = "$(TORCH_VERSION)" ] || \
		{ echo "$(VENV) has PyTorch $$found, but burn-tch needs $(TORCH_VERSION): delete $(VENV) and rerun"; exit 1; }
	touch $@

torch: $(VENV)/.torch-$(TORCH_VERSION)

build-tch: torch
	$(TCH_ENV) $(CARGO) build --release --locked -p irl-cli --features tch --target-dir target/tch

# The tests that train, reconstruct and resume, run through `--backend tch --device cpu`.
test-tch: build-tch
	$(TCH_ENV) IRL_TEST_BACKEND=tch $(CARGO) test --release --locked -p irl-cli --features tch \
		--target-dir target/tch --test end_to_end --test resume --test backends

pipeline-tch: build-tch
	$(TCH_ENV) $(IRL_TCH) --store $(STORE) run $(PIPELINE) --data-dir $(DATA_DIR) \
		--backend tch --device $(DEVICE)

# The replace loop runs first: it trains round 1 of every seed, which the other variants share.
VARIANTS := accumulate mix warm control-original control-frozen
VARIANT_RUN = $(IRL) --store $(STORE) run pipelines/variants/$*.yaml --data-dir $(DATA_DIR) \
	--drop-round-datasets

variants: $(VARIANTS:%=variant-%)

variant-replace: build
	$(IRL) --store $(STORE) run pipelines/variants/replace.yaml --data-dir $(DATA_DIR) \
		--drop-round-datasets

variant-%: variant-replace
	$(VARIANT_RUN)

test: chromium
	$(CARGO) test --release --locked --workspace

# The report test opens a page in headless Chromium (Debian's package).
chromium:
	@command -v chromium >/dev/null 2>&1 || [ -n "$$IRL_CHROMIUM" ] || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -q && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } || \
		echo "Chromium is missing: install the chromium package, or the report test fails"

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf $(STORE)
