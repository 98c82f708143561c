# shellcheck shell=bash
# Sourced by the scripts in this folder once they are in the repository root: sets
# TARGET_DIR to the absolute path of the directory cargo builds into. The scripts
# take libcamb and the emulator from $TARGET_DIR/<profile> and write their own
# output (target/memcheck, target/bench, ...) under $TARGET_DIR too, so that
# nothing lands in ./target when the build goes elsewhere.
#
# Asked of cargo, not assumed: ./target is only the default. CARGO_TARGET_DIR,
# CARGO_BUILD_TARGET_DIR and build.target-dir in a .cargo/config.toml all move it,
# each relative to a different place when relative (the directory cargo runs in,
# here the repository root; the config file's parent folder). `cargo metadata`
# reports the path cargo build uses, resolved by cargo's own rules. With --no-deps
# it needs no network and takes a few tens of milliseconds.

# A script run by a test inherits the variables cargo gives tests (CARGO_MANIFEST_DIR,
# CARGO_PKG_NAME, ...). ring's build script asks cargo to rebuild it when they change,
# so a release build made from a test and one made from a shell (or by maturin)
# would undo each other, recompiling ring and everything above it each time. They
# describe the test, not this build: they are not passed on.
unset CARGO_MANIFEST_DIR CARGO_MANIFEST_PATH CARGO_MANIFEST_LINKS CARGO_CRATE_NAME \
    CARGO_PRIMARY_PACKAGE CARGO_TARGET_TMPDIR CARGO_BIN_NAME OUT_DIR
while read -r name; do
    unset "$name"
done < <(compgen -e | grep -E '^CARGO_(PKG|BIN_EXE|CFG)_' || true)

TARGET_DIR=$("${CARGO:-cargo}" metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p') || {
    echo "$0: cargo metadata failed: cannot tell where cargo builds" >&2
    exit 1
}
# cargo prints an absolute path. JSON escapes a quote or backslash with a
# backslash, and this sed does not decode it: refuse such a path rather than use a
# wrong one (and never fall back to ./target).
case $TARGET_DIR in
*\\*)
    echo "$0: cargo's target directory has a quote or backslash in it, which this script cannot read: $TARGET_DIR" >&2
    exit 1
    ;;
/*) ;;
*)
    echo "$0: cargo metadata reported no absolute target_directory (got '$TARGET_DIR')" >&2
    exit 1
    ;;
esac
