#!/usr/bin/env bash
# Installs what the tests need beyond Rust, a C compiler, make and Python 3, when
# it is missing: pkg-config and CMake, for the install-and-link test. Idempotent;
# it does nothing when everything is present. Run by `make test` and CI.
# Extra Debian packages can be asked for as arguments (the benchmark asks for libcurl).
set -euo pipefail

need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
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
# A machine without the package registry still runs every test it can: the tests
# that need a missing tool say SKIP.
if ! { $sudo apt-get update -qq >/dev/null &&
       $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
    echo "setup: could not install ${need[*]}; the tests that need them will be skipped" >&2
fi
