#!/usr/bin/env python3
"""bench/sdk_speech.py: the baseline for streaming speech. Streams text to speech
through CAMB's official Python SDK (camb-sdk, CambAI's text_to_speech.tts, a generator of
chunks), against the emulator, the same request as bench/speech.c sends.

    usage: sdk_speech.py BASE_URL --mode first-byte --count N
           sdk_speech.py BASE_URL --mode cpu --count N --seconds S

first-byte: N streams one after the other; for each, the CLOCK_MONOTONIC time (ns) at
which its first chunk reached the caller, as `first_byte_ns=T` lines (the script pairs
them with the emulator's record of its first write).
cpu: N streams of S seconds of audio each (speech_model mars-flash, so 22,050 Hz); the
CPU time of the process (time.process_time) over the streams alone, and the seconds of
audio: `cpu_s=`, `audio_s=`, `bytes=`.

Run it with the venv's python from bench/setup_sdk.sh. The SDK is the only package used
beyond the standard library; the client is built before the timed part.
"""

import argparse
import time

from camb.client import CambAI

TEXT = "Streaming speech, measured from the first byte the server writes."
VOICE = 147320
KEY = "camb-emulator-key"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("--mode", required=True, choices=["first-byte", "cpu"])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    client = CambAI(api_key=KEY, base_url=args.base_url)
    if args.mode == "first-byte":
        for _ in range(args.count):
            first = 0
            for chunk in client.text_to_speech.tts(
                text=TEXT,
                language="en-us",
                voice_id=VOICE,
                output_configuration={"format": "wav"},
            ):
                if first == 0 and chunk:
                    first = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            print(f"first_byte_ns={first}", flush=True)
        return
    total = 0
    before = time.process_time()
    for _ in range(args.count):
        for chunk in client.text_to_speech.tts(
            text=TEXT,
            language="en-us",
            voice_id=VOICE,
            speech_model="mars-flash",
            output_configuration={"format": "wav", "duration": args.seconds},
        ):
            total += len(chunk)
    cpu = time.process_time() - before
    print(f"cpu_s={cpu:.6f}\naudio_s={args.count * args.seconds:.3f}\nbytes={total}")


if __name__ == "__main__":
    main()
