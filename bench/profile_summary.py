#!/usr/bin/env python3
"""bench/profile_summary.py: instructions per call from a callgrind profile of
`bench --only camb` (collected only inside camb_client_get_task_status), grouped by
where they are spent, plus the heaviest functions, inclusive and exclusive.

    usage: profile_summary.py CALLGRIND_OUT CALLS [--top N] [--what TEXT]

CALLS is the number of calls the profile covers (warm-up included); TEXT names
them ("status call", the default).
Uses callgrind_annotate (valgrind's), run twice: exclusive and inclusive costs.
"""

import argparse
import re
import subprocess

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(?:\*\s+)?(.*?):(.*)\s\[(.*)\]\s*$")

# Which code an exclusive cost belongs to: the crate that owns the function (for a
# trait impl, the implementing type's crate), or the libc routine family.
def is_libc(obj):
    base = obj.rsplit("/", 1)[-1]
    return base.startswith("libc.so") or base.startswith("ld-linux")


GROUPS = [
    ("libc malloc/free", lambda obj, fn: is_libc(obj) and re.search(r"malloc|free|_int_|tcache|calloc|realloc", fn)),
    ("libc memcpy/memmove/memset", lambda obj, fn: is_libc(obj) and re.search(r"mem(cpy|move|set|cmp)|strlen", fn)),
    ("libc other", lambda obj, fn: is_libc(obj)),
]


def crate_of(fn):
    name = fn.lstrip("<&*").replace("mut ", "").replace("dyn ", "")
    if name.startswith("__rustc::"):
        return "Rust allocator shims (__rust_alloc...)"
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", name)
    return m.group(1) if m else "other"


def annotate(path, inclusive):
    args = ["callgrind_annotate", "--threshold=100"]
    if inclusive:
        args.append("--inclusive=yes")
    out = subprocess.run(args + [path], capture_output=True, text=True, check=True).stdout
    rows = []
    total = None
    for line in out.splitlines():
        if "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
        m = LINE.match(line)
        if m:
            cost = int(m.group(1).replace(",", ""))
            rows.append((cost, m.group(3).strip(), m.group(4)))
    return rows, total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("calls", type=int)
    parser.add_argument("--top", type=int, default=14)
    parser.add_argument("--what", default="status call")
    args = parser.parse_args()
    n = args.calls

    exclusive, total = annotate(args.profile, inclusive=False)
    groups = {}
    for cost, fn, obj in exclusive:
        for name, test in GROUPS:
            if test(obj, fn):
                break
        else:
            name = crate_of(fn) if "libcamb" in obj.rsplit("/", 1)[-1] else obj.rsplit("/", 1)[-1]
        groups[name] = groups.get(name, 0) + cost
    print(f"   instructions per {args.what}: {total / n:,.0f} (user space; {n} calls)")
    print("   by owner (exclusive): " + "; ".join(
        f"{name} {cost / n:,.0f} ({100 * cost / total:.1f}%)"
        for name, cost in sorted(groups.items(), key=lambda kv: -kv[1])
        if cost / total >= 0.005))

    inclusive, _ = annotate(args.profile, inclusive=True)
    print(f"   heaviest functions, inclusive, instructions per call (share):")
    shown = 0
    skip = ("(below main)", "main", "latency", "camb_call", "__libc_start", "0x0")
    for cost, fn, obj in inclusive:
        if fn in skip or fn.startswith("__libc_start") or fn.startswith("0x") or cost >= 0.995 * total:
            continue
        short = re.sub(r"<[^<>]*>", "", fn) if len(fn) > 90 else fn
        print(f"     {cost / n:8,.0f}  {100 * cost / total:5.1f}%  {short[:110]}")
        shown += 1
        if shown >= args.top:
            break


if __name__ == "__main__":
    main()
