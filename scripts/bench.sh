#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md: libcamb through its C ABI against
# libcurl and a raw socket, all against ONE loopback server (bench/server.c, pinned
# to CPU 0; the clients run on CPU 1), plus first-call, create+free, threads,
# connections, batch, peak RSS, Python ctypes, library size and a clean build;
# then jobs (section 13): libcamb's jobs (camb_client_job_*, camb_job_submit) against
# the emulator with --delay-ms 50, beside the official Python SDK (bench/jobs.c,
# bench/sdk_statuses.py): 8 job threads, the waits and their cancel, then (13.5) 32 and
# 64 in flight and one batch job at 32 connections, 3 rounds of each, medians. The
# report ends with the targets of BENCHMARKS.md side by side.
#
#   usage: scripts/bench.sh                (also: make bench) everything
#          scripts/bench.sh --only jobs    section 13 alone
#          scripts/bench.sh --only speech  section 14 alone: streaming speech (time to the
#                                          first audio byte, CPU per second of audio beside
#                                          the SDK and libcurl, memory with a slow reader)
#
# Builds everything in release, installs libcurl4-openssl-dev if it is missing
# (scripts/setup.sh), prints one report and writes it to target/bench/report.txt
# (target/ being cargo's target directory: CARGO_TARGET_DIR when that is set);
# --only jobs writes target/bench/report-jobs.txt. Section 13 installs the SDK
# into a venv of its own under target/ (bench/setup_sdk.sh; pip, the first time).
# The profile section (where libcamb's time goes: CPU per call, system calls per
# call with strace, instructions per call with valgrind's callgrind) is skipped
# with a note when strace or valgrind is not installed.
# Loopback only (127.0.0.1); every step has a time bound; 2 to 4 minutes
# (section 13 alone: about 1 minute, once the SDK is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# Where cargo builds (./target unless CARGO_TARGET_DIR or build.target-dir says
# otherwise): the release libcamb is taken from there, and the benchmark's own
# files go there too (bench/, and bench-clean/ for the clean build of section 12).
# shellcheck source=scripts/lib/target-dir.sh
. scripts/lib/target-dir.sh
out=$TARGET_DIR/bench
clean_dir=$TARGET_DIR/bench-clean
# How the report names them: relative to the repository when inside it (as before).
show_out=${out#"$root"/}
show_clean_dir=${clean_dir#"$root"/}
lib=$out/lib
calls=20000
only=
if [ $# -eq 2 ] && [ "$1" = --only ] && { [ "$2" = jobs ] || [ "$2" = speech ]; }; then
    only=$2
elif [ $# -ne 0 ]; then
    echo "usage: $0 [--only jobs|speech]" >&2
    exit 2
fi

echo "== setup and release builds"
[ "$only" != jobs ] && scripts/setup.sh libcurl4-openssl-dev
mkdir -p "$out"
timeout 600 cargo build --release --quiet -p camb-ffi -p camb-emulator
# The benchmark runs its own copy, so that a rebuild meanwhile cannot change it.
rm -rf "$lib"
mkdir -p "$lib"
cp "$TARGET_DIR/release/libcamb.so" "$lib/libcamb.so"
soname=$(objdump -p "$lib/libcamb.so" | awk '$1 == "SONAME" { print $2 }')
if [ -n "$soname" ] && [ "$soname" != libcamb.so ]; then
    ln -sf libcamb.so "$lib/$soname"
fi
cc=${CC:-cc}
cflags=(-std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -Iinclude)
curl_libs=$(pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
camb_link=(-L"$lib" -Wl,-rpath,"$lib" -lcamb)
if [ -z "$only" ]; then
    $cc "${cflags[@]}" bench/server.c -o "$out/server"
    # shellcheck disable=SC2086 # curl_libs is a list of flags
    $cc "${cflags[@]}" bench/bench.c "${camb_link[@]}" $curl_libs -lpthread -o "$out/bench"
    $cc "${cflags[@]}" bench/min_status.c "${camb_link[@]}" -o "$out/min_status"
    # shellcheck disable=SC2086
    $cc "${cflags[@]}" bench/min_curl.c $curl_libs -o "$out/min_curl"
    $cc "${cflags[@]}" bench/min_empty.c -o "$out/min_empty"
    $cc "${cflags[@]}" examples/task_status.c "${camb_link[@]}" -o "$out/task_status"
fi
$cc "${cflags[@]}" bench/jobs.c "${camb_link[@]}" -lpthread -o "$out/jobs"
emulator_bin=$TARGET_DIR/release/camb-emulator

# The server runs in the shell that runs the report (a subshell of the pipeline
# below), so that this shell can stop it and reap it.
server_pid=
url=
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        # SIGTERM: the server prints its counters and exits.
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
}

start_server() {
    trap stop_all EXIT
    "$out/server" --max-seconds 600 >"$out/server.out" 2>"$out/server.err" &
    server_pid=$!
    for _ in $(seq 1 100); do
        url=$(sed -n 's/^listening on //p' "$out/server.out")
        [ -n "$url" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the bench server did not start:"
    cat "$out/server.err"
    return 1
}

# The emulator of section 13 (target/release/camb-emulator, release build), started
# like the server: in the report's shell, stopped by it.
emulator_pid=
emulator_url=
stop_emulator() {
    if [ -n "$emulator_pid" ] && kill -0 "$emulator_pid" 2>/dev/null; then
        kill -TERM "$emulator_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$emulator_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
    fi
    emulator_pid=
}

# shellcheck disable=SC2317 # run by the EXIT trap
stop_all() {
    stop_server
    stop_emulator
}

# Starts the emulator with the given options on a free port; sets emulator_url.
start_emulator() {
    trap stop_all EXIT
    timeout 600 "$emulator_bin" --port 0 "$@" >"$out/emulator.out" 2>"$out/emulator.err" &
    emulator_pid=$!
    for _ in $(seq 1 100); do
        emulator_url=$(sed -n 's/^listening on //p' "$out/emulator.out")
        [ -n "$emulator_url" ] && return 0
        kill -0 "$emulator_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the emulator did not start:"
    cat "$out/emulator.err"
    return 1
}

# Which source was measured: the commit, and whether the library's files differed from it.
if revision=$(git rev-parse --short HEAD 2>/dev/null); then
    if [ -n "$(git status --porcelain -- src build.rs Cargo.toml Cargo.lock 2>/dev/null)" ]; then
        revision="$revision with uncommitted changes to the library"
    fi
else
    revision="${BENCH_REVISION:-not a git checkout}"
fi

kv=$out/figures.kv
rm -f "$kv"
kv_get() { sed -n "s/^$1=//p" "$kv" | tail -1; }

# Per-call system calls of one client alone (1000 warm-up + 2000 calls), from strace -c:
# those made at least once per 3 calls, as counts per call.
syscalls_per_call() {
    local mode=$1 n=3000
    timeout 120 strace -f -c -o "$out/strace-$mode.txt" "$out/bench" --url "$url" --only "$mode" \
        --calls 2000 >/dev/null
    awk -v n="$n" -v mode="$mode" '
        /^------/ { body = 1; next }
        body && $NF != "total" && NF >= 5 {
            calls = $4; errors = (NF == 6) ? $5 : 0
            if (calls >= n / 3) {
                line = line sprintf("  %s %.2f", $NF, calls / n)
                if (errors > 0) line = line sprintf(" (%.2f failed)", errors / n)
                total += calls
            }
        }
        END { printf "     %-8s %5.2f per call:%s\n", mode, total / n, line }' "$out/strace-$mode.txt"
}

# Instructions per call of one client alone, counted by callgrind inside the named
# functions (libcamb's status call: the call and freeing the task it returns).
instructions_per_call() {
    local mode=$1 fn=$2 toggles=()
    local name
    for name in ${fn//+/ }; do
        toggles+=(--toggle-collect="$name")
    done
    timeout 300 valgrind --tool=callgrind "${toggles[@]}" \
        --callgrind-out-file="$out/callgrind.$mode.out" \
        "$out/bench" --url "$url" --only "$mode" --calls 2000 >/dev/null 2>"$out/callgrind.$mode.log"
    awk -v fn="$fn" -v mode="$mode" '/^summary:/ { printf "     %-8s %8.0f instructions per call (in %s)\n", mode, $2 / 3000, fn }' \
        "$out/callgrind.$mode.out"
}

profile() {
    echo "== 9. profile: where a status call's time goes (each client alone, same server)"
    echo "   CPU time per call (getrusage over 21000 calls; timed, so noisy like the rest):"
    local mode
    for mode in raw curl camb; do
        timeout 60 "$out/bench" --url "$url" --only "$mode" --calls "$calls" | sed 's/^   C, /     /'
    done
    if command -v strace >/dev/null 2>&1; then
        echo "   system calls per call (strace -f -c over 3000 calls, 1000 of them warm-up;"
        echo "   deterministic):"
        for mode in raw curl camb; do
            syscalls_per_call "$mode"
        done
        echo "   libcamb's, by the function that made them (strace -f -k over 1030 calls, 1000 of"
        echo "   them warm-up; bench/syscall_sources.py):"
        if timeout 120 strace -f -k -e trace=ioctl,setsockopt,recvfrom,sendto,read,write,poll \
            -o "$out/strace-stacks-camb.txt" "$out/bench" --url "$url" --only camb --calls 30 >/dev/null; then
            python3 bench/syscall_sources.py "$out/strace-stacks-camb.txt" 1030
        else
            echo "     (skipped: this strace cannot print stacks, -k)"
        fi
        timeout 60 "$out/bench" --url "$url" --only syscalls --calls "$calls"
    else
        echo "   (system calls per call: skipped, strace is not installed)"
    fi
    if command -v valgrind >/dev/null 2>&1 && command -v callgrind_annotate >/dev/null 2>&1; then
        echo "   callgrind, user-space instructions per call (3000 calls; deterministic):"
        instructions_per_call raw raw_call
        instructions_per_call curl curl_easy_perform
        instructions_per_call camb camb_client_get_task_status+camb_task_free
        echo "   libcamb's status call in detail (bench/profile_summary.py):"
        python3 bench/profile_summary.py "$out/callgrind.camb.out" 3000 --top 24
        echo "   camb_client_new + camb_client_free in detail (1000 pairs):"
        timeout 300 valgrind --tool=callgrind --toggle-collect=camb_client_new \
            --toggle-collect=camb_client_free --callgrind-out-file="$out/callgrind.create.out" \
            "$out/bench" --url "$url" --only create --calls 1000 >/dev/null 2>"$out/callgrind.create.log"
        python3 bench/profile_summary.py "$out/callgrind.create.out" 1000 --top 12 \
            --what "create+free pair"
        echo "   (profiles: callgrind_annotate $show_out/callgrind.{camb,curl,raw,create}.out)"
    else
        echo "   (instruction counts: skipped, valgrind is not installed)"
    fi
}

# Section 13: jobs against the emulator with --delay-ms, beside the official Python SDK.
# Sets jobs_failed to 1 when a run went wrong (a job or the SDK not as expected).
jobs_failed=0
speech_failed=0
jobs_section() {
    local delay=50 count=1000 status=0
    echo "== 13. jobs (camb_client_job_*) against the emulator, release build, every API reply"
    echo "      held $delay ms on a timer: bench/jobs.c, and the official Python SDK (bench/sdk_statuses.py)"
    start_emulator --delay-ms "$delay" --pending-ms 0
    echo "   emulator: ${emulator_bin#"$root"/} --delay-ms $delay --pending-ms 0, at $emulator_url"
    echo "-- 13.1 $count status jobs on 8 job threads, one completion queue, poll(2) on its fd"
    echo "        (bench/jobs.c --part statuses; one process)"
    timeout 180 "$out/jobs" --url "$emulator_url" --part statuses --count "$count" --threads 8 \
        --delay-ms "$delay" --kv "$kv" || status=$?

    echo "-- 13.2 the same $count statuses through the official Python SDK: AsyncCambAI,"
    echo "        asyncio.gather, 8 at a time (bench/sdk_statuses.py), same server"
    local py="" sdk_status=0
    rm -f "$out/sdk.out"
    if timeout 900 bench/setup_sdk.sh >"$out/setup_sdk.out" 2>"$out/setup_sdk.err"; then
        py=$(tail -n 1 "$out/setup_sdk.out")
        echo "   $(sed '$d' "$out/setup_sdk.out" | sed 's/^ *//' | paste -sd, - | sed 's/,/, /g') (venv: bench/setup_sdk.sh)"
        timeout 180 "$py" bench/sdk_statuses.py "$emulator_url" --tasks "$count" --concurrency 8 \
            --delay-ms "$delay" >"$out/sdk.out" 2>&1 || sdk_status=$?
        sed 's/^/   /' "$out/sdk.out"
    else
        sdk_status=$?
        echo "   bench/setup_sdk.sh FAILED (exit $sdk_status):"
        sed 's/^/     /' "$out/setup_sdk.err" | tail -5
    fi
    local sdk_wall sdk_cpu
    sdk_wall=$(sed -n 's/^wall: *\([0-9.]*\) s.*/\1/p' "$out/sdk.out" 2>/dev/null || true)
    sdk_cpu=$(sed -n 's/^cpu: *\([0-9.]*\) s.*/\1/p' "$out/sdk.out" 2>/dev/null || true)
    if [ "$sdk_status" -eq 0 ] && [ -n "$sdk_wall" ] && [ -n "$sdk_cpu" ]; then
        printf 'sdk8_wall_s=%s\nsdk8_cpu_s=%s\n' "$sdk_wall" "$sdk_cpu" >>"$kv"
    fi
    if [ -z "$(kv_get jobs_status_wall_s)" ]; then
        echo "   13.1 FAILED: targets 2a and 2b not measured"
        status=1
    elif [ "$sdk_status" -eq 0 ] && [ -n "$sdk_wall" ] && [ -n "$sdk_cpu" ]; then
        awk -v cw="$(kv_get jobs_status_wall_s)" -v cc="$(kv_get jobs_status_cpu_s)" \
            -v sw="$sdk_wall" -v sc="$sdk_cpu" 'BEGIN {
            printf "   libcamb (13.1): wall %.3f s, cpu %.3f s;  SDK: wall %.3f s, cpu %.3f s\n", cw, cc, sw, sc
            printf "   target 2a: libcamb wall <= the SDK'"'"'s:  %.3fx  %s\n", cw / sw, cw <= sw ? "met" : "MISSED"
            printf "   target 2b: libcamb cpu <= 1/20 of the SDK'"'"'s:  %.3fx (the SDK uses %.1fx libcamb'"'"'s)  %s\n",
                cc / sc, sc / cc, cc * 20 <= sc ? "met" : "MISSED"
        }'
    else
        echo "   the SDK run FAILED (exit $sdk_status): targets 2a and 2b not measured"
        status=1
    fi

    echo "-- 13.3 + 13.4 $count wait jobs and 20 generate jobs on a pool of 4 threads, then the"
    echo "        $count waits cancelled (bench/jobs.c --part waits; one process)"
    rm -rf "$out/jobs-wav"
    mkdir -p "$out/jobs-wav"
    timeout 240 "$out/jobs" --url "$emulator_url" --part waits --dir "$out/jobs-wav" --count "$count" \
        --generates 20 --threads 4 --kv "$kv" || status=$?
    rm -rf "$out/jobs-wav"

    concurrency "$delay" "$count" "$py"
    stop_emulator
    # A run that went wrong fails the script, once the summary of targets is printed.
    jobs_failed=$status
}

# One CPU run of section 14.2: CLIENT (libcamb, curl or sdk) makes N streams of S seconds.
speech_cpu() {
    local client=$1 py=$2 n=$3 seconds=$4 file=$5
    if [ "$client" = sdk ]; then
        [ -n "$py" ] || return 1
        timeout 600 "$py" bench/sdk_speech.py "$emulator_url" --mode cpu --count "$n" \
            --seconds "$seconds" >"$file"
    else
        timeout 300 "$out/speech" --url "$emulator_url" --mode cpu --client "$client" \
            --count "$n" --seconds "$seconds" >"$file"
    fi
}

# The medians of the CPU runs matching PATTERN (%s: the client), per second of audio,
# and libcamb's ratio to the SDK's; with a third argument, the target's verdict and
# the figures for the summary.
speech_cpu_report() {
    local title=$1 pattern=$2 verdict=${3:-}
    echo "   $title"
    local client files per
    declare -A per_s
    for client in libcamb curl sdk; do
        # shellcheck disable=SC2059 # the pattern is ours
        files=$(printf "$pattern" "$client")
        local file
        # shellcheck disable=SC2086 # the glob is meant
        per=$(for file in $files; do
            [ -f "$file" ] || continue
            awk -F= '/^cpu_s=/ { c = $2 } /^audio_s=/ { a = $2 } END { if (a > 0) print c / a }' "$file"
        done | sort -g | awk '{ v[n++] = $1 } END { if (n) print v[int((n - 1) / 2)] }')
        per_s[$client]=$per
        [ -n "$per" ] && printf '      %-8s %8.1f us of CPU per second of audio\n' "$client" \
            "$(awk -v p="$per" 'BEGIN { print p * 1e6 }')"
    done
    if [ -z "${per_s[libcamb]}" ] || [ -z "${per_s[sdk]}" ]; then
        echo "      figures missing"
        return 1
    fi
    awk -v l="${per_s[libcamb]}" -v s="${per_s[sdk]}" -v c="${per_s[curl]:-0}" -v v="$verdict" 'BEGIN {
        printf "      libcamb / SDK: %.4f (the SDK uses %.1fx libcamb'"'"'s CPU)", l / s, s / l
        if (c > 0) printf "; libcamb / libcurl: %.2f", l / c
        printf "\n"
        if (v != "") printf "      target: libcamb <= 1/20 of the SDK'"'"'s: %s\n", l * 20 <= s ? "met" : "MISSED" }'
    if [ -n "$verdict" ]; then
        printf 'speech_cpu_per_audio_s_libcamb=%s\nspeech_cpu_per_audio_s_sdk=%s\n' \
            "${per_s[libcamb]}" "${per_s[sdk]}" >>"$kv"
    fi
}


# Section 14: streaming speech against the emulator, side by side with libcurl posting
# the same body and with the official Python SDK's streaming call.
speech_section() {
    local count=100 status=0
    echo "== 14. streaming speech (POST /tts-stream) against the emulator: libcamb (bench/speech.c),"
    echo "      libcurl posting the same JSON body, the official Python SDK (bench/sdk_speech.py)"
    $cc "${cflags[@]}" bench/speech.c "${camb_link[@]}" $curl_libs -o "$out/speech"
    local py=""
    if timeout 900 bench/setup_sdk.sh >"$out/setup_sdk.out" 2>"$out/setup_sdk.err"; then
        py=$(tail -n 1 "$out/setup_sdk.out")
    else
        echo "   bench/setup_sdk.sh FAILED: the SDK's figures are missing"
        status=1
    fi
    start_emulator --pending-ms 0 --tts-first-chunk-ms 20 --tts-pace 0
    echo "   emulator: --tts-first-chunk-ms 20 --tts-pace 0 (after its first chunk, as fast as"
    echo "   the socket takes it), at $emulator_url"
    echo "-- 14.1 time to the first audio byte: from the emulator's record of its first write"
    echo "        (CLOCK_MONOTONIC, just before the chunk goes to the socket) to the first byte in"
    echo "        the caller's hands (CLOCK_MONOTONIC); $count streams each, one at a time, one client"
    local client
    for client in libcamb libcamb-job curl sdk; do
        curl -s -X POST "$emulator_url/_emulator/reset" >/dev/null
        if [ "$client" = sdk ]; then
            [ -n "$py" ] || continue
            timeout 300 "$py" bench/sdk_speech.py "$emulator_url" --mode first-byte \
                --count "$count" >"$out/first-$client.out" || status=1
        else
            timeout 300 "$out/speech" --url "$emulator_url" --mode first-byte --client "$client" \
                --count "$count" >"$out/first-$client.out" || status=1
        fi
        python3 bench/first_byte.py "$emulator_url" "$out/first-$client.out" "$client" \
            2>>"$kv" || status=1
    done
    awk -v p="$(kv_get first_byte_p50_us_libcamb)" -v j="$(kv_get first_byte_p50_us_libcamb-job)" 'BEGIN {
        if (p == "" || j == "") exit
        printf "   target: libcamb p50 <= 1 ms: blocking %.1f us, job %.1f us  %s\n", p, j,
            (p <= 1000 && j <= 1000) ? "met" : "MISSED" }'

    echo "-- 14.2 CPU per second of audio (mars-flash: 22,050 Hz 16-bit WAV, the emulator's 20 ms"
    echo "        chunks): the process's CPU time (user + system) over the streams alone, one stream"
    echo "        at a time; libcamb (camb_client_speak), libcurl (same body), the SDK"
    local round client_name
    for round in 1 2 3; do
        for client_name in libcamb curl sdk; do
            speech_cpu "$client_name" "$py" 10 120 "$out/cpu-$client_name-$round.out" || status=1
        done
    done
    speech_cpu_report "a) as fast as the emulator sends (--tts-pace 0), 10 streams of 120 s, 3 rounds, medians" \
        "$out/cpu-%s-[123].out" target || status=1
    stop_emulator
    start_emulator --pending-ms 0 --tts-first-chunk-ms 20 --tts-pace 4
    for client_name in libcamb curl sdk; do
        speech_cpu "$client_name" "$py" 3 20 "$out/cpu4-$client_name.out" || status=1
    done
    speech_cpu_report "b) at 4x real time (--tts-pace 4: a chunk every 5 ms), 3 streams of 20 s, one round" \
        "$out/cpu4-%s.out" || status=1
    stop_emulator
    start_emulator --pending-ms 0 --tts-first-chunk-ms 20 --tts-pace 0

    local long=600 rate=4000000
    echo "-- 14.3 memory with a slow reader: one job (camb_client_job_speak) of $long s of audio"
    echo "        (pcm_s16le, 26.5 MB), sent as fast as the emulator can, read with"
    echo "        camb_job_read_audio() at $rate bytes/s: the process's RSS after each tenth"
    timeout 300 "$out/speech" --url "$emulator_url" --mode slow-reader --seconds "$long" \
        --read-rate "$rate" >"$out/slow.out" || status=1
    awk -F'[= ]' '/^rss_kb=/ { rss[n++] = $2 } /^bytes=/ { bytes = $2 } /^expected=/ { want = $2 }
        END {
            if (n < 3) { print "   no RSS samples"; exit 1 }
            line = "   RSS (kB):"; for (i = 0; i < n; i++) line = line " " rss[i]; print line
            lo = hi = rss[1]; for (i = 1; i < n; i++) { if (rss[i] < lo) lo = rss[i]; if (rss[i] > hi) hi = rss[i] }
            printf "   after the first tenth: from %d to %d kB (growth %d kB) while %.1f MB went through; all %s bytes: %s\n",
                lo, hi, hi - lo, bytes / 1e6, bytes, bytes == want ? "yes" : "NO"
            printf "speech_rss_growth_kb=%d\n", hi - lo > "/dev/stderr"
            printf "   target: memory flat (growth < 1 MB): %s\n", (hi - lo < 1024 && bytes == want) ? "met" : "MISSED"
        }' "$out/slow.out" 2>>"$kv" || status=1
    stop_emulator
    speech_failed=$status
}

# Section 13.5: the job form at 32 and 64 job threads and one batch job at 32 connections,
# each beside the SDK at the same concurrency, in 3 rounds (each run a process of its
# own, same emulator); the median of the 3 rounds of each figure.
concurrency() {
    local delay=$1 count=$2 py=$3 rounds=3 failed=0
    echo "-- 13.5 the same $count statuses at 32 and 64 in flight: the job form (bench/jobs.c --part"
    echo "        statuses --threads 32 / 64), one batch job of the $count ids with max_connections 32"
    echo "        (--part batch), and the SDK at 32 / 64 at a time (bench/sdk_statuses.py --concurrency);"
    echo "        $rounds rounds, each: jobs 32, SDK 32, jobs 64, SDK 64, batch 32; medians of the $rounds"
    local r run tag n
    for r in $(seq 1 "$rounds"); do
        echo "   round $r (load average $(cut -d' ' -f1 /proc/loadavg)):"
        for run in jobs:32 sdk:32 jobs:64 sdk:64 batch:32; do
            n=${run#*:}
            case $run in
            jobs:*)
                tag=j${n}_$r
                if timeout 120 "$out/jobs" --url "$emulator_url" --part statuses --count "$count" \
                    --threads "$n" --delay-ms "$delay" --no-target --tag "$tag" --kv "$kv" \
                    >"$out/conc-$tag.out" 2>&1; then
                    conc_line "jobs, $n job threads" "$tag"
                else
                    echo "     jobs, $n job threads: FAILED:"; sed 's/^/       /' "$out/conc-$tag.out"
                    failed=1
                fi
                ;;
            batch:*)
                tag=b${n}_$r
                if timeout 120 "$out/jobs" --url "$emulator_url" --part batch --count "$count" \
                    --connections "$n" --delay-ms "$delay" --tag "$tag" --kv "$kv" \
                    >"$out/conc-$tag.out" 2>&1; then
                    conc_line "batch, $n connections" "$tag"
                else
                    echo "     batch, $n connections: FAILED:"; sed 's/^/       /' "$out/conc-$tag.out"
                    failed=1
                fi
                ;;
            sdk:*)
                tag=s${n}_$r
                if [ -n "$py" ] && timeout 180 "$py" bench/sdk_statuses.py "$emulator_url" --tasks "$count" \
                    --concurrency "$n" --delay-ms "$delay" >"$out/conc-$tag.out" 2>&1; then
                    # The SDK's figures into the kv file, named like jobs.c's.
                    sed -n -e 's/^wall: *\([0-9.]*\) s.*/jobs_'"$tag"'_wall_s=\1/p' \
                        -e 's/^cpu: *\([0-9.]*\) s.*/jobs_'"$tag"'_cpu_s=\1/p' \
                        -e 's/^emulator: \([0-9]*\) requests received, on \([0-9]*\) connections/jobs_'"$tag"'_requests=\1\njobs_'"$tag"'_connections=\2/p' \
                        -e 's/^succeeded: \([0-9]*\)\/.*/jobs_'"$tag"'_ok=\1/p' \
                        "$out/conc-$tag.out" >>"$kv"
                    echo "jobs_${tag}_ideal_s=$(awk -v c="$count" -v n="$n" -v d="$delay" \
                        'BEGIN { printf "%.6f", int((c + n - 1) / n) * d / 1e3 }')" >>"$kv"
                    conc_line "SDK, $n at a time" "$tag"
                else
                    echo "     SDK, $n at a time: FAILED:"; sed 's/^/       /' "$out/conc-$tag.out" 2>/dev/null
                    failed=1
                fi
                ;;
            esac
        done
    done
    if [ "$failed" -ne 0 ]; then
        echo "   a run FAILED: no medians"
        status=1 # jobs_section's
        return 0
    fi
    echo "   medians of the $rounds rounds (each figure's own median; ratios of the medians):"
    printf '     %-24s %8s %8s %8s %6s | %-18s %8s %8s %6s | %8s %8s\n' "libcamb" "wall s" "x ideal" \
        "cpu s" "conns" "beside" "wall s" "cpu s" "conns" "wall" "cpu"
    conc_median "jobs, 32 job threads" j32 "SDK, 32 at a time" s32 "$rounds"
    conc_median "jobs, 64 job threads" j64 "SDK, 64 at a time" s64 "$rounds"
    conc_median "batch, 32 connections" b32 "SDK, 32 at a time" s32 "$rounds"
    echo "     (wall, cpu: libcamb / SDK; cpu is the process's, every thread; no target: reported)"
}

# One run's line of 13.5, from the kv file.
conc_line() {
    local what=$1 tag=$2
    awk -v what="$what" -v w="$(kv_get "jobs_${tag}_wall_s")" -v c="$(kv_get "jobs_${tag}_cpu_s")" \
        -v i="$(kv_get "jobs_${tag}_ideal_s")" -v rq="$(kv_get "jobs_${tag}_requests")" \
        -v cn="$(kv_get "jobs_${tag}_connections")" -v ok="$(kv_get "jobs_${tag}_ok")" 'BEGIN {
        printf "     %-22s wall %6.3f s (%.3fx the ideal %.3f s)  cpu %6.3f s  %d OK; %d requests on %d connections\n",
            what, w, w / i, i, c, ok, rq, cn }'
}

# The medians of 13.5: libcamb's runs (tag prefix $2) beside the SDK's ($4).
conc_median() {
    local what=$1 mine=$2 sdk_what=$3 sdk=$4 rounds=$5 r key vals
    vals=""
    for key in wall_s cpu_s ideal_s connections; do
        for r in $(seq 1 "$rounds"); do
            vals="$vals ${mine}_$key=$(kv_get "jobs_${mine}_${r}_$key")"
            vals="$vals ${sdk}_$key=$(kv_get "jobs_${sdk}_${r}_$key")"
        done
    done
    # shellcheck disable=SC2086 # vals is a list of NAME=VALUE words
    printf '%s\n' $vals | awk -F= -v what="$what" -v sw="$sdk_what" -v m="$mine" -v s="$sdk" '
        { split($1, a, "_"); k = $1; sub("^[^_]*_", "", k); v[a[1], k] = v[a[1], k] " " $2 }
        function med(list,   x, n, i, j, t) {
            n = split(list, x, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] + 0 < x[i] + 0) { t = x[i]; x[i] = x[j]; x[j] = t }
            return x[int((n + 1) / 2)]
        }
        END {
            mw = med(v[m, "wall_s"]); mc = med(v[m, "cpu_s"]); mi = med(v[m, "ideal_s"]); mn = med(v[m, "connections"])
            sw_ = med(v[s, "wall_s"]); sc = med(v[s, "cpu_s"]); sn = med(v[s, "connections"])
            printf "     %-24s %8.3f %7.3fx %8.3f %6d | %-18s %8.3f %8.3f %6d | %7.3fx %7.3fx\n",
                what, mw, mw / mi, mc, mn, sw, sw_, sc, sn, mw / sw_, mc / sc
        }'
}

header() {
    echo "libcamb benchmark: scripts/bench.sh${only:+ --only $only}, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//');" \
        "kernel $(uname -r)"
    echo "tools: $(rustc -V); $($cc --version | head -1); $(python3 -V 2>&1)"
    echo "libcamb source: $revision"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared)"
    echo
}

# The targets of BENCHMARKS.md side by side, from the figures above (the kv file); a
# target whose figure was not measured in this run (--only jobs, a failed step) is left out.
summary() {
    echo "== targets (BENCHMARKS.md), side by side"
    awk -F= '{ v[$1] = $2 }
        function row(what, figure, ok) { printf "   %-54s %-44s %s\n", what, figure, ok ? "met" : "MISSED" }
        END {
            if ("main_camb_p50_ns" in v && "main_curl_p50_ns" in v) {
                r = v["main_camb_p50_ns"] / v["main_curl_p50_ns"]
                row("status p50 <= 1.0x libcurl", sprintf("%.2fx (%.1f against %.1f us)", r,
                    v["main_camb_p50_ns"] / 1e3, v["main_curl_p50_ns"] / 1e3), r <= 1.0)
            }
            if ("main_camb_p99_ns" in v) {
                r = v["main_camb_p99_ns"] / v["main_curl_p99_ns"]
                row("status p99 <= 1.2x libcurl'"'"'s p99", sprintf("%.2fx (%.1f against %.1f us)", r,
                    v["main_camb_p99_ns"] / 1e3, v["main_curl_p99_ns"] / 1e3), r <= 1.2)
            }
            if ("eight_camb_cps" in v) {
                r = v["eight_camb_cps"] / v["eight_curl_cps"]
                row("8 threads on one client >= libcurl", sprintf("%.2fx (%d against %d calls/s)", r,
                    v["eight_camb_cps"], v["eight_curl_cps"]), r >= 1.0)
            }
            if ("jobs_status_wall_s" in v) {
                r = v["jobs_status_wall_s"] / v["jobs_status_ideal_s"]
                row("1000 status jobs, 50 ms, 8 job threads <= 1.05x ideal", sprintf("%.3fx (%.3f against %.3f s)", r,
                    v["jobs_status_wall_s"], v["jobs_status_ideal_s"]), r <= 1.05)
            }
            if ("jobs_status_cpu_s" in v && "sdk8_cpu_s" in v) {
                r = v["jobs_status_cpu_s"] / v["sdk8_cpu_s"]
                row("CPU of that run <= 1/20 of the SDK'"'"'s (8 at a time)", sprintf("%.3fx (%.3f against %.3f s; 1/%.1f)", r,
                    v["jobs_status_cpu_s"], v["sdk8_cpu_s"], 1 / r), r <= 0.05)
            }
            if ("jobs_threads_peak" in v) {
                d = v["jobs_threads_peak"] - v["jobs_threads_before"]
                row("1000 waits, pool of 4: threads added <= pool + 2", sprintf("%d (%d before, %d at peak)", d,
                    v["jobs_threads_before"], v["jobs_threads_peak"]), d <= 6)
            }
            if ("jobs_cancel_ms" in v) {
                row("cancelling 1000 waiting jobs: delivered <= 100 ms", sprintf("%.2f ms", v["jobs_cancel_ms"]),
                    v["jobs_cancel_ms"] <= 100)
            }
            if ("so_bytes" in v) {
                row("stripped .so <= 3 MiB", sprintf("%.2f MiB (%d bytes)", v["so_bytes"] / 1048576, v["so_bytes"]),
                    v["so_bytes"] <= 3 * 1048576)
            }
            if ("build_s" in v) {
                row("clean build <= 60 s", sprintf("%.1f s", v["build_s"]), v["build_s"] <= 60)
            }
            if ("first_byte_p50_us_libcamb" in v && "first_byte_p50_us_libcamb-job" in v) {
                b = v["first_byte_p50_us_libcamb"]; j = v["first_byte_p50_us_libcamb-job"]
                row("speech: first audio byte p50 <= 1 ms", sprintf("blocking %.1f us, job %.1f us", b, j),
                    b <= 1000 && j <= 1000)
            }
            if ("speech_cpu_per_audio_s_libcamb" in v && "speech_cpu_per_audio_s_sdk" in v) {
                r = v["speech_cpu_per_audio_s_libcamb"] / v["speech_cpu_per_audio_s_sdk"]
                row("speech: CPU per second of audio <= 1/20 of the SDK'"'"'s", sprintf("%.3fx (%.1f against %.1f us; 1/%.1f)", r,
                    v["speech_cpu_per_audio_s_libcamb"] * 1e6, v["speech_cpu_per_audio_s_sdk"] * 1e6, 1 / r), r <= 0.05)
            }
            if ("speech_rss_growth_kb" in v) {
                row("speech: 10 min of audio, slow reader: memory flat", sprintf("RSS growth %d kB", v["speech_rss_growth_kb"]),
                    v["speech_rss_growth_kb"] < 1024)
            }
        }' "$kv"
}

report_jobs() {
    header
    jobs_section
    echo
    summary
    echo
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    return "$jobs_failed"
}

report_speech() {
    header
    speech_section
    echo
    summary
    echo
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    return "$speech_failed"
}

report() {
    header
    start_server

    timeout 240 "$out/bench" --url "$url" --calls "$calls" --kv "$kv"
    echo

    echo "== 7. peak RSS at exit (getrusage ru_maxrss) of minimal programs, one status call each"
    local rss_camb rss_curl rss_empty rss_example
    rss_camb=$(timeout 30 "$out/min_status" "$url")
    rss_curl=$(timeout 30 "$out/min_curl" "$url")
    rss_empty=$(timeout 30 "$out/min_empty")
    printf '   %-58s %6s KiB\n' "bench/min_status.c (libcamb: create, one call, free)" "$rss_camb"
    printf '   %-58s %6s KiB\n' "bench/min_curl.c (libcurl: the same call)" "$rss_curl"
    printf '   %-58s %6s KiB\n' "bench/min_empty.c (libc only, the baseline)" "$rss_empty"
    if [ -x /usr/bin/time ]; then
        rss_example=$(CAMB_API_KEY=bench-api-key-0123456789 timeout 30 /usr/bin/time -f %M \
            "$out/task_status" t1 "$url" 2>&1 >/dev/null | tail -1)
        printf '   %-58s %6s KiB\n' "examples/task_status.c (/usr/bin/time -f %M)" "$rss_example"
    fi
    echo "   target <= 4 MB (4096 KiB): min_status $(awk -v r="$rss_camb" \
        'BEGIN { printf "%.2f MiB, %s", r / 1024, r <= 4096 ? "met" : "MISSED" }')"
    echo

    echo "== 8. Python ctypes (bench/bench_ctypes.py), $calls calls, between two C runs of"
    echo "      libcamb alone (bench --only camb), same server, CPU 1, microseconds"
    timeout 60 "$out/bench" --url "$url" --only camb --calls "$calls" --kv "$kv"
    local c1 c2 main_c py
    c1=$(kv_get camb_p50_ns)
    timeout 120 python3 bench/bench_ctypes.py "$lib/libcamb.so" "$url" --calls "$calls" --kv "$kv"
    timeout 60 "$out/bench" --url "$url" --only camb --calls "$calls" --kv "$kv"
    c2=$(kv_get camb_p50_ns)
    main_c=$(kv_get main_camb_p50_ns)
    py=$(kv_get py_p50_ns)
    awk -v c1="$c1" -v c2="$c2" -v m="$main_c" -v py="$py" 'BEGIN {
        c = (c1 + c2) / 2
        printf "   Python p50 / C p50 (mean of the two C runs around it, %.2f us): %.2fx  target <= 1.15x: %s\n",
            c / 1e3, py / c, (py / c <= 1.15) ? "met" : "MISSED"
        printf "   Python p50 / C p50 of section 1 (%.2f us): %.2fx\n", m / 1e3, py / m
    }'
    echo

    profile
    echo

    stop_server
    echo "== 10. server: $(grep 'server: exit' "$out/server.err" | sed 's/^server: exit: //')"
    echo

    echo "== 11. size of the release libcamb.so"
    cp "$lib/libcamb.so" "$out/libcamb.stripped.so"
    strip "$out/libcamb.stripped.so"
    local size unstripped tls
    size=$(stat -c %s "$out/libcamb.stripped.so")
    echo "so_bytes=$size" >>"$kv"
    unstripped=$(stat -c %s "$lib/libcamb.so")
    tls=no
    grep -q rustls "$out/libcamb.stripped.so" && tls="yes (rustls + ring)"
    awk -v s="$size" -v u="$unstripped" -v t="$tls" 'BEGIN {
        printf "   stripped %d bytes (%.2f MiB; unstripped %.2f MiB); TLS compiled in: %s\n", s, s / 1048576, u / 1048576, t
        printf "   target <= 3 MiB: %s\n", (s <= 3 * 1048576) ? "met" : "MISSED"
    }'
    python3 bench/size_breakdown.py "$lib/libcamb.so" --top 14
    echo

    echo "== 12. clean release build of the library alone:"
    echo "      cargo build --release -p camb-ffi --offline --timings, CARGO_TARGET_DIR=$show_clean_dir"
    echo "      (crates already downloaded; nothing else of this script running meanwhile)"
    rm -rf "$clean_dir"
    local t0 t1 status=0
    t0=$(date +%s.%N)
    CARGO_TARGET_DIR="$clean_dir" timeout 300 \
        cargo build --release -p camb-ffi --offline --quiet --timings >"$out/clean-build.log" 2>&1 ||
        status=$?
    t1=$(date +%s.%N)
    if [ "$status" -ne 0 ]; then
        echo "   the clean build FAILED (exit $status); see $out/clean-build.log"
    else
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "build_s=%.3f\n", b - a }' >>"$kv"
        awk -v a="$t0" -v b="$t1" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN { d = b - a
            printf "   %.1f s wall (load average now %s)   target <= 60 s: %s\n", d, load, d <= 60 ? "met" : "MISSED" }'
        local timing
        timing=$(find "$clean_dir/cargo-timings" -name 'cargo-timing-*.html' | head -1)
        [ -n "$timing" ] && python3 bench/build_timings.py "$timing"
    fi
    echo

    jobs_section
    echo
    speech_section
    echo
    summary
    echo
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    return $((jobs_failed + speech_failed))
}

started=$SECONDS
report_file=report.txt
[ -n "$only" ] && report_file=report-$only.txt
# A failing step ends the report (errexit inside it; not ignored, as it would be on
# the left of ||); the report is kept all the same, and its status is the script's.
set +e
(
    set -e
    if [ "$only" = speech ]; then
        report_speech
    elif [ "$only" = jobs ]; then
        report_jobs
    else
        report
    fi
) 2>&1 | tee "$out/$report_file.tmp"
status=${PIPESTATUS[0]}
set -e
mv "$out/$report_file.tmp" "$out/$report_file"
echo "(scripts/bench.sh: $((SECONDS - started)) s of measurement; report in $show_out/$report_file)"

exit "$status"
