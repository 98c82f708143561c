#!/usr/bin/env bash
# Installs what the Windows tests (tests/windows.rs, run when CAMB_TEST_WINDOWS=1) need,
# when it is missing: Rust's x86_64-pc-windows-gnu target (rustup), and from Debian's
# packages the MinGW-w64 cross compiler for 64-bit Windows (gcc-mingw-w64-x86-64, with
# its binutils: objdump and dlltool) and 64-bit Wine (wine64), which runs the DLL and the
# test programs on Linux. Idempotent: it does nothing, and prints nothing, when all of
# it is present.
#
# Unlike scripts/setup.sh it always fails when something cannot be installed: it runs
# only when the Windows tests were asked for, and a test skipped for want of a tool
# proves nothing.
set -euo pipefail

readonly TARGET=x86_64-pc-windows-gnu

fail() {
    echo "windows-setup: $*" >&2
    exit 1
}

# Debian's wine64 package installs its loader outside the PATH; the `wine` package (not
# needed here) would add /usr/bin/wine. CAMB_WINE names another one (tests/windows.rs
# looks in the same places, in the same order).
find_wine() {
    if [ -n "${CAMB_WINE:-}" ]; then
        [ -x "$CAMB_WINE" ] || command -v "$CAMB_WINE" >/dev/null 2>&1 || return 1
        echo "$CAMB_WINE"
        return 0
    fi
    if [ -x /usr/lib/wine/wine64 ]; then
        echo /usr/lib/wine/wine64
        return 0
    fi
    command -v wine64 2>/dev/null || command -v wine 2>/dev/null
}

target_installed() {
    rustup target list --installed 2>/dev/null | grep -qx "$TARGET"
}

# 1. Rust's Windows target.
if ! target_installed; then
    command -v rustup >/dev/null 2>&1 ||
        fail "Rust's $TARGET target is missing and rustup is not installed to add it (install Rust with rustup, https://rustup.rs)"
    echo "windows-setup: rustup target add $TARGET"
    rustup target add "$TARGET" >/dev/null || fail "rustup target add $TARGET failed"
    target_installed || fail "rustup added $TARGET but does not list it as installed"
fi

# 2. The cross compiler with its binutils, and Wine.
need=()
for tool in x86_64-w64-mingw32-gcc x86_64-w64-mingw32-objdump x86_64-w64-mingw32-dlltool; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        need+=(gcc-mingw-w64-x86-64)
        break
    fi
done
find_wine >/dev/null || need+=(wine64)
[ ${#need[@]} -eq 0 ] && exit 0

if [ -n "${CAMB_WINE:-}" ] && [[ " ${need[*]} " == *" wine64 "* ]]; then
    fail "CAMB_WINE is set to '$CAMB_WINE', which is not an executable Wine"
fi
command -v apt-get >/dev/null 2>&1 ||
    fail "missing ${need[*]}, and this is not a Debian or Ubuntu system (no apt-get): install the MinGW-w64 cross compiler for x86_64 and 64-bit Wine yourself"
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "missing ${need[*]}; installing needs root, and sudo is not installed"
    sudo=sudo
else
    sudo=
fi
echo "windows-setup: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null || fail "apt-get update failed: cannot install ${need[*]}"
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
    fail "apt-get install ${need[*]} failed (see the messages above)"

# Installed is not enough: each must run.
x86_64-w64-mingw32-gcc --version >/dev/null 2>&1 ||
    fail "x86_64-w64-mingw32-gcc does not run after installing gcc-mingw-w64-x86-64"
for tool in x86_64-w64-mingw32-objdump x86_64-w64-mingw32-dlltool; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing after installing gcc-mingw-w64-x86-64"
done
wine=$(find_wine) || fail "no Wine loader (/usr/lib/wine/wine64, wine64 or wine) after installing wine64"
"$wine" --version >/dev/null 2>&1 || fail "$wine --version fails after installing wine64"
echo "windows-setup: ready ($(x86_64-w64-mingw32-gcc -dumpversion 2>/dev/null || echo '?') MinGW-w64 gcc, $("$wine" --version))"
