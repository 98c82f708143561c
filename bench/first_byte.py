#!/usr/bin/env python3
"""bench/first_byte.py: pairs a client's first-byte times with the emulator's.

    usage: first_byte.py BASE_URL CLIENT_OUTPUT NAME

CLIENT_OUTPUT holds `first_byte_ns=T` lines, one per stream in the order the streams
were made (bench/speech.c, bench/sdk_speech.py): the CLOCK_MONOTONIC time at which the
stream's first audio byte reached the caller. The emulator records, per stream in the
order they came, the CLOCK_MONOTONIC time at which it handed its first chunk to be
written (GET /_emulator/stats, tts_streams[].first_chunk_at_ns; the emulator was reset
before the client ran). Both clocks are the same system-wide clock. Prints p50, p90
and the largest of the differences in microseconds, and `first_byte_p50_us_NAME=` for
the report's summary.
"""

import json
import sys
import urllib.request


def main():
    base_url, output, name = sys.argv[1:4]
    with urllib.request.urlopen(base_url + "/_emulator/stats", timeout=10) as reply:
        streams = json.load(reply)["tts_streams"]
    with open(output) as f:
        client = [int(line.split("=", 1)[1]) for line in f if line.startswith("first_byte_ns=")]
    server = [s["first_chunk_at_ns"] for s in streams]
    if len(client) != len(server) or not client or None in server or 0 in client:
        print(f"   {name}: cannot pair {len(client)} client times with {len(server)} streams")
        sys.exit(1)
    gaps = sorted((c - s) / 1000.0 for c, s in zip(client, server))
    p50 = gaps[len(gaps) // 2]
    p90 = gaps[min(len(gaps) - 1, (len(gaps) * 9) // 10)]
    print(f"   {name:8} {len(gaps)} streams: p50 {p50:8.1f} us, p90 {p90:8.1f} us, max {gaps[-1]:8.1f} us")
    print(f"first_byte_p50_us_{name}={p50:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
