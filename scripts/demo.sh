#!/usr/bin/env bash
# The README's first command: builds libcamb and the emulator, compiles the C demo
# against include/camb.h, and turns a prompt into a WAV file.
#
# Offline by default, against the local emulator. Against the real service when
# CAMB_API_KEY is set and CAMB_BASE_URL is not (that spends credits).
#   PROMPT="..." make demo     to choose the prompt
set -euo pipefail
cd "$(dirname "$0")/.."

prompt=${PROMPT:-"rain on a tin roof, distant thunder"}
# shellcheck source=scripts/lib/target-dir.sh
. scripts/lib/target-dir.sh # TARGET_DIR: where cargo builds
build_dir="$TARGET_DIR/release"
out="$TARGET_DIR/demo/camb-demo.wav"
mkdir -p "$(dirname "$out")"

echo "== building libcamb and the emulator (release)"
cargo build --release -p camb-ffi -p camb-emulator

echo "== compiling examples/demo.c against include/camb.h"
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude examples/demo.c \
    -L"$build_dir" -Wl,-rpath,"$build_dir" -lcamb -o "$build_dir/demo"

if [ -n "${CAMB_API_KEY:-}" ] && [ -z "${CAMB_BASE_URL:-}" ]; then
    echo "== CAMB_API_KEY is set and CAMB_BASE_URL is not: using the real service"
else
    EMULATOR_BIN="$build_dir/camb-emulator"
    . scripts/start-emulator.sh
    start_emulator --pending-ms 2500
    echo "== using the local emulator at $EMULATOR_URL"
    export CAMB_BASE_URL="$EMULATOR_URL" CAMB_API_KEY=camb-emulator-key
fi

echo "== demo: prompt -> task -> wait -> WAV"
"$build_dir/demo" --duration 4 --out "$out" "$prompt"
echo "== done: play it with e.g. 'aplay $out'"
