# The two commands of the README, and the gates CI adds to them.
# `make demo`: build libcamb and the emulator, run the C demo against it (offline).
# `make test`: every test: Rust, C, C++, the Python and Node packages, the reference;
#   with CAMB_TEST_WINDOWS=1 also camb.dll, built and tested under Wine (CI sets it).

CARGO ?= cargo
# `make install`: where (PREFIX), staged under DESTDIR for packagers; see scripts/install.sh.
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: demo test lint check-header memcheck load loom fuzz bench ci install uninstall docs

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

# valgrind and AddressSanitizer over every C example and the stress program.
memcheck:
	./scripts/memcheck.sh

# 100,000 status calls on one client: RSS, open files and connections must stay flat.
load:
	./scripts/load.sh

# The jobs engine's lifecycle under loom (src/engine/model.rs).
loom:
	./scripts/loom.sh

# Each fuzz target for FUZZ_SECONDS (default 30) on the nightly toolchain.
fuzz:
	./scripts/fuzz.sh

# The benchmark (BENCHMARKS.md): libcamb vs libcurl vs a raw socket on loopback.
bench:
	./scripts/bench.sh

ci: test lint memcheck load

# The header(s), libcamb.so.X.Y.Z with its SONAME links, libcamb.a, camb.pc and the CMake
# package under $(DESTDIR)$(PREFIX), from a release build (reused when up to date).
# LIBDIR and INCLUDEDIR may be set too. docs/LINKING.md: how to link what it installs.
install:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" LIBDIR="$(LIBDIR)" INCLUDEDIR="$(INCLUDEDIR)" CARGO="$(CARGO)" ./scripts/install.sh install

uninstall:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" LIBDIR="$(LIBDIR)" INCLUDEDIR="$(INCLUDEDIR)" ./scripts/install.sh uninstall

# The C reference from include/camb.h (doxygen): target/docs/html/index.html and a man
# page per function in target/docs/man/man3 (man -l target/docs/man/man3/camb.3).
docs:
	./scripts/docs.sh
