#!/usr/bin/env bash
# Memory check of libcamb through its C programs (offline, against camb-emulator):
#   (a) each run under valgrind memcheck: no invalid read or write, no use of
#       uninitialised memory, no definite, indirect or possible leak;
#   (b) each compiled with -fsanitize=address,undefined (LeakSanitizer on) and run
#       again, with larger counts.
# libcamb itself is the debug build (not instrumented: ASan sees its heap through
# malloc/free, and every access the C side makes to what libcamb returns).
#
#   usage: scripts/memcheck.sh            (about 1-2 minutes on 2 cores)
#
# Every examples/*.c must have runs in both VALGRIND_RUNS and ASAN_RUNS below: a
# new example that is not listed fails the script, so nothing escapes unnoticed.
# Exit status: 0 when every run exited as expected with no error reported.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS

# Each run: "PROGRAM EXPECTED_EXIT ARGS...", @URL standing for the emulator's URL
# and @OUT for a scratch folder. The emulator runs with --pending-ms 0: every
# demo task is final from the start. CAMB_BASE_URL names it too (speak reads it).
COMMON_RUNS=(
    "demo 0 --base-url @URL --out @OUT/demo.wav --duration 2 wind in pines"
    "demo 1 --base-url @URL --out @OUT/demo-fail.wav glass [status:ERROR]"
    "demo 2"
    "poll_status 0 demo-success @URL 0.05"
    "poll_status 1 demo-error @URL 0.05"
    "poll_status 1 demo-unknown @URL 0.05"
    "poll_status 1 no-such-task @URL 0.05"
    "poll_status 2"
    "task_status 0 demo-success @URL"
    "task_status 0 demo-error @URL"
    "task_status 0 demo-unknown @URL"
    "task_status 1 no-such-task @URL"
    "task_status 2"
    # One epoll loop: a generation (pending 1 s, polled every 100-500 ms, with
    # progress lines) and status jobs; a generation whose task fails; one whose
    # wait reaches its deadline; bad usage. Prompts without spaces: one word each.
    "jobs_epoll 1 @URL @OUT/jobs-fail.wav --statuses 3 --prompt glass[status:ERROR]"
    "jobs_epoll 1 @URL @OUT/jobs-late.wav --statuses 2 --prompt bell[pending_ms:600000] --timeout-s 1"
    "jobs_epoll 2"
    # Streamed speech to a WAV file (its header's sizes fixed at the end); a voice
    # that does not exist (404: no file left); a locale mars-flash does not speak
    # (422); bad usage. Texts without spaces: one word each.
    "speak 0 Hello,from,memcheck @OUT/speak.wav"
    "speak 0 Raw,audio @OUT/speak.pcm 147320 en-us pcm_s16le mars-pro"
    "speak 1 Hello,there @OUT/speak-404.wav 999"
    "speak 1 Hello,there @OUT/speak-422.wav 147320 zh-tw"
    "speak 2"
)
VALGRIND_RUNS=(
    "${COMMON_RUNS[@]}"
    "stress 0 @URL --clients 30 --threads 8 --calls 40 --workflows 1"
    "jobs_epoll 0 @URL @OUT/jobs.wav --statuses 50 --prompt rain[pending_ms:1000] --duration 1"
    # RSS under valgrind is valgrind's own: not judged here (scripts/load.sh does).
    "load 0 @URL --calls 1000 --max-rss-growth-kb 1000000"
)
ASAN_RUNS=(
    "${COMMON_RUNS[@]}"
    "stress 0 @URL --clients 300 --threads 8 --calls 500 --workflows 3"
    "jobs_epoll 0 @URL @OUT/jobs.wav --statuses 1000 --threads 8 --prompt rain[pending_ms:1000] --duration 1"
    # ASan's quarantine holds freed memory back: RSS grows by design, not judged.
    "load 0 @URL --calls 10000 --max-rss-growth-kb 1000000"
)
PER_RUN_TIMEOUT=300

# ---------------------------------------------------------------- tools
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
    echo "== installing $* (apt-get)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
CC=${CC:-cc}
command -v "$CC" >/dev/null || { echo "no C compiler ($CC)" >&2; exit 1; }
command -v valgrind >/dev/null || apt_install valgrind

# Where cargo builds (./target unless CARGO_TARGET_DIR or build.target-dir says
# otherwise): the debug libcamb is taken from there, and this script's output goes there.
# shellcheck source=scripts/lib/target-dir.sh
. scripts/lib/target-dir.sh
out="$TARGET_DIR/memcheck"
mkdir -p "$out/logs"
rm -f "$out"/logs/*

SAN_FLAGS=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
asan_probe() {
    printf 'int main(void) { return 0; }\n' >"$out/probe.c"
    "$CC" "${SAN_FLAGS[@]}" "$out/probe.c" -o "$out/probe" 2>/dev/null && "$out/probe"
}
if ! asan_probe; then
    # gcc's sanitizer runtimes come with libgcc-N-dev (libasan, libubsan).
    major=$("$CC" -dumpversion | cut -d. -f1)
    apt_install "libgcc-$major-dev"
    asan_probe || { echo "$CC cannot build with ${SAN_FLAGS[*]}" >&2; exit 1; }
fi

# ---------------------------------------------------------------- build
echo "== building libcamb and the emulator (debug)"
cargo build --quiet -p camb-ffi -p camb-emulator
lib_dir="$TARGET_DIR/debug"
EMULATOR_BIN="$lib_dir/camb-emulator"

programs=()
for source in examples/*.c; do
    programs+=("$(basename "$source" .c)")
done
in_valgrind=" $(printf '%s\n' "${VALGRIND_RUNS[@]}" | cut -d' ' -f1 | tr '\n' ' ')"
in_asan=" $(printf '%s\n' "${ASAN_RUNS[@]}" | cut -d' ' -f1 | tr '\n' ' ')"
for program in "${programs[@]}"; do
    if [[ "$in_valgrind" != *" $program "* || "$in_asan" != *" $program "* ]]; then
        echo "examples/$program.c has no runs in scripts/memcheck.sh: add it to VALGRIND_RUNS and ASAN_RUNS" >&2
        exit 1
    fi
done

for source in examples/*; do
    case "$source" in
    *.c) ;;
    *) [ -f "$source" ] && echo "   note: $source is not checked here (only examples/*.c are)" ;;
    esac
done

echo "== compiling ${programs[*]} (plain for valgrind, and with ${SAN_FLAGS[*]})"
CFLAGS=(-std=c11 -Wall -Wextra -Wpedantic -Werror -pthread -O1 -g -Iinclude)
LINK=(-L"$lib_dir" -Wl,-rpath,"$lib_dir" -lcamb)
for program in "${programs[@]}"; do
    "$CC" "${CFLAGS[@]}" "examples/$program.c" "${LINK[@]}" -o "$out/$program"
    "$CC" "${CFLAGS[@]}" "${SAN_FLAGS[@]}" "examples/$program.c" "${LINK[@]}" \
        -o "$out/$program-asan"
done

# ---------------------------------------------------------------- emulator
. scripts/start-emulator.sh
start_emulator --pending-ms 0
echo "== emulator listening on $EMULATOR_URL"
export CAMB_API_KEY=camb-emulator-key
export CAMB_BASE_URL=$EMULATOR_URL

# ---------------------------------------------------------------- runs
VALGRIND=(valgrind --error-exitcode=99 --leak-check=full
    --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible
    --num-callers=40 --gen-suppressions=all --fair-sched=yes)
if [ -f scripts/valgrind.supp ]; then
    VALGRIND+=(--suppressions="$root/scripts/valgrind.supp")
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
LSAN_OPTIONS=report_objects=1
if [ -f scripts/lsan.supp ]; then
    LSAN_OPTIONS+=":suppressions=$root/scripts/lsan.supp:print_suppressions=1"
fi
export LSAN_OPTIONS

failures=0
summary=()
n=0
run_one() { # TOOL "PROGRAM EXPECTED ARGS..."
    local tool=$1 spec=$2
    local words program expected args=() log status=0 t0=$SECONDS
    read -r -a words <<<"$spec"
    program=${words[0]}
    expected=${words[1]}
    for word in "${words[@]:2}"; do
        word=${word//@URL/$EMULATOR_URL}
        args+=("${word//@OUT/$out}")
    done
    n=$((n + 1))
    log="$out/logs/$n-$tool-$program.log"
    echo "-- [$tool] $program ${words[*]:2} (expect exit $expected)"
    if [ "$tool" = valgrind ]; then
        timeout "$PER_RUN_TIMEOUT" "${VALGRIND[@]}" --log-file="$log.vg" "$out/$program" \
            "${args[@]}" >"$log" 2>&1 || status=$?
        cat "$log.vg" >>"$log"
        rm -f "$log.vg"
    else
        timeout "$PER_RUN_TIMEOUT" "$out/$program-asan" "${args[@]}" >"$log" 2>&1 || status=$?
    fi
    # The program's own summary line, and valgrind's.
    grep -E '^(stress|verdict|status|jobs_epoll|saved [^ ]*):' "$log" | sed 's/^/   /' || true
    grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|suppressed:' \
        "$log" | sed 's/^==[0-9]*== */   /' || true
    local verdict=ok
    if [ "$status" -ne "$expected" ]; then
        verdict="FAILED (exit $status, expected $expected)"
    elif grep -qE '^==[0-9]+==ERROR: |runtime error:|LeakSanitizer' "$log"; then
        verdict="FAILED (sanitizer report)"
    fi
    if [ "$verdict" != ok ]; then
        failures=$((failures + 1))
        echo "   $verdict; the log ($log):"
        sed 's/^/   | /' "$log" | tail -150
    fi
    summary+=("$(printf '%-9s %-12s %-60.60s %3ss  %s' "$tool" "$program" "${words[*]:2}" \
        $((SECONDS - t0)) "$verdict")")
}

# The checks must see libcamb's own heap: a program that leaks one client has to
# fail both, or a clean result below would prove nothing.
echo "== canary: a program that never frees its client must fail both checks"
cat >"$out/canary.c" <<'EOF'
#include "camb.h"
int main(void) {
    /* Three clients, never freed. The variable holds only the last one: a stale
     * copy of a pointer on the stack cannot hide all three from LeakSanitizer. */
    camb_client *client = NULL;
    for (int i = 0; i < 3; i++) {
        if (camb_client_new("canary-key", &client) != CAMB_RESULT_OK) {
            return 3;
        }
    }
    return 0;
}
EOF
"$CC" "${CFLAGS[@]}" "$out/canary.c" "${LINK[@]}" -o "$out/canary"
"$CC" "${CFLAGS[@]}" "${SAN_FLAGS[@]}" "$out/canary.c" "${LINK[@]}" -o "$out/canary-asan"
canary_status=0
"${VALGRIND[@]}" --log-file="$out/logs/canary-valgrind.log" "$out/canary" || canary_status=$?
if [ "$canary_status" -ne 99 ] || ! grep -q 'definitely lost: [1-9]' "$out/logs/canary-valgrind.log"; then
    echo "valgrind did not report the canary's leaked client (exit $canary_status): see $out/logs/canary-valgrind.log" >&2
    exit 1
fi
canary_status=0
ASAN_OPTIONS=detect_leaks=1 "$out/canary-asan" >"$out/logs/canary-asan.log" 2>&1 || canary_status=$?
if [ "$canary_status" -eq 0 ] || ! grep -q 'ERROR: LeakSanitizer: detected memory leaks' "$out/logs/canary-asan.log"; then
    echo "LeakSanitizer did not report the canary's leaked client (exit $canary_status): see $out/logs/canary-asan.log" >&2
    exit 1
fi
echo "   valgrind: $(grep -o 'definitely lost: .*' "$out/logs/canary-valgrind.log"); LeakSanitizer: $(grep -o 'SUMMARY: .*' "$out/logs/canary-asan.log")"

echo "== (a) valgrind"
for spec in "${VALGRIND_RUNS[@]}"; do run_one valgrind "$spec"; done
echo "== (b) AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer"
for spec in "${ASAN_RUNS[@]}"; do run_one asan "$spec"; done

echo "== summary (logs in ${out#"$root"/}/logs)"
printf '%s\n' "${summary[@]}"
echo "memcheck: $n runs, $failures failed, $((SECONDS - started)) s"
[ "$failures" -eq 0 ]
