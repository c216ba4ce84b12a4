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

.PHONY: help build pipeline variants test chromium lint clean torch build-tch pipeline-tch test-tch \
	bench

help:
	@echo "make pipeline   run $(PIPELINE) (30 rounds on MNIST), reusing finished stages"
	@echo "make variants   run the loop variants and controls in pipelines/variants, one chain"
	@echo "                per seed (hours; make -j2 variants runs two chains at a time)"
	@echo "make test       build and run every test (uses the MNIST files in DATA_DIR)"
	@echo "make lint       cargo fmt --check and clippy with warnings as errors"
	@echo "make build-tch  build the LibTorch backend (installs torch==$(TORCH_VERSION) in $(VENV))"
	@echo "make pipeline-tch DEVICE=cuda:0   run $(PIPELINE) on LibTorch (DEVICE=cpu by default)"
	@echo "make test-tch   the training, reconstruction, resume and backend tests on LibTorch (CPU)"
	@echo "make bench      measure throughput against PyTorch, time and memory per round, and a"
	@echo "                cached rerun; writes BENCHMARKS.md (about 25 minutes on 2 cores)"
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

# Benchmarks: each measurement writes JSON into $(BENCH_DIR), and irl-bench write turns the
# folder into BENCHMARKS.md. BENCH_WINDOWS and BENCH_SECONDS set the timed windows per setting.
BENCH_DIR := target/bench
BENCH_WINDOWS ?= 5
BENCH_SECONDS ?= 2
BENCH_TIMING = --windows $(BENCH_WINDOWS) --window-seconds $(BENCH_SECONDS)
BENCH_SUBSET := --set data.train_limit=2000 --set data.test_limit=500
BENCH_PYTORCH = $(VENV)/bin/python benchmarks/pytorch_reference.py $(BENCH_TIMING)
BENCH_FLEX = target/release/irl-bench throughput --backend flex $(BENCH_TIMING)
BENCH_TCH = target/tch/release/irl-bench throughput --backend tch $(BENCH_TIMING)
BENCH_FULL = target/release/irl-bench rounds $(PIPELINE) --set iterate.max_iterations=2 \
	--store $(BENCH_DIR)/store-full --data-dir $(DATA_DIR)
BENCH_ROUNDS = target/release/irl-bench rounds $(PIPELINE) $(BENCH_SUBSET) \
	--store $(BENCH_DIR)/store --data-dir $(DATA_DIR)
BENCH_RERUN = target/release/irl-bench cached-rerun $(PIPELINE) $(BENCH_SUBSET) \
	--store $(BENCH_DIR)/store --data-dir $(DATA_DIR)

bench: torch
	$(CARGO) build --release --locked -p irl-cli -p irl-bench
	$(TCH_ENV) $(CARGO) build --release --locked -p irl-bench --features tch --target-dir target/tch
	rm -rf $(BENCH_DIR) && mkdir -p $(BENCH_DIR)
	printf '%s\n' "$(BENCH_PYTORCH)" "$(BENCH_FLEX)" "LD_LIBRARY_PATH=<torch/lib> $(BENCH_TCH)" \
		$(subst $(DATA_DIR),<DATA_DIR>,"$(BENCH_FULL)" "$(BENCH_ROUNDS)" "$(BENCH_RERUN)") \
		> $(BENCH_DIR)/commands.txt
	$(BENCH_PYTORCH) > $(BENCH_DIR)/pytorch.jsonl
	$(BENCH_FLEX) > $(BENCH_DIR)/flex.jsonl
	$(TCH_ENV) $(BENCH_TCH) > $(BENCH_DIR)/tch.jsonl
	$(BENCH_FULL) > $(BENCH_DIR)/rounds-full.json
	$(BENCH_ROUNDS) > $(BENCH_DIR)/rounds-subset.json
	$(BENCH_RERUN) > $(BENCH_DIR)/cached-rerun.json
	target/release/irl-bench write $(BENCH_DIR) --out BENCHMARKS.md

# Every chain of pipelines/variants (one variant and one seed, `--set seeds=[N]`) is a target of
# its own, so `make -j2 variants` runs two chains at a time. The chains of one seed share the
# reference classifier and round 1, so every other chain of a seed waits for its replace chain,
# which trains them. Once a variant's chains are done, running its whole file finds every stage
# finished and writes the seed summary. With more than one job, every process computes on one
# thread: the small models keep about one core busy.
VARIANTS := replace accumulate mix warm control-original control-frozen
variant_seeds = $(shell sed -n 's/^seeds: *\[\(.*\)\]/\1/p' pipelines/variants/$(1).yaml | tr -d ,)
VARIANT_CHAINS := $(foreach v,$(VARIANTS),$(foreach s,$(call variant_seeds,$(v)),chain-$(v)-seed-$(s)))
REPLACE_CHAINS := $(filter chain-replace-seed-%,$(VARIANT_CHAINS))
VARIANT_THREADS = $(if $(filter-out -j1,$(filter -j%,$(MAKEFLAGS))),RAYON_NUM_THREADS=1)
VARIANT_RUN = $(VARIANT_THREADS) $(IRL) --store $(STORE) run --data-dir $(DATA_DIR) --drop-round-datasets

variants: $(VARIANTS:%=variant-%)

PERCENT := %
.SECONDEXPANSION:
$(VARIANTS:%=variant-%): variant-%: $$(filter chain-$$*-seed-$$(PERCENT),$$(VARIANT_CHAINS))
	$(VARIANT_RUN) pipelines/variants/$*.yaml

$(VARIANT_CHAINS): chain-%: build
	$(VARIANT_RUN) pipelines/variants/$(word 1,$(subst -seed-, ,$*)).yaml \
		--set "seeds=[$(word 2,$(subst -seed-, ,$*))]"

$(filter-out $(REPLACE_CHAINS),$(VARIANT_CHAINS)): chain-%: \
	$$(filter chain-replace-seed-$$(lastword $$(subst -seed-, ,$$*)),$$(REPLACE_CHAINS))

.PHONY: $(VARIANTS:%=variant-%) $(VARIANT_CHAINS)

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
