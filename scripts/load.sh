#!/usr/bin/env bash
# Load check (offline): 100,000 status calls on ONE client against camb-emulator,
# with RSS and open file descriptors every 10,000 calls and the emulator's
# connection count. Fails if RSS grew more than 2 MB from the 10,000th call to the
# last, if the descriptor count changed at all, or if the calls did not share a
# few keep-alive connections (see examples/load.c).
#
#   usage: scripts/load.sh [CALLS]      (default 100000; well under a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-100000}

echo "== building libcamb and the emulator (release)"
cargo build --release --quiet -p camb-ffi -p camb-emulator
# shellcheck source=scripts/lib/target-dir.sh
. scripts/lib/target-dir.sh # TARGET_DIR: where cargo builds
lib_dir="$TARGET_DIR/release"
EMULATOR_BIN="$lib_dir/camb-emulator"

echo "== compiling examples/load.c"
${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -Iinclude examples/load.c \
    -L"$lib_dir" -Wl,-rpath,"$lib_dir" -lcamb -o "$lib_dir/load"

. scripts/start-emulator.sh
start_emulator --pending-ms 0
echo "== emulator listening on $EMULATOR_URL"

export CAMB_API_KEY=camb-emulator-key
started=$SECONDS
status=0
timeout 300 "$lib_dir/load" "$EMULATOR_URL" --calls "$calls" || status=$?
echo "== load: exit $status, $((SECONDS - started)) s"
exit "$status"
