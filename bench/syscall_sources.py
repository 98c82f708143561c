#!/usr/bin/env python3
"""System calls per status call, by the function of libcamb's stack that made them.

Reads the output of `strace -f -k` (a stack under each system call) over a run of
N calls and prints, per system call, how many each call made and which function
made them: the first frame that belongs to ureq (or libcamb itself, or std's
networking when nothing nearer is named). That names what to change for fewer of
them: a ureq setting, an extension point, or ureq itself.

usage: syscall_sources.py STRACE_OUTPUT CALLS
"""

import re
import sys
from collections import Counter

# "12345 ioctl(3, FIONBIO, [1]) = 0" (the pid column is there with strace -f).
CALL = re.compile(r"^(?:\d+\s+)?([a-z_0-9]+)\((.*)\)\s+=\s+(-?\d+)")
FRAME = re.compile(r"^ > \S+\((.*)\+0x[0-9a-f]+\) \[0x[0-9a-f]+\]$")


def owner(frames):
    """The most telling frame: ureq's, else libcamb's, else std's networking."""
    for wanted in ("ureq", "camb::", "std::net"):
        for frame in frames:
            if wanted in frame:
                return shorten(frame)
    return shorten(frames[0]) if frames else "?"


def shorten(frame):
    # `<ureq::...::TcpTransport as ureq::...::Transport>::is_open` -> `TcpTransport::is_open`
    frame = re.sub(r"<([^<>]*?) as [^<>]*>", r"\1", frame)
    frame = re.sub(r"(?<![A-Za-z0-9_])[a-z_0-9]+::", "", frame)
    return frame


def main():
    path, calls = sys.argv[1], int(sys.argv[2])
    counts = Counter()
    current, frames = None, []

    def flush():
        if current is not None:
            counts[(current, owner(frames))] += 1

    with open(path, errors="replace") as lines:
        for line in lines:
            frame = FRAME.match(line.rstrip("\n"))
            if frame:
                frames.append(frame.group(1))
                continue
            call = CALL.match(line)
            if call:
                flush()
                current, frames = call.group(1), []
    flush()
    by_call = Counter()
    for (name, _), n in counts.items():
        by_call[name] += n
    for name, total in by_call.most_common():
        if total / calls < 0.05:
            continue
        print(f"     {name:<10} {total / calls:5.2f} per call")
        for (call_name, where), n in counts.most_common():
            if call_name == name and n / calls >= 0.05:
                print(f"        {n / calls:5.2f}  {where}")


if __name__ == "__main__":
    main()
