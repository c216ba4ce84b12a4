# Entry points of the iterated representation learning tool. `make help` lists them.

CARGO ?= cargo
PIPELINE ?= pipelines/mnist-ae.yaml
STORE ?= artifacts
# Folder with the four MNIST IDX files; IRL_DATA_DIR from the environment takes precedence.
DATA_DIR ?= $(or $(IRL_DATA_DIR),../shared/datasets/mnist)
IRL := target/release/irl

.PHONY: help build pipeline variants test chromium lint clean

help:
	@echo "make pipeline   run $(PIPELINE) (30 rounds on MNIST), reusing finished stages"
	@echo "make variants   run the loop variants and controls in pipelines/variants (hours;"
	@echo "                make -j2 variants runs two at a time after the replace loop)"
	@echo "make test       build and run every test (uses the MNIST files in DATA_DIR)"
	@echo "make lint       cargo fmt --check and clippy with warnings as errors"
	@echo "make clean      delete the build folder and the store ($(STORE))"

build:
	$(CARGO) build --release --locked -p irl-cli

pipeline: build
	$(IRL) --store $(STORE) run $(PIPELINE) --data-dir $(DATA_DIR)

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
