#!/usr/bin/env python3
"""bench/bench_ctypes.py: per-call time of camb_client_get_task_status from Python
through ctypes (stdlib only), against the bench server, pinned to CPU 1 like the C
benchmark.

    usage: bench_ctypes.py LIBCAMB_SO BASE_URL [--calls N] [--c-p50-ns NS ...] [--kv FILE]

Every function used has argtypes and restype set. Each call's result, status and
run id are checked, as the C benchmark does. A timed call is the whole round trip of
libcamb 0.3's API: camb_client_get_task_status() (no cancel token), the accessors
that check the camb_task it returns, and camb_task_free(). Prints p50, p99 and mean in
microseconds, and the ratio of the p50 to each C p50 given with --c-p50-ns.
"""

import argparse
import ctypes
import os
import time


class Task(ctypes.Structure):
    """Opaque `camb_task`: only ever handled through a pointer."""


TaskPtr = ctypes.POINTER(Task)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("lib")
    parser.add_argument("base_url")
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--c-p50-ns", type=float, action="append", default=[])
    parser.add_argument("--kv", help="append py_p50_ns=... to this file")
    args = parser.parse_args()
    if not args.base_url.startswith("http://127.0.0.1:"):
        parser.error("only http://127.0.0.1:PORT is accepted")
    if not 1 <= args.calls <= 1_000_000:
        parser.error("--calls must be between 1 and 1000000")
    if len(os.sched_getaffinity(0)) >= 2 and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})

    lib = ctypes.CDLL(args.lib)
    client_p = ctypes.c_void_p
    lib.camb_client_builder_new.argtypes = []
    lib.camb_client_builder_new.restype = ctypes.c_void_p
    lib.camb_client_builder_set_api_key.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.camb_client_builder_set_api_key.restype = ctypes.c_uint32
    lib.camb_client_builder_set_base_url.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.camb_client_builder_set_base_url.restype = ctypes.c_uint32
    lib.camb_client_builder_build.argtypes = [ctypes.c_void_p, ctypes.POINTER(client_p)]
    lib.camb_client_builder_build.restype = ctypes.c_uint32
    lib.camb_client_free.argtypes = [ctypes.c_void_p]
    lib.camb_client_free.restype = None
    lib.camb_last_error.argtypes = []
    lib.camb_last_error.restype = ctypes.c_char_p
    get_status = lib.camb_client_get_task_status
    # (client, task_id, cancel token or NULL, out_task)
    get_status.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(TaskPtr)]
    get_status.restype = ctypes.c_uint32
    task_status = lib.camb_task_status
    task_status.argtypes = [TaskPtr]
    task_status.restype = ctypes.c_uint32
    task_run_id = lib.camb_task_run_id
    task_run_id.argtypes = [TaskPtr, ctypes.POINTER(ctypes.c_int64)]
    task_run_id.restype = ctypes.c_bool
    task_free = lib.camb_task_free
    task_free.argtypes = [TaskPtr]
    task_free.restype = None

    builder = lib.camb_client_builder_new()
    client = client_p()
    if (
        not builder
        or lib.camb_client_builder_set_api_key(builder, b"bench-api-key-0123456789") != 0
        or lib.camb_client_builder_set_base_url(builder, args.base_url.encode()) != 0
        or lib.camb_client_builder_build(builder, ctypes.byref(client)) != 0
    ):
        raise SystemExit("client: " + lib.camb_last_error().decode())

    # Reused for every call: each call writes a new camb_task into `task`, which is
    # freed before the next call.
    task = TaskPtr()
    task_ref = ctypes.byref(task)
    run_id = ctypes.c_int64(0)
    run_id_ref = ctypes.byref(run_id)
    task_id = b"t42"
    clock = time.perf_counter_ns
    samples = [0] * args.calls
    try:
        for i in range(args.warmup + args.calls):
            t0 = clock()
            rc = get_status(client, task_id, None, task_ref)
            if rc != 0:
                raise SystemExit("call failed: " + lib.camb_last_error().decode())
            ok = task_status(task) == 2 and task_run_id(task, run_id_ref) and run_id.value == 4242
            task_free(task)
            t = clock() - t0
            if not ok:
                raise SystemExit("call gave an unexpected status or run id")
            if i >= args.warmup:
                samples[i - args.warmup] = t
    finally:
        lib.camb_client_free(client)

    samples.sort()
    n = len(samples)
    p50 = samples[int((n - 1) * 0.50)]
    p99 = samples[int((n - 1) * 0.99)]
    mean = sum(samples) / n
    print(
        f"   Python ctypes, {n} calls after {args.warmup} warm-up: "
        f"p50 {p50 / 1e3:.2f}  p99 {p99 / 1e3:.2f}  mean {mean / 1e3:.2f} us"
    )
    for c in args.c_p50_ns:
        print(f"   Python p50 / C p50 ({c / 1e3:.2f} us): {p50 / c:.2f}x")
    if args.kv:
        with open(args.kv, "a") as kv:
            kv.write(f"py_p50_ns={p50}\n")


if __name__ == "__main__":
    main()
