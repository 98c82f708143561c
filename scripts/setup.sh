#!/usr/bin/env bash
# Installs what the tests need beyond Rust, a C compiler, make, Python 3 and Node.js,
# when it is missing, from Debian's packages: pkg-config and CMake (installing and
# linking, the C++ suite), doxygen (the reference), clang-format (the C++ style
# check), valgrind (the C++ suite's leak check) and python3-venv (the wheel's
# tests). Idempotent: it does nothing when everything is present. Run by `make test`
# and CI. Extra Debian packages can be asked for as arguments (the benchmark asks
# for libcurl).
#
# With CI set, a tool that cannot be installed fails the run: a test skipped for
# want of a tool proves nothing. Elsewhere the tests that need it say SKIP.
set -euo pipefail

need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v doxygen >/dev/null 2>&1 || need+=(doxygen)
command -v clang-format >/dev/null 2>&1 || need+=(clang-format)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
# The Python package is tested in a fresh virtualenv (Debian splits venv out).
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
[ ${#need[@]} -eq 0 ] && exit 0

echo "setup: installing ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
else
    sudo=
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $sudo apt-get update -qq >/dev/null &&
       $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
    if [ -n "${CI:-}" ]; then
        echo "setup: could not install ${need[*]}, and CI is set: the tests need them" >&2
        exit 1
    fi
    echo "setup: could not install ${need[*]}; the tests that need them will be skipped" >&2
fi
