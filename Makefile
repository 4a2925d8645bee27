# One target per habit, used by people and CI alike (see README).
PY ?= python
CXX_SOURCES := $(shell find csrc kernels -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh')

.PHONY: check tools lint format typecheck test bench-smoke bench proto

check: tools lint typecheck test

# Programs beside the Python packages (Debian, npm); see the script's header.
tools:
	bash scripts/install-test-tools.sh

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	clang-format --dry-run -Werror $(CXX_SOURCES)

format:
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .
	clang-format -i $(CXX_SOURCES)

typecheck:
	$(PY) -m mypy

# The programs `make tools` installs are required here: a missing one fails, never skips.
test:
	LPENGINE_REQUIRE_TOOLS=1 $(PY) -m pytest

bench-smoke:
	$(PY) -m pytest tests/bench

bench:
	$(PY) -m bench.ops.bench_resize
	$(PY) -m bench.ops.bench_convert
	$(PY) -m bench.serve.bench_discovery
	$(PY) -m bench.pm.bench_validate
	$(PY) -m bench.pipelines.bench_transcode
	$(PY) -m bench.pipelines.bench_live
	$(PY) -m bench.pipelines.bench_batching
	$(PY) -m bench.byoc.bench_forward

# Regenerate src/lpengine/net/ from proto/lp_rpc.proto (grpcio-tools pinned in the [test] extra).
proto:
	$(PY) scripts/gen_proto.py
