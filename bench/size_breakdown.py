#!/usr/bin/env python3
"""bench/size_breakdown.py: what the bytes of libcamb.so are, from an unstripped copy.

    usage: size_breakdown.py LIBCAMB_SO [--top N]

Sections from `size -A`; code and read-only data symbols from `nm -S -C`, grouped by
crate (the first path segment of the demangled name; for a trait impl, the
implementing type's crate; ring's C and assembly functions count as ring).
"""

import argparse
import re
import subprocess


def crate_of(name):
    if name.startswith("ring_core_") or re.match(r"(ecp_nistz256|fe_|x25519|GFp|ChaCha20|aes_|gcm_|bn_|sha\d|p256|p384|OPENSSL|CRYPTO|limbs_|LIMBS_)", name):
        return "ring"
    n = name.lstrip("<&*").replace("mut ", "").replace("dyn ", "")
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", n)
    if m:
        return m.group(1)
    if name.startswith("camb_"):
        return "camb (C ABI)"
    return "other (C, unnamed)"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("lib")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    sections = {}
    for line in subprocess.run(["size", "-A", args.lib], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    big = sorted(sections.items(), key=lambda kv: -kv[1])[:6]
    print("   sections: " + ", ".join(f"{name} {size / 1024:.0f} KiB" for name, size in big))
    crates = {}
    total = 0
    out = subprocess.run(["nm", "-S", "-C", args.lib], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4 or parts[2].lower() not in ("t", "r", "w"):
            continue
        size = int(parts[1], 16)
        crate = crate_of(parts[3])
        crates[crate] = crates.get(crate, 0) + size
        total += size
    top = sorted(crates.items(), key=lambda kv: -kv[1])[: args.top]
    print(f"   code + read-only data in named symbols: {total / 1024:.0f} KiB; by crate: " +
          ", ".join(f"{c} {s / 1024:.0f}" for c, s in top) + " (KiB)")


if __name__ == "__main__":
    main()
