#!/usr/bin/env bash
# Fuzz every target in fuzz/ for a bounded time with cargo-fuzz (libFuzzer) on nightly.
#
#   scripts/fuzz.sh                      # every target, FUZZ_SECONDS (default 30) each
#   FUZZ_SECONDS=20 scripts/fuzz.sh      # what CI runs
#   scripts/fuzz.sh decode_status        # only the named target(s)
#
# Seeds are read from fuzz/seeds/<target>/ (committed, never written); the corpus that
# fuzzing grows goes to fuzz/target/corpus/<target>/ and crash inputs to
# fuzz/artifacts/<target>/, both gitignored. Nothing is written outside fuzz/ and
# /tmp (apart from installing cargo-fuzz into cargo's bin directory when it is missing).
#
# Prints, per target, the executions run and whether it found anything; exits
# non-zero when any target found a crash (or failed to build), naming the artifact.
# Reproduce a finding with: cargo +nightly fuzz run <target> <artifact>
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ_DIR=$ROOT/fuzz
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
RSS_LIMIT_MB=${FUZZ_RSS_LIMIT_MB:-2048}
TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
export CARGO_TERM_COLOR=never

case $SECONDS_PER_TARGET in
'' | *[!0-9]* | 0)
    echo "fuzz.sh: FUZZ_SECONDS must be a positive whole number, not '$SECONDS_PER_TARGET'" >&2
    exit 2
    ;;
esac

# The toolchain: cargo-fuzz needs nightly (-Z sanitizer flags). It cannot be
# downloaded here, so it must already be installed.
if ! rustup toolchain list | grep -q "^${TOOLCHAIN}-"; then
    echo "fuzz.sh: the $TOOLCHAIN toolchain is not installed (rustup toolchain list):" >&2
    rustup toolchain list >&2
    exit 2
fi

# cargo-fuzz, from crates.io when missing.
if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (cargo install --locked cargo-fuzz)"
    start=$(date +%s)
    cargo install --locked cargo-fuzz || {
        echo "fuzz.sh: could not install cargo-fuzz" >&2
        exit 2
    }
    echo "== cargo-fuzz installed in $(($(date +%s) - start)) s"
fi
echo "== $(cargo "+$TOOLCHAIN" fuzz --version), $(rustc "+$TOOLCHAIN" --version)"

# Every target, or the ones named on the command line.
mapfile -t ALL < <(cargo "+$TOOLCHAIN" fuzz list --fuzz-dir "$FUZZ_DIR")
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi
if [ ${#TARGETS[@]} -eq 0 ]; then
    echo "fuzz.sh: no fuzz targets found in fuzz/" >&2
    exit 2
fi

# Per-target input size: big enough for the properties each one checks (ids over
# the 1024-byte limit, error bodies of tens of kilobytes).
max_len() {
    case $1 in
    task_id_segment) echo 4096 ;;
    error_body) echo 65536 ;;
    decode_status) echo 16384 ;;
    *) echo 4096 ;;
    esac
}

echo "== building the fuzz targets"
build_start=$(date +%s)
if ! cargo "+$TOOLCHAIN" fuzz build --fuzz-dir "$FUZZ_DIR"; then
    echo "fuzz.sh: the fuzz targets do not build" >&2
    exit 1
fi
echo "== built in $(($(date +%s) - build_start)) s"

LOG_DIR=$FUZZ_DIR/target/logs
mkdir -p "$LOG_DIR"
failed=()
summary=()
for target in "${TARGETS[@]}"; do
    seeds=$FUZZ_DIR/seeds/$target
    corpus=$FUZZ_DIR/target/corpus/$target
    artifacts=$FUZZ_DIR/artifacts/$target
    log=$LOG_DIR/$target.log
    mkdir -p "$corpus" "$artifacts"
    args=(
        -max_total_time="$SECONDS_PER_TARGET"
        -rss_limit_mb="$RSS_LIMIT_MB"
        -max_len="$(max_len "$target")"
        -timeout=10
        -print_final_stats=1
        -artifact_prefix="$artifacts/"
    )
    dict=$FUZZ_DIR/dicts/$target.dict
    [ -f "$dict" ] || dict=
    case $target in decode_status) dict=$FUZZ_DIR/dicts/status_reply.dict ;; esac
    [ -n "$dict" ] && args+=(-dict="$dict")
    corpora=("$corpus")
    [ -d "$seeds" ] && corpora+=("$seeds")

    echo "== fuzzing $target for $SECONDS_PER_TARGET s (log: ${log#"$ROOT"/})"
    before=$(find "$artifacts" -type f | wc -l)
    start=$(date +%s)
    cargo "+$TOOLCHAIN" fuzz run --fuzz-dir "$FUZZ_DIR" "$target" "${corpora[@]}" -- "${args[@]}" >"$log" 2>&1
    rc=$?
    elapsed=$(($(date +%s) - start))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    after=$(find "$artifacts" -type f | wc -l)
    if [ $rc -eq 0 ] && [ "$after" -eq "$before" ]; then
        line="$target: ${runs:-?} executions in ${elapsed} s (${rate:-?}/s, ${cov:-cov: ?}), nothing found"
    else
        failed+=("$target")
        line="$target: FOUND A FAILURE after ${runs:-?} executions (exit $rc); artifact: ${artifact:-see $log}"
        echo "---- $target: the failure (from $log)"
        # The panic message (a failed property), else the sanitizer's or libFuzzer's report.
        if grep -q 'panicked at' "$log"; then
            sed -n '/panicked at/,/^stack backtrace:/p' "$log" | grep -v '^stack backtrace:' | head -20
        else
            grep -E -m1 -A12 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log"
        fi
        echo "---- reproduce: cargo +$TOOLCHAIN fuzz run $target ${artifact:-<artifact>}"
    fi
    echo "$line"
    summary+=("$line")
done

echo
echo "== summary (${SECONDS_PER_TARGET} s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: failures in: ${failed[*]}" >&2
    exit 1
fi
echo "== no failures"
