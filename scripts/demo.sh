#!/usr/bin/env bash
# The README's first command: builds libcamb and the emulator, compiles the C
# example against include/camb.h, and runs it against the emulator (offline).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building libcamb and the emulator (release)"
cargo build --release --quiet -p camb-ffi -p camb-emulator
lib_dir="$PWD/target/release"
EMULATOR_BIN="$lib_dir/camb-emulator"

echo "== compiling examples/task_status.c against include/camb.h"
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude examples/task_status.c \
    -L"$lib_dir" -Wl,-rpath,"$lib_dir" -lcamb -o "$lib_dir/task_status"

. scripts/start-emulator.sh
start_emulator --pending-ms 1500
echo "== emulator listening on $EMULATOR_URL"

export CAMB_API_KEY=camb-emulator-key
for task in demo-success demo-error demo-unknown; do
    echo "-- task_status $task (just after start: still pending)"
    "$lib_dir/task_status" "$task" "$EMULATOR_URL"
done
sleep 1.6
for task in demo-success demo-error demo-timeout demo-payment-required demo-unknown no-such-task; do
    echo "-- task_status $task"
    "$lib_dir/task_status" "$task" "$EMULATOR_URL" || echo "(exit status $?)"
done
