# Entry points of the iterated representation learning tool. `make help` lists them.

CARGO ?= cargo
PIPELINE ?= pipelines/mnist-ae.yaml
STORE ?= artifacts
# Folder with the four MNIST IDX files; IRL_DATA_DIR from the environment takes precedence.
DATA_DIR ?= $(or $(IRL_DATA_DIR),../shared/datasets/mnist)
IRL := target/release/irl

.PHONY: help build pipeline test lint clean

help:
	@echo "make pipeline   run $(PIPELINE) (30 rounds on MNIST), reusing finished stages"
	@echo "make test       build and run every test (uses the MNIST files in DATA_DIR)"
	@echo "make lint       cargo fmt --check and clippy with warnings as errors"
	@echo "make clean      delete the build folder and the store ($(STORE))"

build:
	$(CARGO) build --release --locked -p irl-cli

pipeline: build
	$(IRL) --store $(STORE) run $(PIPELINE) --data-dir $(DATA_DIR)

test:
	$(CARGO) test --release --locked --workspace

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf $(STORE)
