#!/usr/bin/env bash
# Builds the Python wheel dist/libcamb-<version>-py3-none-<platform>.whl with maturin
# (bindings/python/pyproject.toml): libcamb.so, and cffi's declarations of it, which
# maturin makes at build time from include/camb.h. `make test` runs it (through
# tests/python.rs); so can a packager.
#
# maturin and cffi come from PyPI, pinned below, into a virtualenv of the build's own
# under the target directory: nothing is installed into the user's Python.
#
# How the declarations are made: cffi's parser reads declarations, not a
# preprocessor's input, so camb.h goes through `cc -E -P` first, as C11 (the
# header's C path: enums as uint32_t typedefs), with CAMB_H_DEFAULTS defined (its
# static inline helpers are the header's, not the library's) and with empty
# stand-ins for the standard headers it includes (cffi knows uint32_t, size_t,
# bool and ptrdiff_t itself; glibc's own headers hold extensions its parser
# refuses). maturin takes the result from <target dir>/header.h, where it looks
# for a header before making one itself.
set -euo pipefail
cd "$(dirname "$0")/.."

MATURIN_VERSION=1.16.0
CFFI_VERSION=2.1.1

# shellcheck source=scripts/lib/target-dir.sh
. scripts/lib/target-dir.sh
venv="$TARGET_DIR/python-build"
python=${PYTHON:-python3}

have() { "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null; }
if ! have maturin "$MATURIN_VERSION" || ! have cffi "$CFFI_VERSION"; then
    echo "== package-python: installing maturin $MATURIN_VERSION and cffi $CFFI_VERSION into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "maturin==$MATURIN_VERSION" "cffi==$CFFI_VERSION"
fi

stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
for name in stdbool stddef stdint string; do
    : >"$stubs/$name.h"
done
mkdir -p "$TARGET_DIR"
"${CC:-cc}" -E -P -std=c11 -nostdinc -I"$stubs" -DCAMB_H_DEFAULTS include/camb.h >"$TARGET_DIR/header.h"

mkdir -p dist
rm -f dist/libcamb-*.whl
echo "== package-python: maturin build --release (bindings/python)"
(cd bindings/python && "$venv/bin/maturin" build --release --interpreter "$venv/bin/python" --out ../../dist)
ls dist/libcamb-*.whl
