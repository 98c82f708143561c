# The two commands of the README, and the gates CI adds to them.
# `make demo`: build libcamb and the emulator, run the C demo against it (offline).
# `make test`: every test: Rust unit and integration tests, the C examples, Python ctypes.

CARGO ?= cargo

.PHONY: demo test lint check-header ci

demo:
	./scripts/demo.sh

test:
	./scripts/setup.sh
	$(CARGO) test --workspace

lint: check-header
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The committed header must be exactly what the build writes from src/ffi.
check-header:
	$(CARGO) build --quiet -p camb-ffi
	@git diff --exit-code -- include/ || { echo "include/ differs from the commit: run cargo build and commit the header"; exit 1; }
	@test -z "$$(git status --porcelain -- include/)" || { echo "include/ has uncommitted files"; git status --porcelain -- include/; exit 1; }

ci: test lint
