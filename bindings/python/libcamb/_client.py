"""The Client: every operation as a blocking call and as a coroutine (or, for
a speech, a stream and an async stream)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type, TypeVar, Union

from . import _aio, _log
from ._aio import (
    AsyncProgressCallback,
    job_audio,
    job_audio_url,
    job_bytes,
    job_language_list,
    job_speech_info,
    job_task_id,
    job_task_info,
    job_voice_list,
    run_job,
)
from ._convert import run_id as _run_id
from ._convert import (
    LANGUAGES,
    MAX_URLS_PER_CALL,
    NULL,
    Batch,
    CreateOptions,
    SpeechOptions,
    StrPath,
    Text,
    c_path,
    c_string,
    data,
    language_list,
    object_text,
    progress,
    signed,
    speech_info,
    speech_info_out,
    task_info,
    text,
    unsigned,
    url_list,
    voice_list,
    wait_options,
)
from ._errors import InternalError, TaskFailed
from ._ffi import RESULT, ffi
from ._handle import CancelToken, Handle, token_use
from ._library import LibraryPath, _Library, check, last_error, load
from ._log import LogCallable
from ._speech import AsyncSpeechStream, SpeechStream
from ._values import (
    AudioType,
    Generation,
    Language,
    LogLevel,
    Progress,
    SpeechInfo,
    Status,
    TaskInfo,
    TaskResult,
    Voice,
)

#: A blocking form's ``on_progress``: False stops the wait.
ProgressCallback = Callable[[Progress], Optional[bool]]
#: Headers: names to values, each str (UTF-8) or bytes.
Headers = Union["Mapping[str, Text]", "Mapping[bytes, Text]"]

_Client = TypeVar("_Client", bound="Client")
T = TypeVar("T")


class _ProgressThunk:
    """What libcamb's progress callback reaches, through its ``user_data``, for
    one blocking call (hold it until the C call returns). It tells
    ``on_progress`` of each poll, keeps the last status seen, and keeps an
    exception raised there for the call to raise once libcamb has returned:
    nothing may unwind into C."""

    __slots__ = ("on_progress", "raised", "status", "handle")

    def __init__(self, on_progress: Optional[ProgressCallback]) -> None:
        if on_progress is not None and not callable(on_progress):
            raise TypeError("on_progress must be callable")
        self.on_progress = on_progress
        self.raised: Optional[BaseException] = None
        self.status: Optional[Status] = None  # the last Status a poll saw
        self.handle: Any = ffi.new_handle(self)

    def call(self, progress_ptr: Any) -> bool:
        try:
            told = progress(progress_ptr)
            if told.status is not None:
                self.status = told.status
            return self.on_progress is None or self.on_progress(told) is not False
        except BaseException as e:  # noqa: BLE001 - raised by the call, once it returns
            self.raised = e
            return False

    def raise_if_raised(self) -> None:
        if self.raised is not None:
            raise self.raised


class _WriteSink:
    """What libcamb's write callback reaches, through its ``user_data``, for one
    download: each chunk to ``write``; an exception kept for the call to raise."""

    __slots__ = ("write", "raised", "handle")

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self.write = write
        self.raised: Optional[BaseException] = None
        self.handle: Any = ffi.new_handle(self)

    def call(self, chunk: Any, length: int) -> bool:
        try:
            return self.write(data(chunk, length)) is not False
        except BaseException as e:  # noqa: BLE001 - re-raised by the call
            self.raised = e
            return False


def _progress_call(progress_ptr: Any, user_data: Any) -> bool:
    thunk: _ProgressThunk = ffi.from_handle(user_data)
    return thunk.call(progress_ptr)


def _write_call(chunk: Any, length: int, user_data: Any) -> bool:
    sink: _WriteSink = ffi.from_handle(user_data)
    return sink.call(chunk, length)


# The C functions libcamb calls back during a blocking call, on the calling
# thread (camb_progress_fn, camb_write_fn): made once for the package, each
# call's state reached through its user_data handle.
_c_progress: Any = ffi.callback("camb_progress_fn", _progress_call, error=False)
_c_write: Any = ffi.callback("camb_write_fn", _write_call, error=False)


def _header_pairs(given: Optional[Headers], what: str) -> List[Tuple[bytes, bytes]]:
    """[(name, value)] as bytes from a mapping of header names to values (str or
    bytes). The value's words never quote it: it may be secret."""
    if given is None:
        return []
    if not isinstance(given, Mapping):
        raise TypeError(f"{what} must be a mapping of header names to values, not {type(given).__name__}")
    return [
        (c_string(name, f"the header name {name!r}"), c_string(value, f"the value of the header {name!r}"))
        for name, value in given.items()
    ]


class Client:
    """A client for the CAMB API: text-to-sound, and streaming text-to-speech
    with its voices and languages.

    ``api_key`` defaults to the environment variable ``CAMB_API_KEY``, and
    ``base_url`` to ``CAMB_BASE_URL`` (unset or empty:
    ``https://client.camb.ai/apis``); libcamb reads both when the client is
    built, under the rules of a key or URL given here. ``timeout_ms`` (default
    60000) bounds each whole call, retries included; ``max_retries`` (default 2)
    applies to idempotent calls. Thread-safe: share one client between threads.
    ``job_threads`` (default 4, at most 64) is the number of libcamb threads that
    run the client's ``*_async`` calls, however many there are (a call waiting
    between polls holds none); they start with the first one.

    ``log(level, line)`` is told what the client does, one line per event up to
    ``log_level`` (a :class:`LogLevel`, its name such as "debug", or 1 to 4;
    default "info"): a :class:`LogLevel` and the line as ``str``, which never
    holds the API key, a proxy's password or a secret header's value. It is
    called on the thread where libcamb logs: the caller's during a blocking
    call, one of the client's job threads for the ``*_async`` calls, so from
    several threads at once; it must be thread-safe and quick (the call waits
    for it). An exception it raises is not raised by the call that logged (the
    call's outcome stands): the line is dropped and the client's first such
    exception is reported as a ``RuntimeWarning``; a Ctrl-C that lands in it is
    raised once the call returns. The client holds the callable until it is
    closed: no line comes after ``close()`` has returned. ``CAMB_LOG=debug`` in
    the environment sends the lines to stderr too, with or without ``log``.

    ``headers`` and ``secret_headers`` (mappings of names to values) are sent
    with every request, for tracing (``traceparent``) or a gateway; the values
    of ``secret_headers`` never appear in a log line or an error message.
    libcamb refuses, with :class:`InvalidArgument` saying why and before
    anything is sent, a name it writes itself (``x-api-key``, ``host``,
    ``accept``, ``content-type``, ``content-length``, ``transfer-encoding``,
    ``connection``), a name that is not an HTTP token, a value with a CR, LF,
    NUL or another control character, a value over 8 KiB, and a 65th header.

    ``library`` is the path of another libcamb.so to use (see :func:`load`).

    Use it as a context manager, or call ``close()`` (idempotent). A client that is
    garbage-collected unclosed is freed then. Closing it fails its async calls
    still running with :class:`Cancelled`.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        max_retries: Optional[int] = None,
        *,
        allow_insecure_http: bool = False,
        proxy: Optional[str] = None,
        ca_bundle_file: Optional[StrPath] = None,
        ca_bundle_pem: Optional[bytes] = None,
        job_threads: Optional[int] = None,
        log: Optional[LogCallable] = None,
        log_level: Optional[Union[LogLevel, str, int]] = None,
        headers: Optional[Headers] = None,
        secret_headers: Optional[Headers] = None,
        library: Optional[LibraryPath] = None,
    ) -> None:
        self._log_hook: Optional[_log._LogHook] = None
        level = LogLevel.INFO
        if log is not None:
            if not callable(log):
                raise TypeError(f"log must be callable as log(level, line), not {type(log).__name__}")
            level = LogLevel._parse(LogLevel.INFO if log_level is None else log_level)
        elif log_level is not None:
            raise TypeError("log_level is how much log is told: pass log too (or set CAMB_LOG for stderr)")
        self._lib = lib = load(library)
        builder = lib.camb_client_builder_new()
        if builder == NULL:
            raise MemoryError("camb_client_builder_new returned NULL")
        built = False
        try:
            if api_key is not None:
                check(lib, lib.camb_client_builder_set_api_key(builder, c_string(api_key, "api_key")))
            if base_url is not None:
                check(lib, lib.camb_client_builder_set_base_url(builder, c_string(base_url, "base_url")))
            if timeout_ms is not None:
                check(lib, lib.camb_client_builder_set_timeout_ms(builder, unsigned(timeout_ms, "timeout_ms", 64)))
            if max_retries is not None:
                check(lib, lib.camb_client_builder_set_max_retries(builder, unsigned(max_retries, "max_retries", 32)))
            if allow_insecure_http:
                check(lib, lib.camb_client_builder_set_allow_insecure_http(builder, True))
            if job_threads is not None:
                threads = unsigned(job_threads, "job_threads", 32)
                check(lib, lib.camb_client_builder_set_job_threads(builder, threads))
            if proxy is not None:
                check(lib, lib.camb_client_builder_set_proxy(builder, c_string(proxy, "proxy")))
            if ca_bundle_file is not None:
                check(lib, lib.camb_client_builder_set_ca_bundle_file(builder, c_path(ca_bundle_file, "ca_bundle_file")))
            if ca_bundle_pem is not None:
                pem = bytes(ca_bundle_pem)
                check(lib, lib.camb_client_builder_set_ca_bundle_pem(builder, ffi.from_buffer("uint8_t[]", pem), len(pem)))
            for secret, given, what in ((False, headers, "headers"), (True, secret_headers, "secret_headers")):
                for name, value in _header_pairs(given, what):
                    check(lib, lib.camb_client_builder_add_header(builder, name, value, secret))
            if log is not None:
                hook = _log._LogHook(log)
                _log.hold(hook)  # from here until its finalizer ran, libcamb may call it
                code = lib.camb_client_builder_set_log(builder, level, _log.c_line, hook.handle, _log.c_finalizer)
                if code != RESULT["OK"]:
                    _log.release(hook)  # refused: libcamb never calls its finalizer
                    check(lib, code)
                self._log_hook = hook
            out_client = ffi.new("camb_client **")
            built = True  # build consumes the builder whether it succeeds or not
            check(lib, lib.camb_client_builder_build(builder, out_client))
        finally:
            if not built:
                lib.camb_client_builder_free(builder)  # its log's finalizer runs here
        self._handle = Handle(out_client[0], lib.camb_client_free, "Client")

    # -- lifetime --------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        """Frees the client (once; later calls do nothing). A call still running
        on another thread finishes first, and the client is freed after it.
        Async calls still running fail at once with :class:`Cancelled`."""
        self._handle.close()

    def __enter__(self: _Client) -> _Client:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A fallback for a forgotten close(); also runs when __init__ failed early.
        try:
            if _log.in_log_line():
                # Collected on a libcamb thread, inside a log line: camb_client_free
                # waits for the client's threads, so it runs on a thread of its own.
                threading.Thread(target=self._handle.close, daemon=True).start()
            else:
                self._handle.close()
        except Exception:  # noqa: BLE001 - nothing to report to from __del__
            pass

    def __repr__(self) -> str:
        return f"<libcamb.Client{' closed' if self.closed else ''}>"

    # -- blocking calls --------------------------------------------------
    #
    # Each runs on the calling thread and takes ``cancel``, a CancelToken that
    # another thread may cancel to stop it (a wait's pause at once, a download
    # between chunks, a retry before it is sent).

    def get_task_status(self, task_id: Text, cancel: Optional[CancelToken] = None) -> TaskInfo:
        """The task's status now: ``GET /text-to-sound/{task_id}``."""
        lib = self._lib
        c_task_id = c_string(task_id, "task_id")
        out_task = ffi.new("camb_task **")
        try:
            with self._handle.use() as client, token_use(cancel, lib) as token:
                check(lib, lib.camb_client_get_task_status(client, c_task_id, token, out_task))
            return task_info(lib, out_task[0])
        finally:
            lib.camb_task_free(out_task[0])  # NULL (the call failed): nothing to free

    def get_task_statuses(
        self,
        task_ids: Iterable[Text],
        max_connections: int = 0,
        cancel: Optional[CancelToken] = None,
    ) -> List[TaskResult]:
        """The statuses of many tasks at once, ``max_connections`` requests at a
        time (0: libcamb's default, 8; at most 32), bounded as a whole by the
        client's timeout.

        Returns one :class:`TaskResult` per id, in order: each has either its
        ``info`` or its own ``error`` (a task that was not found, a query that
        timed out or was cancelled, an id that is not valid); one task's failure
        fails no other. Raises only for the call as a whole (a closed client,
        too many ids).
        """
        lib = self._lib
        connections = unsigned(max_connections, "max_connections", 32)
        batch = Batch(task_ids)
        out_list = ffi.new("camb_task_list **")
        try:
            with self._handle.use() as client, token_use(cancel, lib) as token:
                check(
                    lib,
                    lib.camb_client_get_task_statuses(client, batch.c_ids, batch.count, connections, token, out_list),
                )
            return batch.results(lib, out_list[0])
        finally:
            lib.camb_task_list_free(out_list[0])

    def create_task(
        self,
        prompt: Text,
        duration: Optional[float] = None,
        audio_type: Optional[Union[AudioType, str]] = None,
        project_name: Optional[str] = None,
        project_description: Optional[str] = None,
        folder_id: Optional[int] = None,
        retry: bool = False,
        cancel: Optional[CancelToken] = None,
    ) -> str:
        """Creates a task and returns its id: ``POST /text-to-sound``.

        ``duration`` in seconds (None: the server's default, 8 s; sound: at most
        10); ``audio_type`` an AudioType or "sound"/"music". Not retried unless
        ``retry`` (a retry after a lost reply may create and bill a second task).
        ``cancel`` stops it before its request is sent, or in a retry's wait.
        """
        lib = self._lib
        options = CreateOptions(lib, duration, audio_type, project_name, project_description, folder_id, retry)
        c_prompt = c_string(prompt, "prompt")
        out_id = ffi.new("char **")
        length = ffi.new("size_t *")
        try:
            with self._handle.use() as client, token_use(cancel, lib) as token:
                check(lib, lib.camb_client_create_task(client, c_prompt, options.ptr, token, out_id, length))
            return _required(text(out_id[0], length[0]), "task id")
        finally:
            lib.camb_string_free(out_id[0])  # NULL (the call failed): nothing to free

    def wait_for_task(
        self,
        task_id: Text,
        initial_interval_ms: Optional[int] = None,
        backoff_factor: Optional[float] = None,
        max_interval_ms: Optional[int] = None,
        deadline_ms: Optional[int] = None,
        cancel: Optional[CancelToken] = None,
        on_progress: Optional[ProgressCallback] = None,
    ) -> TaskInfo:
        """Polls until the task's status is final and returns it.

        A final status is returned, not raised: check ``info.status``. Options left
        at None take libcamb's defaults (2000 ms, growing 1.5x up to 15000 ms, for at
        most 600000 ms). Raises Timeout when the deadline passes while the task is
        pending, Cancelled when ``cancel`` is cancelled or ``on_progress`` returns
        False. ``on_progress(progress)``, a :class:`Progress`, is called on this
        thread after every poll; an exception it raises stops the wait and is
        re-raised here.
        """
        lib = self._lib
        c_task_id = c_string(task_id, "task_id")
        options = wait_options(lib, initial_interval_ms, backoff_factor, max_interval_ms, deadline_ms)
        # Held in this frame until the C call returns: libcamb passes its handle back.
        thunk = _ProgressThunk(on_progress) if on_progress is not None else None
        out_task = ffi.new("camb_task **")
        try:
            with self._handle.use() as client, token_use(cancel, lib) as token:
                code = lib.camb_client_wait_for_task(
                    client,
                    c_task_id,
                    options,
                    token,
                    _c_progress if thunk is not None else NULL,
                    thunk.handle if thunk is not None else NULL,
                    out_task,
                )
                if thunk is not None:
                    thunk.raise_if_raised()
                check(lib, code)
            return task_info(lib, out_task[0])
        finally:
            lib.camb_task_free(out_task[0])  # NULL unless the wait succeeded

    def download_audio(
        self,
        run_id: int,
        write: Callable[[bytes], object],
        cancel: Optional[CancelToken] = None,
    ) -> int:
        """Streams a successful run's WAV audio to ``write(chunk)`` and returns the
        number of bytes. ``write`` may be a file's ``write`` method; returning
        False stops the download (Cancelled); an exception it raises stops it and
        is re-raised here. (:meth:`download_audio_async` gives the audio as bytes.)
        """
        lib = self._lib
        c_run_id = _run_id(run_id)
        if not callable(write):
            raise TypeError("write must be callable (a function, or a file's write method)")
        sink = _WriteSink(write)  # alive until the C call returns
        total = ffi.new("uint64_t *")
        with self._handle.use() as client, token_use(cancel, lib) as token:
            code = lib.camb_client_download_audio(client, c_run_id, token, _c_write, sink.handle, total)
            if sink.raised is not None:
                raise sink.raised
            check(lib, code)
        size: int = total[0]
        return size

    def save_audio(self, run_id: int, path: StrPath, cancel: Optional[CancelToken] = None) -> int:
        """Downloads a successful run's WAV audio into ``path``, following
        symlinks, and returns its size. A regular file (or none) is replaced
        atomically: on any failure no file is left and an existing one is
        untouched. A device or a FIFO is written in place. Raises FileError when
        the file cannot be written, and before downloading for a directory, a
        socket, a symlink loop or a missing directory."""
        lib = self._lib
        c_run_id = _run_id(run_id)
        c_file = c_path(path)
        total = ffi.new("uint64_t *")
        with self._handle.use() as client, token_use(cancel, lib) as token:
            check(lib, lib.camb_client_save_audio(client, c_run_id, c_file, token, total))
        size: int = total[0]
        return size

    def get_audio_url(self, run_id: int, cancel: Optional[CancelToken] = None) -> str:
        """A pre-signed URL of a successful run's audio."""
        lib = self._lib
        c_run_id = _run_id(run_id)
        out_url = ffi.new("char **")
        length = ffi.new("size_t *")
        try:
            with self._handle.use() as client, token_use(cancel, lib) as token:
                check(lib, lib.camb_client_get_audio_url(client, c_run_id, token, out_url, length))
            return _required(text(out_url[0], length[0]), "URL")
        finally:
            lib.camb_string_free(out_url[0])  # NULL (the call failed): nothing to free

    def get_audio_urls(self, run_ids: Iterable[int], cancel: Optional[CancelToken] = None) -> Dict[int, Optional[str]]:
        """URLs of many runs' audio: ``{run_id: url}``, None for a run the server
        gave none (unknown, or not successful). Any number of ids (sent 1000 per
        request)."""
        lib = self._lib
        ids = [_run_id(r) for r in run_ids]
        urls: Dict[int, Optional[str]] = {}
        with self._handle.use() as client, token_use(cancel, lib) as token:
            for start in range(0, len(ids), MAX_URLS_PER_CALL):
                batch = ids[start : start + MAX_URLS_PER_CALL]
                out_list = ffi.new("camb_audio_url_list **")
                try:
                    check(lib, lib.camb_client_get_audio_urls(client, ffi.new("int64_t[]", batch), len(batch), token, out_list))
                    url_list(lib, out_list[0], urls)
                finally:
                    lib.camb_audio_url_list_free(out_list[0])  # NULL (the call failed): nothing to free
        return urls

    def generate(
        self,
        prompt: Text,
        path: StrPath,
        *,
        duration: Optional[float] = None,
        audio_type: Optional[Union[AudioType, str]] = None,
        project_name: Optional[str] = None,
        project_description: Optional[str] = None,
        folder_id: Optional[int] = None,
        retry: bool = False,
        initial_interval_ms: Optional[int] = None,
        backoff_factor: Optional[float] = None,
        max_interval_ms: Optional[int] = None,
        deadline_ms: Optional[int] = None,
        cancel: Optional[CancelToken] = None,
        on_progress: Optional[ProgressCallback] = None,
    ) -> Generation:
        """Prompt to WAV file in one call: creates the task (the arguments of
        :meth:`create_task`), waits for it (those of :meth:`wait_for_task`,
        ``on_progress`` and ``cancel`` included) and saves its audio to ``path``
        (the rules of :meth:`save_audio`). Returns a :class:`Generation`.

        Everything that can be checked (the prompt, the options, ``path``) is
        checked before a task is created and billed. A task that ends without
        audio raises :class:`TaskFailed` (its ``status`` the task's final one,
        its message the server's reason), and writes no file.
        """
        lib = self._lib
        create = CreateOptions(lib, duration, audio_type, project_name, project_description, folder_id, retry)
        wait = wait_options(lib, initial_interval_ms, backoff_factor, max_interval_ms, deadline_ms)
        c_prompt = c_string(prompt, "prompt")
        c_file = c_path(path)
        # Always given, to know the status a failed task ended in: libcamb says it
        # only in words (camb_last_error) and hands over no task then.
        thunk = _ProgressThunk(on_progress)
        out_task = ffi.new("camb_task **")
        total = ffi.new("uint64_t *")
        try:
            with self._handle.use() as client, token_use(cancel, lib) as token:
                code = lib.camb_client_generate(
                    client, c_prompt, create.ptr, wait, c_file, token, _c_progress, thunk.handle, out_task, total
                )
                thunk.raise_if_raised()
                if code != RESULT["OK"]:
                    error = last_error(lib, code)
                    if isinstance(error, TaskFailed):
                        error.status = thunk.status
                    raise error
            return Generation(
                task_id=object_text(lib.camb_task_id, out_task[0]) or "",
                info=task_info(lib, out_task[0]),
                path=os.fsdecode(path),
                size=total[0],
            )
        finally:
            lib.camb_task_free(out_task[0])  # NULL unless it succeeded

    # -- text-to-speech, blocking ---------------------------------------------
    #
    # Each speech call takes the speech options as keyword-only arguments, all
    # None by default: unset, not sent, so that the server's default applies
    # (but the format, always sent: WAV unless another is named). Strings are
    # passed through as given; the server's 422 says what it does not take.

    def speak(
        self,
        text: Text,
        language: Text,
        voice_id: int,
        *,
        format: Optional[str] = None,
        sample_rate: Optional[int] = None,
        duration: Optional[float] = None,
        apply_enhancement: Optional[bool] = None,
        speech_model: Optional[str] = None,
        user_instructions: Optional[str] = None,
        enhance_named_entities: Optional[bool] = None,
        enhance_reference_audio_quality: Optional[bool] = None,
        maintain_source_accent: Optional[bool] = None,
        apply_ref_loudness_norm: Optional[bool] = None,
        speaking_rate: Optional[float] = None,
        stability: Optional[float] = None,
        temperature: Optional[float] = None,
        inference_steps: Optional[int] = None,
        speaker_similarity: Optional[float] = None,
        localize_speaker_weight: Optional[float] = None,
        acoustic_quality_boost: Optional[bool] = None,
    ) -> SpeechStream:
        """Speaks ``text`` in ``language`` (a lower-case locale such as "en-us")
        with the voice ``voice_id`` (see :meth:`list_voices`): ``POST
        /tts-stream``. Returns a :class:`SpeechStream`, an iterator of the
        audio's ``bytes`` as they arrive; the speech starts now, as a libcamb
        job on the client's threads, and is read on the iterating thread::

            with client.speak("Hello there", "en-us", 147320, format="pcm_s16le") as stream:
                for chunk in stream:
                    player.write(chunk)
                print(stream.info.sample_rate, stream.info.credits)

        A streamed WAV starts with a header whose sizes the server cannot know
        yet (placeholders, often 0xFFFFFFFF: a player that streams WAV ignores
        them; :meth:`speak_to_file` writes the right ones); raw ``pcm_*`` audio
        has no header: its rate is ``stream.info.sample_rate``.

        The options (keyword-only; None leaves one unset, not sent):

        - ``format``: ``wav`` (the default), ``flac``, ``mp3``, ``adts``, or raw
          ``pcm_s16le``, ``pcm_s16be``, ``pcm_s32le``, ``pcm_s32be``,
          ``pcm_f32le``, ``pcm_f32be``; ``sample_rate`` (the model's by
          default), ``duration`` in seconds (from the text by default),
          ``apply_enhancement``: ``output_configuration``.
        - ``speech_model``: ``mars-flash``, ``mars-pro``, ``mars-instruct``,
          ``mars-8.1-flash-beta``, ``mars-8.1-pro-beta``...;
          ``user_instructions`` (for ``mars-instruct``);
          ``enhance_named_entities`` (``enhance_named_entities_pronunciation``).
        - ``enhance_reference_audio_quality``, ``maintain_source_accent``,
          ``apply_ref_loudness_norm``, ``speaking_rate``: ``voice_settings``.
        - ``stability`` (0 to 1), ``temperature`` (0.01 to 4),
          ``inference_steps`` (1 to 1000), ``speaker_similarity`` (0 to 1),
          ``localize_speaker_weight``, ``acoustic_quality_boost``:
          ``inference_options``, for the MARS-8 models.

        Raises InvalidArgument at once for arguments libcamb refuses (empty
        text or language, a format that is not a short name, an infinite
        number). The server's refusals are raised by the iteration:
        :class:`ValidationError` for its 422 (which names the field, and for a
        locale the model does not speak, the locales it does), :class:`NotFound`
        for an unknown voice. A stream cut in the middle raises
        :class:`ConnectionFailed` after the audio that came. If no audio
        arrives for the client's timeout, :class:`Timeout`; the whole stream may
        last any time. A stream is sent again only when the server cannot have
        started it (no connection, 429, 503), never once audio has begun.
        """
        options = SpeechOptions(self._lib, locals())
        c_text, c_language, c_voice_id = _speech_arguments(text, language, voice_id)

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_speak(client, c_text, c_language, c_voice_id, options.ptr, out_job)
            return code

        return SpeechStream(self, make)

    def speak_to_file(
        self,
        text: Text,
        language: Text,
        voice_id: int,
        path: StrPath,
        *,
        format: Optional[str] = None,
        sample_rate: Optional[int] = None,
        duration: Optional[float] = None,
        apply_enhancement: Optional[bool] = None,
        speech_model: Optional[str] = None,
        user_instructions: Optional[str] = None,
        enhance_named_entities: Optional[bool] = None,
        enhance_reference_audio_quality: Optional[bool] = None,
        maintain_source_accent: Optional[bool] = None,
        apply_ref_loudness_norm: Optional[bool] = None,
        speaking_rate: Optional[float] = None,
        stability: Optional[float] = None,
        temperature: Optional[float] = None,
        inference_steps: Optional[int] = None,
        speaker_similarity: Optional[float] = None,
        localize_speaker_weight: Optional[float] = None,
        acoustic_quality_boost: Optional[bool] = None,
        cancel: Optional[CancelToken] = None,
    ) -> SpeechInfo:
        """Speaks like :meth:`speak` (its options) and saves the audio to
        ``path``, by the rules of :meth:`save_audio`: a regular file there (or
        none) is replaced atomically, so a speech that fails or is cut short
        leaves what was there; a device or a FIFO is written as the audio
        comes. A WAV file gets its real sizes in its header. Returns a
        :class:`SpeechInfo` (``bytes``: the file's size). ``cancel`` stops it
        from another thread, between chunks. Raises FileError for a path that
        cannot be written, before anything is sent.
        """
        lib = self._lib
        options = SpeechOptions(lib, locals())
        c_text, c_language, c_voice_id = _speech_arguments(text, language, voice_id)
        c_file = c_path(path)
        info = speech_info_out()
        with self._handle.use() as client, token_use(cancel, lib) as token:
            check(
                lib,
                lib.camb_client_speak_to_file(client, c_text, c_language, c_voice_id, options.ptr, c_file, token, info),
            )
        return speech_info(info)

    def list_voices(self, cancel: Optional[CancelToken] = None) -> List[Voice]:
        """The voices a speech can use (``GET /list-voices``), in the server's
        order: a :class:`Voice`'s ``id`` is the ``voice_id`` of :meth:`speak`."""
        lib = self._lib
        out_list = ffi.new("camb_voice_list **")
        try:
            with self._handle.use() as client, token_use(cancel, lib) as token:
                check(lib, lib.camb_client_list_voices(client, token, out_list))
            return voice_list(lib, out_list[0])
        finally:
            lib.camb_voice_list_free(out_list[0])  # NULL (the call failed): nothing to free

    def source_languages(self, cancel: Optional[CancelToken] = None) -> List[Language]:
        """The source languages (``GET /source-languages``): a
        :class:`Language`'s ``short_name`` is a locale for :meth:`speak`."""
        return self._list_languages(LANGUAGES["SOURCE"], cancel)

    def target_languages(self, cancel: Optional[CancelToken] = None) -> List[Language]:
        """The target languages (``GET /target-languages``), as :meth:`source_languages`."""
        return self._list_languages(LANGUAGES["TARGET"], cancel)

    def _list_languages(self, which: int, cancel: Optional[CancelToken]) -> List[Language]:
        lib = self._lib
        out_list = ffi.new("camb_language_list **")
        try:
            with self._handle.use() as client, token_use(cancel, lib) as token:
                check(lib, lib.camb_client_list_languages(client, which, token, out_list))
            return language_list(lib, out_list[0])
        finally:
            lib.camb_language_list_free(out_list[0])  # NULL (the call failed): nothing to free

    # -- asyncio ---------------------------------------------------------
    #
    # Each coroutine runs the operation as a libcamb job: see _aio.py.

    async def get_task_status_async(self, task_id: Text) -> TaskInfo:
        """:meth:`get_task_status`, awaited."""
        c_task_id = c_string(task_id, "task_id")

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_get_task_status(client, c_task_id, out_job)
            return code

        return await self._run_job(make, job_task_info)

    async def create_task_async(
        self,
        prompt: Text,
        duration: Optional[float] = None,
        audio_type: Optional[Union[AudioType, str]] = None,
        project_name: Optional[str] = None,
        project_description: Optional[str] = None,
        folder_id: Optional[int] = None,
        retry: bool = False,
    ) -> str:
        """:meth:`create_task`, awaited: the new task's id."""
        options = CreateOptions(self._lib, duration, audio_type, project_name, project_description, folder_id, retry)
        c_prompt = c_string(prompt, "prompt")

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_create_task(client, c_prompt, options.ptr, out_job)
            return code

        return await self._run_job(make, job_task_id)

    async def wait_for_task_async(
        self,
        task_id: Text,
        initial_interval_ms: Optional[int] = None,
        backoff_factor: Optional[float] = None,
        max_interval_ms: Optional[int] = None,
        deadline_ms: Optional[int] = None,
        on_progress: Optional[AsyncProgressCallback] = None,
        progress_interval: float = 0.1,
    ) -> TaskInfo:
        """:meth:`wait_for_task`, awaited: polls until the task's status is final,
        and returns it (a final status is returned, not raised). Between polls it
        holds no thread at all.

        ``on_progress(progress)``, a :class:`Progress`, is called on the loop's
        thread by a timer that looks at the job every ``progress_interval``
        seconds, when the poll count has changed while the task is pending, and
        once more, with ``done`` set, when the wait has ended by itself. It may
        be a coroutine function. Returning False stops the wait (Cancelled); an
        exception it raises stops it and is raised here. To stop the wait from
        outside, cancel the awaiting task.
        """
        c_task_id = c_string(task_id, "task_id")
        options = wait_options(self._lib, initial_interval_ms, backoff_factor, max_interval_ms, deadline_ms)

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_wait_for_task(client, c_task_id, options, out_job)
            return code

        return await self._run_job(make, job_task_info, on_progress, progress_interval)

    async def download_audio_async(self, run_id: int) -> bytes:
        """A successful run's WAV audio, awaited, as bytes (held in memory by
        libcamb until it is copied here)."""
        c_run_id = _run_id(run_id)

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_download_audio(client, c_run_id, out_job)
            return code

        return await self._run_job(make, job_audio)

    async def save_audio_async(self, run_id: int, path: StrPath) -> int:
        """:meth:`save_audio`, awaited: the size of the file written."""
        c_run_id = _run_id(run_id)
        c_file = c_path(path)

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_save_audio(client, c_run_id, c_file, out_job)
            return code

        return await self._run_job(make, job_bytes)

    async def get_audio_url_async(self, run_id: int) -> str:
        """:meth:`get_audio_url`, awaited."""
        c_run_id = _run_id(run_id)

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_get_audio_url(client, c_run_id, out_job)
            return code

        return await self._run_job(make, job_audio_url)

    async def get_audio_urls_async(self, run_ids: Iterable[int]) -> Dict[int, Optional[str]]:
        """:meth:`get_audio_urls`, awaited: one job per 1000 ids, one after another."""
        ids = [_run_id(r) for r in run_ids]
        urls: Dict[int, Optional[str]] = {}

        def read(lib: _Library, job: Any) -> Dict[int, Optional[str]]:
            urls_of_job = lib.camb_job_audio_url_list(job)  # the job's: read, never freed
            if urls_of_job == NULL:
                raise InternalError(RESULT["PANIC"], "libcamb handed back a successful job without its list")
            part: Dict[int, Optional[str]] = {}
            url_list(lib, urls_of_job, part)
            return part

        for start in range(0, len(ids), MAX_URLS_PER_CALL):
            batch = ids[start : start + MAX_URLS_PER_CALL]

            def make(lib: _Library, client: Any, out_job: Any, batch: List[int] = batch) -> int:
                code: int = lib.camb_client_job_get_audio_urls(client, ffi.new("int64_t[]", batch), len(batch), out_job)
                return code

            urls.update(await self._run_job(make, read))
        return urls

    async def get_task_statuses_async(self, task_ids: Iterable[Text], max_connections: int = 0) -> List[TaskResult]:
        """:meth:`get_task_statuses`, awaited: one TaskResult per id, in order."""
        connections = unsigned(max_connections, "max_connections", 32)
        batch = Batch(task_ids)

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_get_task_statuses(client, batch.c_ids, batch.count, connections, out_job)
            return code

        def read(lib: _Library, job: Any) -> List[TaskResult]:
            # The list belongs to the job: read it, never free it.
            return batch.results(lib, lib.camb_job_task_list(job))

        return await self._run_job(make, read)

    async def generate_async(
        self,
        prompt: Text,
        path: StrPath,
        *,
        duration: Optional[float] = None,
        audio_type: Optional[Union[AudioType, str]] = None,
        project_name: Optional[str] = None,
        project_description: Optional[str] = None,
        folder_id: Optional[int] = None,
        retry: bool = False,
        initial_interval_ms: Optional[int] = None,
        backoff_factor: Optional[float] = None,
        max_interval_ms: Optional[int] = None,
        deadline_ms: Optional[int] = None,
        on_progress: Optional[AsyncProgressCallback] = None,
        progress_interval: float = 0.1,
    ) -> Generation:
        """:meth:`generate`, awaited, as one job: its ``on_progress`` is that of
        :meth:`wait_for_task_async`. A task that ends without audio raises
        :class:`TaskFailed` with the task's final ``status``, and writes no file.
        """
        lib = self._lib
        create = CreateOptions(lib, duration, audio_type, project_name, project_description, folder_id, retry)
        wait = wait_options(lib, initial_interval_ms, backoff_factor, max_interval_ms, deadline_ms)
        c_prompt = c_string(prompt, "prompt")
        c_file = c_path(path)
        given_path = os.fsdecode(path)

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_generate(client, c_prompt, create.ptr, wait, c_file, out_job)
            return code

        def read(lib: _Library, job: Any) -> Generation:
            return Generation(
                task_id=job_task_id(lib, job),
                info=job_task_info(lib, job),
                path=given_path,
                size=job_bytes(lib, job),
            )

        return await self._run_job(make, read, on_progress, progress_interval)

    def speak_async(
        self,
        text: Text,
        language: Text,
        voice_id: int,
        *,
        format: Optional[str] = None,
        sample_rate: Optional[int] = None,
        duration: Optional[float] = None,
        apply_enhancement: Optional[bool] = None,
        speech_model: Optional[str] = None,
        user_instructions: Optional[str] = None,
        enhance_named_entities: Optional[bool] = None,
        enhance_reference_audio_quality: Optional[bool] = None,
        maintain_source_accent: Optional[bool] = None,
        apply_ref_loudness_norm: Optional[bool] = None,
        speaking_rate: Optional[float] = None,
        stability: Optional[float] = None,
        temperature: Optional[float] = None,
        inference_steps: Optional[int] = None,
        speaker_similarity: Optional[float] = None,
        localize_speaker_weight: Optional[float] = None,
        acoustic_quality_boost: Optional[bool] = None,
    ) -> AsyncSpeechStream:
        """:meth:`speak` for asyncio, called from a coroutine: an
        :class:`AsyncSpeechStream`, an async iterator of the audio's ``bytes``
        as they arrive, read on the loop's thread (no thread is made for it)::

            async with client.speak_async("Hello there", "en-us", 147320) as stream:
                async for chunk in stream:
                    player.write(chunk)

        The speech starts now, as a libcamb job on the client's threads, told
        through the running loop's queue. Arguments, options and errors as
        :meth:`speak`. Raises RuntimeError outside a running event loop.
        """
        options = SpeechOptions(self._lib, locals())
        c_text, c_language, c_voice_id = _speech_arguments(text, language, voice_id)

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_speak(client, c_text, c_language, c_voice_id, options.ptr, out_job)
            return code

        return AsyncSpeechStream(self, make)

    async def speak_to_file_async(
        self,
        text: Text,
        language: Text,
        voice_id: int,
        path: StrPath,
        *,
        format: Optional[str] = None,
        sample_rate: Optional[int] = None,
        duration: Optional[float] = None,
        apply_enhancement: Optional[bool] = None,
        speech_model: Optional[str] = None,
        user_instructions: Optional[str] = None,
        enhance_named_entities: Optional[bool] = None,
        enhance_reference_audio_quality: Optional[bool] = None,
        maintain_source_accent: Optional[bool] = None,
        apply_ref_loudness_norm: Optional[bool] = None,
        speaking_rate: Optional[float] = None,
        stability: Optional[float] = None,
        temperature: Optional[float] = None,
        inference_steps: Optional[int] = None,
        speaker_similarity: Optional[float] = None,
        localize_speaker_weight: Optional[float] = None,
        acoustic_quality_boost: Optional[bool] = None,
    ) -> SpeechInfo:
        """:meth:`speak_to_file`, awaited, as one job."""
        options = SpeechOptions(self._lib, locals())
        c_text, c_language, c_voice_id = _speech_arguments(text, language, voice_id)
        c_file = c_path(path)

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_speak_to_file(
                client, c_text, c_language, c_voice_id, options.ptr, c_file, out_job
            )
            return code

        return await self._run_job(make, job_speech_info)

    async def list_voices_async(self) -> List[Voice]:
        """:meth:`list_voices`, awaited."""

        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_list_voices(client, out_job)
            return code

        return await self._run_job(make, job_voice_list)

    async def source_languages_async(self) -> List[Language]:
        """:meth:`source_languages`, awaited."""
        return await self._list_languages_async(LANGUAGES["SOURCE"])

    async def target_languages_async(self) -> List[Language]:
        """:meth:`target_languages`, awaited."""
        return await self._list_languages_async(LANGUAGES["TARGET"])

    async def _list_languages_async(self, which: int) -> List[Language]:
        def make(lib: _Library, client: Any, out_job: Any) -> int:
            code: int = lib.camb_client_job_list_languages(client, which, out_job)
            return code

        return await self._run_job(make, job_language_list)

    async def _run_job(
        self,
        make: _aio.MakeJob,
        read: Callable[[_Library, Any], T],
        on_progress: Optional[AsyncProgressCallback] = None,
        progress_interval: float = 0.1,
    ) -> T:
        return await run_job(self._lib, self._handle, make, read, on_progress, progress_interval)


def _speech_arguments(text: Text, language: Text, voice_id: int) -> Tuple[bytes, bytes, int]:
    """The text, the locale and the voice of a speech, as C takes them."""
    return c_string(text, "text"), c_string(language, "language"), signed(voice_id, "voice_id")


def _required(value: Optional[str], what: str) -> str:
    if value is None:
        raise InternalError(RESULT["PANIC"], f"libcamb reported success without the {what}")
    return value
