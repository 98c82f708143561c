"""libcamb: CAMB.AI text-to-sound and streaming text-to-speech from Python,
through libcamb, a C library.

The wheel carries libcamb.so and cffi's declarations of its header, camb.h,
made when the wheel was built (``from libcamb.camb import ffi, lib``); this
package wraps that C API in Python idioms: a client that is a context manager,
one exception class per result code, enums and frozen dataclasses instead of
raw structures, callables instead of C callbacks, and coroutines for asyncio.

Usage::

    import libcamb

    with libcamb.Client() as client:     # the key from CAMB_API_KEY (or api_key=...)
        task_id = client.create_task("rain on a tin roof", duration=5)

        def show(progress):
            if progress.status_changed:
                print(progress.polls, progress.status_text)

        info = client.wait_for_task(task_id, on_progress=show)
        if info.status is libcamb.Status.SUCCESS:
            client.save_audio(info.run_id, "rain.wav")
        else:
            print("failed:", info.status_text, info.exception_reason, info.message)

        # Or all of it in one call: create, wait, save.
        result = client.generate("rain on a tin roof", "rain.wav", duration=5)
        print(result.task_id, result.size)

        try:
            client.get_task_status("no-such-task")
        except libcamb.NotFound as e:  # every result code has its CambError subclass
            print(e.code, e.http_status, e.message)

        for result in client.get_task_statuses([task_id, "no-such-task"]):
            if result.ok:                # each task succeeds or fails on its own
                print(result.task_id, result.info.status_text)
            else:
                print(result.task_id, "failed:", result.error.code, result.error.message)

``CAMB_API_KEY`` and ``CAMB_BASE_URL`` (a gateway, or the local emulator) are
read by libcamb itself when a client is built without ``api_key`` or
``base_url``.

A :class:`Client` is thread-safe: share one between threads. Every blocking
call takes ``cancel=``, a :class:`CancelToken` that stops it from any thread.

What libcamb does, line by line, and headers of your own on every request::

    def show(level, line):               # level: a libcamb.LogLevel; str(level) is "debug"
        print(f"[{level}] {line}")       # no line ever holds the key or a secret header

    with libcamb.Client(
        log=show, log_level="debug",     # or libcamb.LogLevel.DEBUG; default "info"
        headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        secret_headers={"x-gateway-key": "..."},   # never in a log line or an error message
    ) as client:
        client.get_task_status("some-task-id")

The environment variable ``CAMB_LOG=debug`` (or ``info``, ``warn``, ``error``)
sends the same lines to stderr without changing the program.

With asyncio, each operation has a coroutine form: ``get_task_status_async``,
``create_task_async``, ``wait_for_task_async``, ``download_audio_async`` (the
audio as bytes), ``save_audio_async``, ``get_audio_url_async``,
``get_audio_urls_async``, ``get_task_statuses_async`` and ``generate_async``::

    async def main():
        with libcamb.Client() as client:
            info = await client.get_task_status_async("some-task-id")
            result = await client.generate_async(
                "rain on a tin roof", "rain.wav", duration=5,
                on_progress=lambda p: print(p.polls, p.status),
            )
            print(result.task_id, result.size)
            # Many calls at once, still on the client's few job threads:
            infos = await asyncio.gather(*(client.get_task_status_async(t) for t in ids))

    asyncio.run(main())

They run as libcamb jobs, on the client's own threads (``job_threads``, 4 by
default): no thread is made per call. Each event loop has one libcamb queue,
whose readiness descriptor the loop watches (``add_reader``), so finished jobs
are taken, read and freed on the loop's thread. Cancelling the awaiting task
(or ``asyncio.wait_for``'s timeout) cancels the job at once. This needs a loop
with ``add_reader`` (any selector loop, uvloop; not Windows' proactor loop).

Progress has one shape, :class:`Progress`, in the blocking and the async forms.

Text-to-speech is streamed: :meth:`Client.speak` returns a
:class:`SpeechStream`, an iterator of the audio's bytes as they arrive (a
libcamb job read on the iterating thread), and :meth:`Client.speak_async` an
:class:`AsyncSpeechStream`, its async twin read on the loop's thread::

    with libcamb.Client() as client:
        voice_id = client.list_voices()[0].id          # a libcamb.Voice
        locales = [l.short_name for l in client.target_languages()]  # "en-us", ...
        with client.speak("Hello there", "en-us", voice_id, format="pcm_s16le") as speech:
            for chunk in speech:
                player.write(chunk)
            print(speech.info)                         # a libcamb.SpeechInfo: rate, credits...
        info = client.speak_to_file("Hello there", "en-us", voice_id, "hello.wav")

    async def main(client):
        async with client.speak_async("Hello there", "en-us", voice_id) as speech:
            async for chunk in speech:
                player.write(chunk)

The speech options are keyword-only arguments, unset (not sent) unless given:
``format`` (WAV by default), ``sample_rate``, ``duration``,
``speech_model``, ``speaking_rate``, ``temperature``... (see
:meth:`Client.speak`). Leaving a stream before its end (``break``, an
exception, Ctrl-C, ``close()``, garbage collection) cancels the speech and
frees its job; an error after some audio (a stream cut short) is raised once
that audio has been given. The server's 422 is a :class:`ValidationError` in
its words (for a locale a model does not speak, the locales it does).

The library is the ``libcamb.so`` in this package; the environment variable
``CAMB_LIB``, for developers, names another one to load instead (it must be a
libcamb 0.3.x, the ABI of the declarations). Every result libcamb hands over (a
``camb_task``, a list, a string, a finished ``camb_job``) is copied into Python
values and freed before the call returns (a speech stream's job, once the
stream ends or is left).
"""

from ._client import Client
from ._errors import (
    BadResponse,
    CambError,
    Cancelled,
    ConnectionFailed,
    FileError,
    Forbidden,
    HttpError,
    InternalError,
    InvalidArgument,
    MissingApiKey,
    NotFound,
    NotReady,
    PaymentRequired,
    RateLimited,
    ServerError,
    TaskFailed,
    Timeout,
    Unauthorized,
    ValidationError,
    error_for,
)
from ._handle import CancelToken
from ._library import library_version, load
from ._speech import AsyncSpeechStream, SpeechStream
from ._values import (
    AudioType,
    Generation,
    JobProgress,
    Language,
    LogLevel,
    Progress,
    SpeechInfo,
    Status,
    TaskInfo,
    TaskResult,
    Voice,
)

__all__ = [
    "AsyncSpeechStream",
    "AudioType",
    "BadResponse",
    "CambError",
    "CancelToken",
    "Cancelled",
    "Client",
    "ConnectionFailed",
    "FileError",
    "Forbidden",
    "Generation",
    "HttpError",
    "InternalError",
    "InvalidArgument",
    "JobProgress",
    "Language",
    "LogLevel",
    "MissingApiKey",
    "NotFound",
    "NotReady",
    "PaymentRequired",
    "Progress",
    "RateLimited",
    "ServerError",
    "SpeechInfo",
    "SpeechStream",
    "Status",
    "TaskFailed",
    "TaskInfo",
    "TaskResult",
    "Timeout",
    "Unauthorized",
    "ValidationError",
    "Voice",
    "error_for",
    "library_version",
    "load",
]
