#!/usr/bin/env python3
"""bench/sdk_statuses.py: the baseline for many status queries in flight. Asks for the
status of N text-to-sound tasks through CAMB's official Python SDK (camb-sdk, its async
client AsyncCambAI), with asyncio.gather and at most C requests at a time (a semaphore),
and prints the wall time, the CPU time of the process (time.process_time) and how many
succeeded.

    usage: sdk_statuses.py BASE_URL [--tasks N] [--concurrency C] [--task-id ID]
                           [--api-key KEY] [--delay-ms MS]

Run it with the venv's python from bench/setup_sdk.sh, against the emulator, e.g.

    py=$(bench/setup_sdk.sh | tail -n 1)
    cargo build --release -p camb-emulator
    target/release/camb-emulator --delay-ms 50 --pending-ms 0 &    # prints its URL
    "$py" bench/sdk_statuses.py http://127.0.0.1:PORT

Every request asks for the same task (default demo-success, which the emulator answers
SUCCESS); a request succeeds when the SDK returns a status of SUCCESS. The emulator's
request count (GET /_emulator/stats, no key, not delayed) is read before and after, to
prove that all N requests reached it and that the SDK sent no retries; the script exits 1
otherwise. --delay-ms, the emulator's --delay-ms, only serves to print the ideal wall
time, ceil(N / C) x delay.

The SDK is the only package used beyond the standard library. The timed part is the
gather alone: the client is built before it (the SDK's defaults, base URL aside), so
connections are opened inside it, as a program would on its first queries.
"""

import argparse
import asyncio
import json
import math
import sys
import time
import urllib.request

from camb import AsyncCambAI


def emulator_stats(base_url):
    with urllib.request.urlopen(base_url + "/_emulator/stats", timeout=10) as reply:
        return json.load(reply)


async def run(base_url, tasks, concurrency, task_id, api_key):
    # The SDK's client with its defaults (300 s timeout, 2 retries on 408/409/429/5xx),
    # pointed at the emulator through base_url.
    client = AsyncCambAI(api_key=api_key, base_url=base_url)
    semaphore = asyncio.Semaphore(concurrency)
    in_flight = 0
    most_in_flight = 0

    async def one():
        nonlocal in_flight, most_in_flight
        async with semaphore:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            try:
                # GET /text-to-sound/{task_id}
                return await client.text_to_audio.get_text_to_audio_status(task_id)
            finally:
                in_flight -= 1

    try:
        wall_start = time.perf_counter()
        cpu_start = time.process_time()
        results = await asyncio.gather(*(one() for _ in range(tasks)), return_exceptions=True)
        cpu = time.process_time() - cpu_start
        wall = time.perf_counter() - wall_start
    finally:
        # AsyncCambAI has no close(); its httpx client is closed so that no connection is
        # left for the garbage collector. Outside the timed part.
        await client._client_wrapper.httpx_client.httpx_client.aclose()
    return results, wall, cpu, most_in_flight


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the emulator's URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--tasks", type=int, default=1000, help="status requests (1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="at most this many at once (8)")
    parser.add_argument("--task-id", default="demo-success")
    parser.add_argument("--api-key", default="camb-emulator-key")
    parser.add_argument("--delay-ms", type=float, help="the emulator's --delay-ms, for the ideal")
    args = parser.parse_args()
    if args.tasks < 1 or args.concurrency < 1:
        parser.error("--tasks and --concurrency must be at least 1")
    base_url = args.base_url.rstrip("/")

    before = emulator_stats(base_url)
    results, wall, cpu, most_in_flight = asyncio.run(
        run(base_url, args.tasks, args.concurrency, args.task_id, args.api_key)
    )
    after = emulator_stats(base_url)

    errors = [r for r in results if isinstance(r, BaseException)]
    replies = [r for r in results if not isinstance(r, BaseException)]
    succeeded = sum(1 for r in replies if r.status == "SUCCESS")
    other = len(replies) - succeeded
    reached = after["requests_total"] - before["requests_total"]
    # Each stats call opens a connection of its own; the second one is counted in `after`.
    sdk_connections = after["connections_accepted"] - before["connections_accepted"] - 1
    recorded = after["requests"][-min(reached, len(after["requests"])) :] if reached > 0 else []
    expected_path = "/text-to-sound/" + args.task_id
    odd = [r for r in recorded if r["method"] != "GET" or r["path"] != expected_path]

    print(f"camb-sdk AsyncCambAI, text_to_audio.get_text_to_audio_status({args.task_id!r})")
    print(f"requests: {args.tasks}, at most {args.concurrency} at a time (seen: {most_in_flight})")
    print(f"wall: {wall:.3f} s  ({wall / args.tasks * 1e3:.3f} ms per request)")
    print(f"cpu:  {cpu:.3f} s  ({cpu / args.tasks * 1e6:.0f} us per request, "
          f"{cpu / wall:.0%} of wall)")
    if args.delay_ms is not None:
        ideal = math.ceil(args.tasks / args.concurrency) * args.delay_ms / 1e3
        print(f"ideal wall: {ideal:.3f} s  "
              f"(ceil({args.tasks}/{args.concurrency}) x {args.delay_ms:g} ms); "
              f"measured / ideal = {wall / ideal:.3f}")
    print(f"succeeded: {succeeded}/{args.tasks}  (other status: {other}, errors: {len(errors)})")
    print(f"emulator: {reached} requests received, on {sdk_connections} connections")
    for error in errors[:3]:
        # The SDK's ApiError has an empty repr: show its status and body.
        detail = f"{getattr(error, 'status_code', '')} {getattr(error, 'body', error)}"
        print(f"  error: {type(error).__name__}: {detail.strip()}", file=sys.stderr)
    for request in odd[:3]:
        print(f"  unexpected request: {request['method']} {request['path']}", file=sys.stderr)
    ok = succeeded == args.tasks and reached == args.tasks and not odd
    if not ok:
        print("FAILED: not every request reached the emulator once and succeeded", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
