#!/usr/bin/env python3
"""bench/build_timings.py: the slowest units of a cargo --timings report.

    usage: build_timings.py CARGO_TIMING_HTML [--top N]

Reads the UNIT_DATA array that cargo embeds in its HTML report and prints the
units that took longest, and how long the build took before this crate's own
compilation could start (what the dependencies cost on the critical path).
"""

import argparse
import json


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("html")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    text = open(args.html, encoding="utf-8").read()
    start = text.index("UNIT_DATA = ") + len("UNIT_DATA = ")
    units, _ = json.JSONDecoder().raw_decode(text[start:])
    end = max(u["start"] + u["duration"] for u in units)
    busy = sum(u["duration"] for u in units)
    print(f"   {len(units)} units, {end:.1f} s from first to last, {busy:.1f} s of unit time "
          f"(parallelism {busy / end:.2f})")
    print("   slowest units (s):", end="")
    slow = sorted(units, key=lambda u: u["duration"], reverse=True)[: args.top]
    print(", ".join(f" {u['name']}{u['target']} {u['duration']:.1f}" for u in slow))
    own = [u for u in units if u["name"] == "camb-ffi"]
    for u in sorted(own, key=lambda u: u["start"]):
        print(f"   camb-ffi{u['target'] or ' lib'}: starts at {u['start']:.1f} s, "
              f"takes {u['duration']:.1f} s")


if __name__ == "__main__":
    main()
