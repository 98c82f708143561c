# Sourced by the scripts in this folder: starts the emulator built at
# $EMULATOR_BIN on a free loopback port, sets EMULATOR_URL, and stops it on exit.
# Extra arguments go to the emulator (e.g. --pending-ms 2000).

start_emulator() {
    EMULATOR_LOG=$(mktemp)
    "$EMULATOR_BIN" "$@" >"$EMULATOR_LOG" 2>&1 &
    EMULATOR_PID=$!
    trap 'kill "$EMULATOR_PID" 2>/dev/null; rm -f "$EMULATOR_LOG"' EXIT
    # The emulator prints "listening on URL" once it accepts connections.
    for _ in $(seq 1 100); do
        EMULATOR_URL=$(sed -n 's/^listening on //p' "$EMULATOR_LOG")
        [ -n "$EMULATOR_URL" ] && return 0
        kill -0 "$EMULATOR_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "the emulator did not start:" >&2
    cat "$EMULATOR_LOG" >&2
    return 1
}
