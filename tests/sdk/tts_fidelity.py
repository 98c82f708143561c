"""CAMB's official Python SDK (camb-sdk 1.6.6) against the emulator's text-to-speech.

usage: python tts_fidelity.py BASE_URL API_KEY

Streams speech in WAV, raw PCM and FLAC, provokes a 422 and a 429, and reads the voice
and language lists, all through the SDK's public calls, and checks that the SDK accepts
each reply and that the audio is what the emulator promises. Prints one line per check
and "OK" last; exits 1 at the first mismatch. Run by tests/sdk_fidelity.rs.
"""

import io
import json
import struct
import sys
import urllib.request
import wave

from camb import (
    StreamTtsInferenceOptions,
    StreamTtsOutputConfiguration,
    StreamTtsVoiceSettings,
)
from camb.client import CambAI
from camb.core.api_error import ApiError
from camb.errors import UnprocessableEntityError

DOCS_VOICE = 147320
TEXT = "Hello from CAMB's emulator, streamed through the official SDK."


class Mismatch(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Mismatch(what)


def say(line):
    print(line, flush=True)


def stream(client, **kwargs):
    """The SDK's streaming call, drained; returns the audio bytes and the chunk count."""
    chunks = list(
        client.text_to_speech.tts(
            text=kwargs.pop("text", TEXT),
            language=kwargs.pop("language", "en-us"),
            voice_id=kwargs.pop("voice_id", DOCS_VOICE),
            **kwargs,
        )
    )
    return b"".join(chunks), len(chunks)


def parse_wav_header(data):
    """The fmt fields of a 44-byte PCM header, by hand (the sizes may be 0xFFFFFFFF)."""
    check(data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt ", "RIFF/WAVE/fmt magic")
    fmt_size, audio_format, channels, rate, byte_rate, align, bits = struct.unpack(
        "<IHHIIHH", data[16:36]
    )
    check(data[36:40] == b"data", "data chunk right after fmt")
    return {
        "fmt_size": fmt_size,
        "format": audio_format,
        "channels": channels,
        "rate": rate,
        "byte_rate": byte_rate,
        "align": align,
        "bits": bits,
        "riff_size": struct.unpack("<I", data[4:8])[0],
        "data_size": struct.unpack("<I", data[40:44])[0],
    }


def check_wav(client):
    data, chunks = stream(
        client,
        speech_model="mars-flash",
        output_configuration=StreamTtsOutputConfiguration(format="wav", duration=1.0),
    )
    header = parse_wav_header(data)
    check(
        (header["fmt_size"], header["format"], header["channels"], header["bits"])
        == (16, 1, 1, 16),
        f"PCM 16-bit mono fmt chunk: {header}",
    )
    check(header["rate"] == 22050, f"mars-flash is 22.05 kHz: {header['rate']}")
    check(header["byte_rate"] == 44100 and header["align"] == 2, f"{header}")
    check(
        header["riff_size"] == 0xFFFFFFFF and header["data_size"] == 0xFFFFFFFF,
        f"streamed sizes are unknown (0xFFFFFFFF): {header}",
    )
    payload = len(data) - 44
    check(payload % 2 == 0, "a whole number of samples")
    check(payload == 2 * 22050, f"1 s of audio: {payload} bytes")
    # Python's wave module, on the bytes as they came.
    try:
        with wave.open(io.BytesIO(data)) as w:
            params = (w.getnchannels(), w.getsampwidth(), w.getframerate())
            frames = w.readframes(1 << 30)
        check(params == (1, 2, 22050), f"wave module params {params}")
        check(len(frames) == payload, f"wave module read {len(frames)} of {payload} bytes")
        how = "the wave module reads it as is"
    except wave.Error as e:
        how = f"wave module refused it ({e}); header checked by hand"
    say(f"wav: {len(data)} bytes in {chunks} chunks, 22050 Hz mono 16-bit, {how}")


def check_pcm(client):
    data, chunks = stream(
        client,
        speech_model="mars-8.1-flash-beta",
        output_configuration=StreamTtsOutputConfiguration(
            format="pcm_s16le", sample_rate=24000, duration=0.5
        ),
        voice_settings=StreamTtsVoiceSettings(speaking_rate=1.1),
        inference_options=StreamTtsInferenceOptions(temperature=0.5, inference_steps=32),
    )
    check(len(data) == 2 * 12000, f"0.5 s at 24 kHz, 16-bit: {len(data)} bytes")
    samples = struct.unpack(f"<{len(data) // 2}h", data)
    peak = max(abs(s) for s in samples)
    check(peak > 5000, f"audible: peak {peak}")
    say(f"pcm_s16le: {len(data)} bytes in {chunks} chunks, peak {peak} (SDK option types accepted)")


def check_flac(client):
    # A plain dict works as well as the SDK's model class.
    data, chunks = stream(
        client,
        speech_model="mars-pro",
        output_configuration={"format": "flac", "duration": 0.5},
    )
    check(data[:4] == b"fLaC", f"FLAC magic: {data[:4]!r}")
    # STREAMINFO: block header (4 bytes), then 2+2+3+3 bytes of sizes, then 20 bits of rate.
    check(data[4] & 0x7F == 0, "STREAMINFO first")
    rate = int.from_bytes(data[18:21], "big") >> 4
    check(rate == 48000, f"mars-pro is 48 kHz: {rate}")
    say(f"flac: {len(data)} bytes in {chunks} chunks, fLaC, STREAMINFO says {rate} Hz")


def check_credits_header(client):
    with client.text_to_speech.with_raw_response.tts(
        text=TEXT,
        language="en-us",
        voice_id=DOCS_VOICE,
        output_configuration={"format": "pcm_s16le", "duration": 0.1},
    ) as response:
        headers = {k.lower(): v for k, v in response.headers.items()}
        data = b"".join(response.data)
    check(headers.get("content-type") == "audio/pcm", f"content-type {headers}")
    check(headers.get("x-credits-required") == "1", f"X-Credits-Required {headers}")
    check(len(data) == 2 * 2205, f"0.1 s at 22.05 kHz: {len(data)}")
    say("raw response: content-type audio/pcm, X-Credits-Required 1")


def check_422(client):
    try:
        stream(client, language="zh-tw", speech_model="mars-flash")
    except UnprocessableEntityError as e:
        check(e.status_code == 422, f"status {e.status_code}")
        detail = e.body.detail
        check(detail is not None and len(detail) == 1, f"one error: {detail}")
        error = detail[0]
        check(list(error.loc) == ["body"] and error.type == "value_error", f"{error}")
        check(
            error.msg.startswith(
                "Value error, Language 'zh-tw' is not supported by model 'mars-flash'. "
                "Allowed languages: en-us, en-uk, "
            ),
            error.msg,
        )
        allowed = error.msg.split("Allowed languages: ", 1)[1].split(", ")
        check(len(allowed) == 33 and "zh-tw" not in allowed, f"{allowed}")
        say(f"422: UnprocessableEntityError, loc ['body'], {len(allowed)} allowed locales listed")
        return
    raise Mismatch("zh-tw on mars-flash was accepted")


def control(base_url, path, body):
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def check_429_is_not_retried(client, base_url):
    control(
        base_url,
        "/_emulator/faults",
        {
            "path_prefix": "/tts-stream",
            "times": 2,
            "respond": {
                "status": 429,
                "headers": [["Retry-After", "0"]],
                "body": '{"detail":"Too many requests"}',
                "content_type": "application/json",
            },
        },
    )
    try:
        stream(client)
    except UnprocessableEntityError:
        raise Mismatch("a 429 became a 422 error")
    except ApiError as e:
        check(e.status_code == 429, f"status {e.status_code}")
        check(e.body == {"detail": "Too many requests"}, f"body {e.body!r}")
    else:
        raise Mismatch("a 429 was taken as audio")
    # The stream call is sent once: the second call meets the fault's second use, and
    # the third goes through.
    try:
        stream(client)
        raise Mismatch("the fault was used up by retries")
    except ApiError as e:
        check(e.status_code == 429, f"status {e.status_code}")
    data, _ = stream(client, output_configuration={"format": "wav", "duration": 0.1})
    check(data[:4] == b"RIFF", "audio once the fault is used up")
    say("429: ApiError with the JSON body, and the stream call is not retried")


def check_voices(client):
    voices = client.voice_cloning.list_voices()
    check(isinstance(voices, list) and len(voices) >= 5, f"{voices!r}")
    ids = [v["id"] for v in voices]
    check(DOCS_VOICE in ids, f"{ids}")
    check(any("tags" in v for v in voices), "a voice with a key the SDK does not know")
    check(any(v["gender"] is None and v["age"] is None for v in voices), "a mostly-null voice")
    for voice in voices:
        stream(
            client,
            voice_id=voice["id"],
            output_configuration={"format": "pcm_s16le", "duration": 0.05},
        )
    say(f"list_voices: {len(voices)} voices, ids {ids}, each one streams")


def check_languages(client):
    for name in ("get_source_languages", "get_target_languages"):
        languages = getattr(client.languages, name)()
        check(len(languages) >= 20, f"{name}: {len(languages)}")
        first = languages[0]
        check(
            (first.id, first.language, first.short_name)
            == (1, "English (United States)", "en-us"),
            f"{name}: {first!r}",
        )
        for language in languages:
            check(language.short_name == language.short_name.lower(), f"{language!r}")
            stream(
                client,
                language=language.short_name,
                speech_model="mars-8.1-flash-beta",
                output_configuration={"format": "pcm_s16le", "duration": 0.05},
            )
        say(f"{name}: {len(languages)} languages, every short_name streams")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, api_key = sys.argv[1].rstrip("/"), sys.argv[2]
    client = CambAI(api_key=api_key, base_url=base_url, timeout=30)
    try:
        check_wav(client)
        check_pcm(client)
        check_flac(client)
        check_credits_header(client)
        check_422(client)
        check_429_is_not_retried(client, base_url)
        check_voices(client)
        check_languages(client)
    except Mismatch as e:
        print(f"MISMATCH: {e}", flush=True)
        return 1
    say("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
