"""camb: CAMB.AI text-to-sound from Python, through libcamb and ctypes.

One file, standard library only. It loads libcamb (the path in the environment
variable ``CAMB_LIB``, else the path given to :func:`load` or :class:`Client`,
else ``ctypes.util.find_library("camb")``) and wraps its C API in Python idioms:
a client that is a context manager, one exception class per result code, enums
and frozen dataclasses instead of raw structures, and callables instead of C
callbacks.

Usage::

    import camb

    with camb.Client(api_key="...") as client:          # or CAMB_API_KEY
        task_id = client.create_task("rain on a tin roof", duration=5)

        def show(progress):
            if progress.status_changed:
                print(progress.polls, progress.status_text)

        info = client.wait_for_task(task_id, on_progress=show)
        if info.status is camb.Status.SUCCESS:
            client.save_audio(info.run_id, "rain.wav")
        else:
            print("failed:", info.status_text, info.exception_reason, info.message)

        # Or all of it in one call: create, wait, save.
        result = client.generate("rain on a tin roof", "rain.wav", duration=5)
        print(result.task_id, result.size)

        try:
            client.get_task_status("no-such-task")
        except camb.NotFound as e:  # every result code has its CambError subclass
            print(e.code, e.http_status, e.message)

        for result in client.get_task_statuses([task_id, "no-such-task"]):
            if result.ok:                # each task succeeds or fails on its own
                print(result.task_id, result.info.status_text)
            else:
                print(result.task_id, "failed:", result.error.code, result.error.message)

A :class:`Client` is thread-safe: share one between threads. Every blocking
call takes ``cancel=``, a :class:`CancelToken` that stops it from any thread.

What libcamb does, line by line, and headers of your own on every request::

    def show(level, line):               # level: a camb.LogLevel; str(level) is "debug"
        print(f"[{level}] {line}")       # no line ever holds the key or a secret header

    with camb.Client(
        log=show, log_level="debug",     # or camb.LogLevel.DEBUG; default "info"
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
        with camb.Client() as client:
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

Written for libcamb 0.3: every result libcamb hands over (a ``camb_task``, a list,
a string, a finished ``camb_job``) is copied into Python values and freed before
the call returns.
"""

import asyncio
import contextlib
import ctypes
import ctypes.util
import enum
import inspect
import os
import threading
import warnings
import weakref
from collections.abc import Mapping
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    byref,
    c_bool,
    c_char_p,
    c_double,
    c_int64,
    c_size_t,
    c_ssize_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

__all__ = [
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
    "LogLevel",
    "MissingApiKey",
    "NotFound",
    "NotReady",
    "PaymentRequired",
    "Progress",
    "RateLimited",
    "ServerError",
    "Status",
    "TaskFailed",
    "TaskInfo",
    "TaskResult",
    "Timeout",
    "Unauthorized",
    "ValidationError",
    "error_for",
    "load",
    "library_version",
]

# --------------------------------------------------------------------------
# Exceptions: one class per camb_result
# --------------------------------------------------------------------------


class CambError(Exception):
    """A libcamb call failed.

    ``code`` is the ``camb_result`` value, ``message`` the library's words for it
    (``camb_last_error()``), ``http_status`` the HTTP status of the reply behind
    it, or 0 when there was none.
    """

    code = None  # set on each subclass to the result code it stands for

    def __init__(self, code: int, message: str, http_status: int = 0):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status

    def __str__(self):
        return self.message or f"libcamb result {self.code}"

    def __repr__(self):
        return f"{type(self).__name__}(code={self.code}, message={self.message!r}, http_status={self.http_status})"

    def __reduce__(self):
        return (type(self), (self.code, self.message, self.http_status))


class InvalidArgument(CambError, ValueError):
    """An argument was unusable (CAMB_RESULT_INVALID_PARAMETER, or NULL_PARAMETER)."""

    code = 2


class MissingApiKey(CambError):
    """No API key was given and CAMB_API_KEY is not set."""

    code = 3


class Cancelled(CambError):
    """A CancelToken was cancelled, a callback stopped the operation, or the
    client was closed under an async call."""

    code = 5


class InternalError(CambError):
    """A bug in libcamb was caught at its boundary (CAMB_RESULT_PANIC)."""

    code = 6


class FileError(CambError):
    """A local file could not be created, written or renamed (CAMB_RESULT_IO)."""

    code = 7


class NotReady(CambError):
    """CAMB_RESULT_NOT_READY: a job not finished, or a queue with no event. This
    module reads jobs only once their queue hands them back, so it never raises it."""

    code = 8


class TaskFailed(CambError):
    """A generation's task ended without audio (ERROR, TIMEOUT, PAYMENT_REQUIRED,
    or a status this version does not know); the message says which and why.
    ``status`` is that final status."""

    code = 9
    status = None  # the task's final Status, set by Client.generate and generate_async


class ConnectionFailed(CambError):
    """The connection failed, or broke before a complete reply arrived."""

    code = 100


class Timeout(CambError):
    """The call's timeout, or a wait's deadline, passed."""

    code = 101


class BadResponse(CambError):
    """The reply was malformed, oversized, or not what the API documents."""

    code = 102


class HttpError(CambError):
    """A non-2xx HTTP status without a class of its own; see ``http_status``."""

    code = 103


class Unauthorized(CambError):
    """HTTP 401: the API key is missing or not valid."""

    code = 401


class PaymentRequired(CambError):
    """HTTP 402: the account has no credits left."""

    code = 402


class Forbidden(CambError):
    """HTTP 403: the key may not do this."""

    code = 403


class NotFound(CambError):
    """HTTP 404: no such task or run."""

    code = 404


class ValidationError(CambError, ValueError):
    """HTTP 422: the server rejected the request's parameters."""

    code = 422


class RateLimited(CambError):
    """HTTP 429: too many requests (after libcamb's retries)."""

    code = 429


class ServerError(CambError):
    """HTTP 5xx: the server failed (after libcamb's retries)."""

    code = 500


_NULL_PARAMETER = 1

# camb_result -> exception class. A code this module does not know raises CambError.
_ERRORS = {cls.code: cls for cls in CambError.__subclasses__()}
_ERRORS[_NULL_PARAMETER] = InvalidArgument  # the module never passes NULL; a bug if seen


def error_for(code: int, message: str, http_status: int = 0) -> CambError:
    """The exception for a ``camb_result`` value (CambError itself for unknown codes)."""
    return _ERRORS.get(code, CambError)(code, message, http_status)


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------


class Status(enum.IntEnum):
    """A task's status (``CAMB_STATUS_*``). Every status but PENDING is final."""

    UNKNOWN = 0  # a status this version does not know; see TaskInfo.status_text
    PENDING = 1
    SUCCESS = 2
    TIMEOUT = 3
    ERROR = 4
    PAYMENT_REQUIRED = 5

    @property
    def is_final(self) -> bool:
        return self is not Status.PENDING

    @classmethod
    def _from_c(cls, value: int) -> "Status":
        try:
            return cls(value)
        except ValueError:  # a value a newer libcamb added: final, like UNKNOWN
            return cls.UNKNOWN


class AudioType(enum.IntEnum):
    """What to generate (``CAMB_AUDIO_TYPE_*``)."""

    DEFAULT = 0  # the server chooses (sound)
    SOUND = 1  # at most 10 seconds
    MUSIC = 2


class LogLevel(enum.IntEnum):
    """How much a ``log`` callable is told (``CAMB_LOG_LEVEL_*``), from the least
    to the most; each level includes the ones before it. ``str()`` gives the
    name in lower case ("debug"), the spelling ``log_level`` also takes."""

    ERROR = 1  # a call failed for good ("given up", and why)
    WARN = 2  # a retry was scheduled (why, and the wait)
    INFO = 3  # a reply with an error status; a job finished, failed or was cancelled
    DEBUG = 4  # every request sent, every reply (status, time, connection), every job step

    def __str__(self):
        return self.name.lower()

    def __format__(self, spec):
        return format(str(self), spec)

    @classmethod
    def _parse(cls, value) -> "LogLevel":
        """A LogLevel from itself, its value or its name ("debug", any case;
        "warning" for WARN too); InvalidArgument for anything else."""
        if isinstance(value, bool):
            raise TypeError("log_level must be a camb.LogLevel, a name such as \"debug\", or 1 to 4, not bool")
        if isinstance(value, str):
            name = value.strip().upper()
            member = cls.__members__.get("WARN" if name == "WARNING" else name)
            if member is not None:
                return member
        elif isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                pass
        else:
            raise TypeError(f"log_level must be a camb.LogLevel, a name or an int, not {type(value).__name__}")
        raise InvalidArgument(2, f"log_level {value!r} is not one of error, warn, info, debug (1 to 4)")

    @classmethod
    def _from_c(cls, value: int) -> Union["LogLevel", int]:
        try:
            return cls(value)
        except ValueError:  # a level a newer libcamb added: passed on as its number
            return value


@dataclass(frozen=True)
class TaskInfo:
    """A task's status as the server reported it."""

    status: Status
    status_text: str  # exactly as sent, e.g. "SUCCESS" or an unknown "QUEUED_FOR_GPU"
    run_id: Optional[int]  # None while pending, or when the server sent none
    exception_reason: Optional[str] = None  # e.g. "PROCESSING_ERROR"
    message: Optional[str] = None  # the server's text (an object's compact JSON)

    @property
    def is_final(self) -> bool:
        return self.status.is_final


@dataclass(frozen=True)
class TaskResult:
    """One task of :meth:`Client.get_task_statuses`: either its status (``info``)
    or why it has none (``error``, a :class:`CambError` with its own code, message
    and HTTP status). Exactly one of the two is set."""

    task_id: str  # as asked for
    info: Optional[TaskInfo] = None
    error: Optional[CambError] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> TaskInfo:
        """The status, or the task's own error raised."""
        if self.error is not None:
            raise self.error
        return self.info


@dataclass(frozen=True)
class Progress:
    """What ``on_progress`` is told after every poll of :meth:`Client.wait_for_task`
    and :meth:`Client.generate`."""

    polls: int  # polls so far, this one included
    elapsed_ms: int  # since the wait began
    poll_result: int  # 0 when this poll got a status; else the transient failure's code
    status: Optional[Status]  # None when this poll failed
    status_text: Optional[str]
    error_message: Optional[str]  # the transient failure in words, when the poll failed
    status_changed: bool  # differs from the previous poll's (always on the first)
    done: bool  # this poll ended the wait
    next_poll_in_ms: int  # 0 when done

    @property
    def poll_failed(self) -> bool:
        return self.poll_result != 0


@dataclass(frozen=True)
class JobProgress:
    """What ``on_progress`` is told by :meth:`Client.wait_for_task_async` and
    :meth:`Client.generate_async`: read from the running job (its polls and its
    task's last status) by a timer of the event loop, whenever the number of
    polls has changed (so several polls between two readings are told once),
    and once more from the finished job."""

    polls: int  # polls of the task's status so far
    status: Optional[Status]  # the last status a poll saw; None before the first
    elapsed_ms: int  # since the call began


@dataclass(frozen=True)
class Generation:
    """What :meth:`Client.generate` (or ``generate_async``) made: the task, its
    final status, the WAV file."""

    task_id: str
    info: TaskInfo  # status SUCCESS, with its run_id
    path: str  # the file written, as given
    size: int  # its size in bytes


# --------------------------------------------------------------------------
# The C side: structures, callback types, declarations
# --------------------------------------------------------------------------


class _Opaque(Structure):
    pass


class _ClientStruct(_Opaque):
    pass


class _BuilderStruct(_Opaque):
    pass


class _TokenStruct(_Opaque):
    pass


class _TaskStruct(_Opaque):
    pass


class _TaskListStruct(_Opaque):
    pass


class _AudioUrlListStruct(_Opaque):
    pass


class _JobStruct(_Opaque):
    pass


class _QueueStruct(_Opaque):
    pass


# Strings libcamb hands out are c_void_p + length (they may contain a NUL);
# strings handed to it are c_char_p. The options structures start with
# struct_size, which their _init() function sets: always start from it.
class _CreateOptions(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("duration_s", c_double),
        ("audio_type", c_uint32),
        ("project_name", c_char_p),
        ("project_description", c_char_p),
        ("has_folder_id", c_bool),
        ("folder_id", c_int64),
        ("retry", c_bool),
    ]


class _WaitOptions(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("initial_interval_ms", c_uint64),
        ("backoff_factor", c_double),
        ("max_interval_ms", c_uint64),
        ("deadline_ms", c_uint64),
    ]


class _WaitProgress(Structure):
    _fields_ = [
        ("polls", c_uint32),
        ("elapsed_ms", c_uint64),
        ("poll_result", c_uint32),
        ("status", c_uint32),
        ("status_text", c_void_p),
        ("status_text_len", c_size_t),
        ("error_message", c_void_p),
        ("error_message_len", c_size_t),
        ("status_changed", c_bool),
        ("done", c_bool),
        ("next_poll_in_ms", c_uint64),
        ("http_status", c_uint16),
    ]


_ClientPtr = POINTER(_ClientStruct)
_BuilderPtr = POINTER(_BuilderStruct)
_TokenPtr = POINTER(_TokenStruct)
_TaskPtr = POINTER(_TaskStruct)
_TaskListPtr = POINTER(_TaskListStruct)
_AudioUrlListPtr = POINTER(_AudioUrlListStruct)
_JobPtr = POINTER(_JobStruct)
_QueuePtr = POINTER(_QueueStruct)
_PROGRESS_FN = CFUNCTYPE(c_bool, POINTER(_WaitProgress), c_void_p)
_WRITE_FN = CFUNCTYPE(c_bool, POINTER(c_uint8), c_size_t, c_void_p)
# camb_log_fn: (level, line, its length, user_data). The line is read by its length.
_LOG_FN = CFUNCTYPE(None, c_uint32, c_void_p, c_size_t, c_void_p)
# camb_finalizer_fn: libcamb will not call the log function again.
_FINALIZER_FN = CFUNCTYPE(None, c_void_p)
_NO_PROGRESS = _PROGRESS_FN()

_EVENT_JOB_DONE = 1  # CAMB_EVENT_JOB_DONE; JOB_DATA (2) is reserved for streaming
_MAX_URLS_PER_CALL = 1000  # camb_client_get_audio_urls' limit
_LIBRARY_SERIES = (0, 3)  # the ABI this module is written for: libcamb 0.3.x
_INT64 = (-(2**63), 2**63 - 1)

_result = c_uint32
_enum = c_uint32  # camb_status, camb_event, camb_job_kind, camb_job_state

# Each C type camb.h spells, as ctypes declares it. A spelling missing here
# fails the import with its name (camb.h gained a type this module must learn).
_C_TYPES = {
    "void": None,
    "bool": c_bool,
    "uint16_t": c_uint16,
    "uint32_t": c_uint32,
    "uint64_t": c_uint64,
    "int64_t": c_int64,
    "size_t": c_size_t,
    # A descriptor on Unix, a SOCKET on Windows: pointer-sized and signed.
    "ptrdiff_t": c_ssize_t,
    "void *": c_void_p,
    "camb_result": _result,
    "camb_status": _enum,
    "camb_job_kind": _enum,
    "camb_job_state": _enum,
    "camb_event *": POINTER(_enum),
    "const char *": c_char_p,
    # Strings handed over through a char **: c_void_p, freed with camb_string_free.
    "char *": c_void_p,
    "char **": POINTER(c_void_p),
    "uint64_t *": POINTER(c_uint64),
    "size_t *": POINTER(c_size_t),
    "int64_t *": POINTER(c_int64),
    "const int64_t *": POINTER(c_int64),
    "const uint8_t *": POINTER(c_uint8),
    "const char *const *": POINTER(c_char_p),
    "struct camb_client_builder *": _BuilderPtr,
    "struct camb_client *": _ClientPtr,
    "const struct camb_client *": _ClientPtr,
    "struct camb_client **": POINTER(_ClientPtr),
    "struct camb_task *": _TaskPtr,
    "const struct camb_task *": _TaskPtr,
    "struct camb_task **": POINTER(_TaskPtr),
    "const struct camb_task_list *": _TaskListPtr,
    "struct camb_task_list *": _TaskListPtr,
    "struct camb_task_list **": POINTER(_TaskListPtr),
    "const struct camb_audio_url_list *": _AudioUrlListPtr,
    "struct camb_audio_url_list *": _AudioUrlListPtr,
    "struct camb_audio_url_list **": POINTER(_AudioUrlListPtr),
    "struct camb_cancel_token *": _TokenPtr,
    "const struct camb_cancel_token *": _TokenPtr,
    "struct camb_create_options *": POINTER(_CreateOptions),
    "const struct camb_create_options *": POINTER(_CreateOptions),
    "struct camb_wait_options *": POINTER(_WaitOptions),
    "const struct camb_wait_options *": POINTER(_WaitOptions),
    "struct camb_job *": _JobPtr,
    "const struct camb_job *": _JobPtr,
    "struct camb_job **": POINTER(_JobPtr),
    "struct camb_queue *": _QueuePtr,
    "const struct camb_queue *": _QueuePtr,
    "struct camb_queue **": POINTER(_QueuePtr),
    "camb_progress_fn": _PROGRESS_FN,
    "camb_write_fn": _WRITE_FN,
    "camb_log_fn": _LOG_FN,
    "camb_finalizer_fn": _FINALIZER_FN,
}

# BEGIN camb.h's prototypes: written by scripts/python_abi.py, do not edit.
_PROTOTYPES = {
    "camb_version": ("const char *", []),
    "camb_result_name": ("const char *", ["uint32_t"]),
    "camb_status_name": ("const char *", ["uint32_t"]),
    "camb_status_is_final": ("bool", ["uint32_t"]),
    "camb_last_error": ("const char *", []),
    "camb_last_http_status": ("uint16_t", []),
    "camb_string_free": ("void", ["char *"]),
    "camb_client_builder_new": ("struct camb_client_builder *", []),
    "camb_client_builder_set_api_key": ("camb_result", ["struct camb_client_builder *", "const char *"]),
    "camb_client_builder_set_base_url": ("camb_result", ["struct camb_client_builder *", "const char *"]),
    "camb_client_builder_set_timeout_ms": ("camb_result", ["struct camb_client_builder *", "uint64_t"]),
    "camb_client_builder_set_job_threads": ("camb_result", ["struct camb_client_builder *", "uint32_t"]),
    "camb_client_builder_set_log": ("camb_result", ["struct camb_client_builder *", "uint32_t", "camb_log_fn", "void *", "camb_finalizer_fn"]),
    "camb_client_builder_add_header": ("camb_result", ["struct camb_client_builder *", "const char *", "const char *", "bool"]),
    "camb_client_builder_set_max_retries": ("camb_result", ["struct camb_client_builder *", "uint32_t"]),
    "camb_client_builder_set_allow_insecure_http": ("camb_result", ["struct camb_client_builder *", "bool"]),
    "camb_client_builder_set_ca_bundle_file": ("camb_result", ["struct camb_client_builder *", "const char *"]),
    "camb_client_builder_set_ca_bundle_pem": ("camb_result", ["struct camb_client_builder *", "const uint8_t *", "size_t"]),
    "camb_client_builder_set_proxy": ("camb_result", ["struct camb_client_builder *", "const char *"]),
    "camb_client_builder_build": ("camb_result", ["struct camb_client_builder *", "struct camb_client **"]),
    "camb_client_builder_free": ("void", ["struct camb_client_builder *"]),
    "camb_client_new": ("camb_result", ["const char *", "struct camb_client **"]),
    "camb_client_free": ("void", ["struct camb_client *"]),
    "camb_client_get_task_status": ("camb_result", ["const struct camb_client *", "const char *", "const struct camb_cancel_token *", "struct camb_task **"]),
    "camb_task_result": ("camb_result", ["const struct camb_task *"]),
    "camb_task_error": ("const char *", ["const struct camb_task *", "size_t *"]),
    "camb_task_http_status": ("uint16_t", ["const struct camb_task *"]),
    "camb_task_id": ("const char *", ["const struct camb_task *", "size_t *"]),
    "camb_task_status": ("camb_status", ["const struct camb_task *"]),
    "camb_task_status_text": ("const char *", ["const struct camb_task *", "size_t *"]),
    "camb_task_run_id": ("bool", ["const struct camb_task *", "int64_t *"]),
    "camb_task_exception_reason": ("const char *", ["const struct camb_task *", "size_t *"]),
    "camb_task_message": ("const char *", ["const struct camb_task *", "size_t *"]),
    "camb_task_free": ("void", ["struct camb_task *"]),
    "camb_task_list_len": ("size_t", ["const struct camb_task_list *"]),
    "camb_task_list_get": ("const struct camb_task *", ["const struct camb_task_list *", "size_t"]),
    "camb_task_list_free": ("void", ["struct camb_task_list *"]),
    "camb_create_options_init": ("camb_result", ["struct camb_create_options *", "size_t"]),
    "camb_client_create_task": ("camb_result", ["const struct camb_client *", "const char *", "const struct camb_create_options *", "const struct camb_cancel_token *", "char **", "size_t *"]),
    "camb_wait_options_init": ("camb_result", ["struct camb_wait_options *", "size_t"]),
    "camb_client_wait_for_task": ("camb_result", ["const struct camb_client *", "const char *", "const struct camb_wait_options *", "const struct camb_cancel_token *", "camb_progress_fn", "void *", "struct camb_task **"]),
    "camb_client_download_audio": ("camb_result", ["const struct camb_client *", "int64_t", "const struct camb_cancel_token *", "camb_write_fn", "void *", "uint64_t *"]),
    "camb_client_save_audio": ("camb_result", ["const struct camb_client *", "int64_t", "const char *", "const struct camb_cancel_token *", "uint64_t *"]),
    "camb_client_get_audio_url": ("camb_result", ["const struct camb_client *", "int64_t", "const struct camb_cancel_token *", "char **", "size_t *"]),
    "camb_client_get_audio_urls": ("camb_result", ["const struct camb_client *", "const int64_t *", "size_t", "const struct camb_cancel_token *", "struct camb_audio_url_list **"]),
    "camb_audio_url_list_len": ("size_t", ["const struct camb_audio_url_list *"]),
    "camb_audio_url_list_get": ("const char *", ["const struct camb_audio_url_list *", "size_t", "int64_t *", "size_t *"]),
    "camb_audio_url_list_free": ("void", ["struct camb_audio_url_list *"]),
    "camb_client_get_task_statuses": ("camb_result", ["const struct camb_client *", "const char *const *", "size_t", "uint32_t", "const struct camb_cancel_token *", "struct camb_task_list **"]),
    "camb_client_generate": ("camb_result", ["const struct camb_client *", "const char *", "const struct camb_create_options *", "const struct camb_wait_options *", "const char *", "const struct camb_cancel_token *", "camb_progress_fn", "void *", "struct camb_task **", "uint64_t *"]),
    "camb_client_job_get_task_status": ("camb_result", ["const struct camb_client *", "const char *", "struct camb_job **"]),
    "camb_client_job_create_task": ("camb_result", ["const struct camb_client *", "const char *", "const struct camb_create_options *", "struct camb_job **"]),
    "camb_client_job_wait_for_task": ("camb_result", ["const struct camb_client *", "const char *", "const struct camb_wait_options *", "struct camb_job **"]),
    "camb_client_job_download_audio": ("camb_result", ["const struct camb_client *", "int64_t", "struct camb_job **"]),
    "camb_client_job_save_audio": ("camb_result", ["const struct camb_client *", "int64_t", "const char *", "struct camb_job **"]),
    "camb_client_job_get_audio_url": ("camb_result", ["const struct camb_client *", "int64_t", "struct camb_job **"]),
    "camb_client_job_get_audio_urls": ("camb_result", ["const struct camb_client *", "const int64_t *", "size_t", "struct camb_job **"]),
    "camb_client_job_get_task_statuses": ("camb_result", ["const struct camb_client *", "const char *const *", "size_t", "uint32_t", "struct camb_job **"]),
    "camb_client_job_generate": ("camb_result", ["const struct camb_client *", "const char *", "const struct camb_create_options *", "const struct camb_wait_options *", "const char *", "struct camb_job **"]),
    "camb_job_submit": ("camb_result", ["struct camb_job *", "struct camb_queue *", "void *"]),
    "camb_job_get_kind": ("camb_job_kind", ["const struct camb_job *"]),
    "camb_job_get_state": ("camb_job_state", ["const struct camb_job *"]),
    "camb_job_result": ("camb_result", ["const struct camb_job *"]),
    "camb_job_error": ("const char *", ["const struct camb_job *", "size_t *"]),
    "camb_job_http_status": ("uint16_t", ["const struct camb_job *"]),
    "camb_job_task": ("const struct camb_task *", ["const struct camb_job *"]),
    "camb_job_task_list": ("const struct camb_task_list *", ["const struct camb_job *"]),
    "camb_job_task_id": ("const char *", ["const struct camb_job *", "size_t *"]),
    "camb_job_bytes": ("uint64_t", ["const struct camb_job *"]),
    "camb_job_audio": ("const uint8_t *", ["const struct camb_job *", "size_t *"]),
    "camb_job_audio_url": ("const char *", ["const struct camb_job *", "size_t *"]),
    "camb_job_audio_url_list": ("const struct camb_audio_url_list *", ["const struct camb_job *"]),
    "camb_job_polls": ("uint32_t", ["const struct camb_job *"]),
    "camb_job_task_status": ("camb_status", ["const struct camb_job *"]),
    "camb_job_user_data": ("void *", ["const struct camb_job *"]),
    "camb_job_cancel": ("camb_result", ["const struct camb_job *"]),
    "camb_job_free": ("void", ["struct camb_job *"]),
    "camb_queue_new": ("camb_result", ["struct camb_queue **"]),
    "camb_queue_fd": ("ptrdiff_t", ["const struct camb_queue *"]),
    "camb_queue_pop": ("camb_result", ["const struct camb_queue *", "camb_event *", "struct camb_job **"]),
    "camb_queue_wait": ("camb_result", ["const struct camb_queue *", "uint32_t", "camb_event *", "struct camb_job **"]),
    "camb_queue_free": ("void", ["struct camb_queue *"]),
    "camb_cancel_token_new": ("struct camb_cancel_token *", []),
    "camb_cancel_token_cancel": ("camb_result", ["const struct camb_cancel_token *"]),
    "camb_cancel_token_reset": ("camb_result", ["const struct camb_cancel_token *"]),
    "camb_cancel_token_is_cancelled": ("bool", ["const struct camb_cancel_token *"]),
    "camb_cancel_token_free": ("void", ["struct camb_cancel_token *"]),
}
# END camb.h's prototypes

def _signature(returned, params):
    """(restype, argtypes) of a prototype. Text or bytes returned with its
    length (a last `size_t *` parameter) belongs to an object and may hold a
    NUL: c_void_p, read by the length. Other returned text is static or per
    thread: c_char_p."""
    try:
        argtypes = [_C_TYPES[spelling] for spelling in params]
        restype = _C_TYPES[returned]
    except KeyError as unknown:
        raise ImportError(f"camb.py: camb.h spells a type this module does not map: {unknown}") from None
    if returned in ("const char *", "const uint8_t *") and params and params[-1] == "size_t *":
        restype = c_void_p
    return restype, argtypes


_SIGNATURES = {name: _signature(*prototype) for name, prototype in _PROTOTYPES.items()}

_libraries = {}
_libraries_lock = threading.Lock()


def load(path: Optional[Union[str, os.PathLike]] = None) -> ctypes.CDLL:
    """Loads libcamb once (per path) with every function declared.

    The library is the file named by the environment variable ``CAMB_LIB`` if it
    is set, else ``path``, else what ``ctypes.util.find_library("camb")`` finds.
    Raises OSError when there is none, when it lacks a function this module
    declares (an older libcamb), or when it is not a 0.3.x libcamb (the ABI this
    module's structures mirror).
    """
    name = os.environ.get("CAMB_LIB") or (os.fspath(path) if path is not None else None)
    if not name:
        name = ctypes.util.find_library("camb")
        if name is None:
            raise OSError("libcamb not found: set CAMB_LIB to the path of libcamb.so, or pass its path")
    with _libraries_lock:
        lib = _libraries.get(name)
        if lib is None:
            lib = ctypes.CDLL(name)
            for function, (restype, argtypes) in _SIGNATURES.items():
                try:
                    declared = getattr(lib, function)
                except AttributeError:
                    raise OSError(f"{name} has no {function}(): is it an older libcamb?") from None
                declared.restype = restype
                declared.argtypes = argtypes
            _check_library(lib, name)
            _libraries[name] = lib
        return lib


def _check_library(lib, name) -> None:
    """Refuses a libcamb whose ABI differs from the one this module mirrors."""
    version = lib.camb_version().decode("ascii", "replace")
    series = tuple(int(part) if part.isdigit() else -1 for part in version.split(".")[:2])
    if series != _LIBRARY_SERIES:
        wanted = ".".join(map(str, _LIBRARY_SERIES))
        raise OSError(f"{name} is libcamb {version}; this module is written for libcamb {wanted}.x")
    # This module's mirrors of the options structures must be the size libcamb
    # knows: a larger one (from a newer camb.h than the library) is refused by
    # _init, a smaller one would leave libcamb's newer fields at their defaults.
    for init, mirror in (
        (lib.camb_create_options_init, _CreateOptions),
        (lib.camb_wait_options_init, _WaitOptions),
    ):
        if init(ctypes.byref(mirror()), ctypes.sizeof(mirror)) != 0:
            raise OSError(
                f"{name}: {init.__name__}() refuses this module's {ctypes.sizeof(mirror)}-byte "
                f"{mirror.__name__}: " + lib.camb_last_error().decode("utf-8", "replace")
            )


def _options_default(lib, mirror, init):
    """Options with libcamb's defaults and struct_size set to this module's size:
    what camb.h's static inline _default() does for C."""
    options = mirror()
    _check(lib, init(ctypes.byref(options), ctypes.sizeof(options)))
    return options


def library_version(path=None) -> str:
    """The version of the libcamb that is loaded, such as "0.3.0"."""
    return load(path).camb_version().decode()


def _last_error(lib, code: int) -> CambError:
    """The exception for a failed call, in this thread's camb_last_error() words:
    made right after the C call, on the same thread."""
    message = lib.camb_last_error().decode("utf-8", "replace")
    return error_for(code, message, lib.camb_last_http_status())


def _check(lib, code: int) -> None:
    """Raises the exception for a failed call (see _last_error)."""
    if code != 0:
        raise _last_error(lib, code)


def _text(ptr, length) -> Optional[str]:
    """A pointer + length string from libcamb (valid only now), or None for NULL."""
    if not ptr:
        return None
    return ctypes.string_at(ptr, length).decode("utf-8", "replace")


def _c_string(value, what: str) -> bytes:
    """str (UTF-8) or bytes, refused with InvalidArgument if it holds a NUL."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        value = bytes(value)
    else:
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if b"\0" in value:
        raise InvalidArgument(2, f"{what} contains a NUL character")
    return value


def _run_id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"run_id must be an int, not {type(value).__name__}")
    if not _INT64[0] <= value <= _INT64[1]:
        raise InvalidArgument(2, f"run_id {value} does not fit in 64 bits")
    return value


def _task_text(accessor, task) -> Optional[str]:
    """One string of a camb_task through its accessor, read by its length (it may
    hold a NUL), or None when the accessor returns NULL."""
    length = c_size_t(0)
    ptr = accessor(task, byref(length))
    return _text(ptr, length.value)


def _task_info(lib, task) -> TaskInfo:
    """A camb_task that has a status (camb_task_result() is OK), copied out.
    The task stays its owner's to free."""
    run_id = c_int64(0)
    has_run_id = lib.camb_task_run_id(task, byref(run_id))
    return TaskInfo(
        status=Status._from_c(lib.camb_task_status(task)),
        status_text=_task_text(lib.camb_task_status_text, task) or "",
        run_id=run_id.value if has_run_id else None,
        exception_reason=_task_text(lib.camb_task_exception_reason, task),
        message=_task_text(lib.camb_task_message, task),
    )


def _task_result(lib, task, task_id: str) -> TaskResult:
    """A camb_task of a batch, copied out: its status, or its own error."""
    code = lib.camb_task_result(task)
    if code == 0:
        return TaskResult(task_id=task_id, info=_task_info(lib, task))
    message = _task_text(lib.camb_task_error, task) or ""
    return TaskResult(task_id=task_id, error=error_for(code, message, lib.camb_task_http_status(task)))


def _url_list(lib, url_list, into: Dict[int, Optional[str]]) -> None:
    """The entries of a camb_audio_url_list, copied into ``into`` (not freed here)."""
    for i in range(lib.camb_audio_url_list_len(url_list)):
        run_id = c_int64(0)
        length = c_size_t(0)
        ptr = lib.camb_audio_url_list_get(url_list, i, byref(run_id), byref(length))
        into[run_id.value] = _text(ptr, length.value)


def _progress(p: _WaitProgress) -> Progress:
    ok = p.poll_result == 0
    return Progress(
        polls=p.polls,
        elapsed_ms=p.elapsed_ms,
        poll_result=p.poll_result,
        status=Status._from_c(p.status) if ok else None,
        status_text=_text(p.status_text, p.status_text_len),
        error_message=_text(p.error_message, p.error_message_len),
        status_changed=p.status_changed,
        done=p.done,
        next_poll_in_ms=p.next_poll_in_ms,
    )


class _ProgressThunk:
    """A camb_progress_fn for one blocking call, alive as long as this object
    (hold it until the C call returns). It tells ``on_progress`` of each poll,
    keeps the last status seen, and keeps an exception raised there for the
    call to raise once libcamb has returned: nothing may unwind into C."""

    def __init__(self, on_progress):
        if on_progress is not None and not callable(on_progress):
            raise TypeError("on_progress must be callable")
        self.on_progress = on_progress
        self.raised = None
        self.status = None  # the last Status a poll saw
        self.c_function = _PROGRESS_FN(self._call)

    def _call(self, progress_ptr, _user_data):
        try:
            progress = _progress(progress_ptr.contents)
            if progress.status is not None:
                self.status = progress.status
            return self.on_progress is None or self.on_progress(progress) is not False
        except BaseException as e:  # noqa: BLE001 - raised by the call, once it returns
            self.raised = e
            return False

    def raise_if_raised(self) -> None:
        if self.raised is not None:
            raise self.raised


# A Ctrl-C caught in a log callable on the main thread, raised when the
# libcamb call that logged returns.
_held_interrupt = False


def _on_main_thread() -> bool:
    # Not threading.current_thread(), which makes a _DummyThread object for each
    # libcamb thread that calls into Python.
    return threading.get_ident() == threading.main_thread().ident


def _raise_held_interrupt() -> None:
    global _held_interrupt
    if _held_interrupt and _on_main_thread():
        _held_interrupt = False
        raise KeyboardInterrupt


class _Handle:
    """A C handle freed exactly once, and never while a call is using it.

    Each call holds it through ``use()``; ``close()`` frees it at once when no call
    is in flight, else the last call to finish frees it. So closing a client while
    another thread still waits on it is safe (the wait finishes first).
    """

    def __init__(self, ptr, free, what):
        self._ptr = ptr
        self._free = free
        self._what = what
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @contextlib.contextmanager
    def use(self):
        with self._lock:
            if self._closed:
                raise ValueError(f"the {self._what} is closed")
            self._users += 1
        try:
            yield self._ptr
        finally:
            with self._lock:
                self._users -= 1
                ptr = self._take_if_unused()
            if ptr is not None:
                self._free(ptr)
            _raise_held_interrupt()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ptr = self._take_if_unused()
        if ptr is not None:
            self._free(ptr)

    def _take_if_unused(self):
        # Called with the lock held: hands the pointer over exactly once.
        if self._closed and self._users == 0 and self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            return ptr
        return None


# --------------------------------------------------------------------------
# The public classes
# --------------------------------------------------------------------------


class CancelToken:
    """Stops the blocking calls it is passed to (``cancel=``); ``cancel()`` works
    from any thread and wakes a sleeping wait at once. Stays cancelled until
    ``reset()``. (An async call is cancelled by cancelling its asyncio task.)

    Use it as a context manager, or call ``close()``; it is freed only once no
    call is using it any more.
    """

    def __init__(self, library=None):
        self._lib = load(library)
        ptr = self._lib.camb_cancel_token_new()
        if not ptr:
            raise MemoryError("camb_cancel_token_new returned NULL")
        self._handle = _Handle(ptr, self._lib.camb_cancel_token_free, "CancelToken")

    def cancel(self) -> None:
        with self._handle.use() as ptr:
            _check(self._lib, self._lib.camb_cancel_token_cancel(ptr))

    def reset(self) -> None:
        with self._handle.use() as ptr:
            _check(self._lib, self._lib.camb_cancel_token_reset(ptr))

    @property
    def cancelled(self) -> bool:
        with self._handle.use() as ptr:
            return bool(self._lib.camb_cancel_token_is_cancelled(ptr))

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        # A fallback for a forgotten close(); also runs when __init__ failed early.
        try:
            self._handle.close()
        except Exception:  # noqa: BLE001 - nothing to report to from __del__
            pass

    def __repr__(self):
        state = "closed" if self.closed else ("cancelled" if self.cancelled else "not cancelled")
        return f"<camb.CancelToken {state}>"


def _token_use(token: Optional[CancelToken]):
    """A context giving the token's pointer (None for no token), held for a call."""
    if token is None:
        return contextlib.nullcontext(None)
    if not isinstance(token, CancelToken):
        raise TypeError(f"cancel must be a camb.CancelToken, not {type(token).__name__}")
    return token._handle.use()


# --------------------------------------------------------------------------
# The log callable and headers of the caller's own
# --------------------------------------------------------------------------


# Set while this thread runs a log callable: a Client collected then (by the
# garbage collector, on a libcamb thread) must not be freed there, as
# camb_client_free waits for the client's threads.
_in_log_line = threading.local()


def _close_elsewhere(handle, log_hook) -> None:
    """Frees a client on a thread of its own, its log hook alive until then."""
    handle.close()
    del log_hook


class _LogHook:
    """A client's log callable and the two C functions libcamb is given for it:
    the line, called on whatever thread logs (the caller's during a blocking
    call, a pool thread for a job), and the finalizer, called once when libcamb
    will call neither again (in camb_client_free, or when the build fails).

    The Client holds it for its whole life, so the C thunks outlive every call
    libcamb makes to them; the finalizer lets go of the callable.
    """

    __slots__ = ("callback", "finalized", "c_line", "c_finalizer", "_lock", "_warned")

    def __init__(self, callback):
        self.callback = callback
        self.finalized = 0  # how many times libcamb called the finalizer
        self._lock = threading.Lock()
        self._warned = False
        self.c_line = _LOG_FN(self._line)
        self.c_finalizer = _FINALIZER_FN(self._finalize)

    def _line(self, level, line, length, _user_data) -> None:
        # Runs under ctypes' thunk, which takes the GIL. Nothing may escape into
        # C (ctypes would print it and go on): the callable's exception is
        # handled here, never re-raised into the call that logged. A log line
        # that failed must not turn a call that worked (a task created and
        # billed) into an exception, and a job's lines have no caller to raise to.
        callback = self.callback
        if callback is None:
            return
        _in_log_line.active = True
        try:
            callback(LogLevel._from_c(level), _text(line, length) or "")
        except BaseException as e:  # noqa: BLE001 - reported below
            self._failed(e)
        finally:
            _in_log_line.active = False

    def _finalize(self, _user_data) -> None:
        # Only the callable goes: its thunks stay with the Client, since this
        # very call runs in one of them.
        self.finalized += 1
        self.callback = None

    def _failed(self, error) -> None:
        global _held_interrupt
        try:
            if isinstance(error, KeyboardInterrupt) and _on_main_thread():
                # Ctrl-C reached Python inside the callable, the first Python code
                # the main thread ran since it was pressed. Not lost: raised once
                # the libcamb call returns (_Handle.use). Raising it again here
                # (signal, interrupt_main) would only land inside this callback.
                _held_interrupt = True
                return
            with self._lock:
                first, self._warned = not self._warned, True
            if first:
                warnings.warn(
                    f"camb: the log callable raised {error!r}; the line was dropped, and this client "
                    "ignores this and any later exception from it",
                    RuntimeWarning,
                    stacklevel=2,
                )
        except BaseException:  # noqa: BLE001 - e.g. warnings turned into errors: nowhere to go
            pass


def _header_pairs(given, what: str):
    """[(name, value)] as bytes from a mapping of header names to values (str or
    bytes). The value's words never quote it: it may be secret."""
    if given is None:
        return []
    if not isinstance(given, Mapping):
        raise TypeError(f"{what} must be a mapping of header names to values, not {type(given).__name__}")
    return [
        (_c_string(name, f"the header name {name!r}"), _c_string(value, f"the value of the header {name}"))
        for name, value in given.items()
    ]


class Client:
    """A client for the CAMB text-to-sound API.

    ``api_key`` defaults to the environment variable ``CAMB_API_KEY``;
    ``base_url`` to ``https://client.camb.ai/apis``; ``timeout_ms`` (default 60000)
    bounds each whole call, retries included; ``max_retries`` (default 2) applies
    to idempotent calls. Thread-safe: share one client between threads.
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
        ca_bundle_file: Optional[Union[str, os.PathLike]] = None,
        ca_bundle_pem: Optional[bytes] = None,
        job_threads: Optional[int] = None,
        log: Optional[Callable[[LogLevel, str], object]] = None,
        log_level: Optional[Union[LogLevel, str, int]] = None,
        headers: Optional[Mapping] = None,
        secret_headers: Optional[Mapping] = None,
        library: Optional[Union[str, os.PathLike]] = None,
    ):
        self._log_hook = None
        if log is not None:
            if not callable(log):
                raise TypeError(f"log must be callable as log(level, line), not {type(log).__name__}")
            level = LogLevel._parse(LogLevel.INFO if log_level is None else log_level)
        elif log_level is not None:
            raise TypeError("log_level is how much log is told: pass log too (or set CAMB_LOG for stderr)")
        self._lib = lib = load(library)
        builder = lib.camb_client_builder_new()
        if not builder:
            raise MemoryError("camb_client_builder_new returned NULL")
        built = False
        try:
            if api_key is not None:
                _check(lib, lib.camb_client_builder_set_api_key(builder, _c_string(api_key, "api_key")))
            if base_url is not None:
                _check(lib, lib.camb_client_builder_set_base_url(builder, _c_string(base_url, "base_url")))
            if timeout_ms is not None:
                _check(lib, lib.camb_client_builder_set_timeout_ms(builder, _unsigned(timeout_ms, "timeout_ms", 64)))
            if max_retries is not None:
                _check(lib, lib.camb_client_builder_set_max_retries(builder, _unsigned(max_retries, "max_retries", 32)))
            if allow_insecure_http:
                _check(lib, lib.camb_client_builder_set_allow_insecure_http(builder, True))
            if job_threads is not None:
                threads = _unsigned(job_threads, "job_threads", 32)
                _check(lib, lib.camb_client_builder_set_job_threads(builder, threads))
            if proxy is not None:
                _check(lib, lib.camb_client_builder_set_proxy(builder, _c_string(proxy, "proxy")))
            if ca_bundle_file is not None:
                path = _c_string(os.fsencode(ca_bundle_file), "ca_bundle_file")
                _check(lib, lib.camb_client_builder_set_ca_bundle_file(builder, path))
            if ca_bundle_pem is not None:
                pem = bytes(ca_bundle_pem)
                buffer = (c_uint8 * len(pem)).from_buffer_copy(pem)
                _check(lib, lib.camb_client_builder_set_ca_bundle_pem(builder, buffer, len(pem)))
            for secret, given, what in ((False, headers, "headers"), (True, secret_headers, "secret_headers")):
                for name, value in _header_pairs(given, what):
                    _check(lib, lib.camb_client_builder_add_header(builder, name, value, secret))
            if log is not None:
                hook = _LogHook(log)
                _check(lib, lib.camb_client_builder_set_log(builder, level, hook.c_line, None, hook.c_finalizer))
                # From here libcamb may call the hook's thunks until its finalizer
                # ran: the client keeps them for its whole life.
                self._log_hook = hook
            client = _ClientPtr()
            built = True  # build consumes the builder whether it succeeds or not
            _check(lib, lib.camb_client_builder_build(builder, byref(client)))
        finally:
            if not built:
                lib.camb_client_builder_free(builder)
        self._handle = _Handle(client, lib.camb_client_free, "Client")

    # -- lifetime --------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        """Frees the client (once; later calls do nothing). A call still running
        on another thread finishes first, and the client is freed after it.
        Async calls still running fail at once with :class:`Cancelled`."""
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        # A fallback for a forgotten close(); also runs when __init__ failed early.
        try:
            if getattr(_in_log_line, "active", False):
                threading.Thread(target=_close_elsewhere, args=(self._handle, self._log_hook), daemon=True).start()
            else:
                self._handle.close()
        except Exception:  # noqa: BLE001 - nothing to report to from __del__
            pass

    def __repr__(self):
        return f"<camb.Client{' closed' if self.closed else ''}>"

    # -- blocking calls --------------------------------------------------
    #
    # Each runs on the calling thread and takes ``cancel``, a CancelToken that
    # another thread may cancel to stop it (a wait's pause at once, a download
    # between chunks, a retry before it is sent).

    def get_task_status(self, task_id: str, cancel: Optional[CancelToken] = None) -> TaskInfo:
        """The task's status now: ``GET /text-to-sound/{task_id}``."""
        lib = self._lib
        task_id = _c_string(task_id, "task_id")
        task = _TaskPtr()
        try:
            with self._handle.use() as client, _token_use(cancel) as token:
                _check(lib, lib.camb_client_get_task_status(client, task_id, token, byref(task)))
            return _task_info(lib, task)
        finally:
            lib.camb_task_free(task)  # NULL (the call failed): nothing to free

    def get_task_statuses(
        self,
        task_ids: Iterable[Union[str, bytes]],
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
        connections = _unsigned(max_connections, "max_connections", 32)
        batch = _Batch(task_ids)
        task_list = _TaskListPtr()
        try:
            with self._handle.use() as client, _token_use(cancel) as token:
                _check(
                    lib,
                    lib.camb_client_get_task_statuses(
                        client, batch.c_ids, batch.count, connections, token, byref(task_list)
                    ),
                )
            return batch.results(lib, task_list)
        finally:
            lib.camb_task_list_free(task_list)

    def create_task(
        self,
        prompt: str,
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
        options = _create_options(lib, duration, audio_type, project_name, project_description, folder_id, retry)
        prompt = _c_string(prompt, "prompt")
        task_id = c_void_p()
        length = c_size_t(0)
        try:
            with self._handle.use() as client, _token_use(cancel) as token:
                _check(
                    lib,
                    lib.camb_client_create_task(client, prompt, byref(options), token, byref(task_id), byref(length)),
                )
            return _text(task_id.value, length.value)
        finally:
            lib.camb_string_free(task_id)  # NULL (the call failed): nothing to free

    def wait_for_task(
        self,
        task_id: str,
        initial_interval_ms: Optional[int] = None,
        backoff_factor: Optional[float] = None,
        max_interval_ms: Optional[int] = None,
        deadline_ms: Optional[int] = None,
        cancel: Optional[CancelToken] = None,
        on_progress: Optional[Callable[[Progress], Optional[bool]]] = None,
    ) -> TaskInfo:
        """Polls until the task's status is final and returns it.

        A final status is returned, not raised: check ``info.status``. Options left
        at None take libcamb's defaults (2000 ms, growing 1.5x up to 15000 ms, for at
        most 600000 ms). Raises Timeout when the deadline passes while the task is
        pending, Cancelled when ``cancel`` is cancelled or ``on_progress`` returns
        False. ``on_progress(progress)`` is called on this thread after every poll;
        an exception it raises stops the wait and is re-raised here.
        """
        lib = self._lib
        task_id = _c_string(task_id, "task_id")
        options = _wait_options(lib, initial_interval_ms, backoff_factor, max_interval_ms, deadline_ms)
        # Held in this frame until the C call returns, so the garbage collector
        # cannot free the thunk while libcamb may call it.
        progress = _ProgressThunk(on_progress) if on_progress is not None else None
        callback = progress.c_function if progress is not None else _NO_PROGRESS
        task = _TaskPtr()
        try:
            with self._handle.use() as client, _token_use(cancel) as token:
                code = lib.camb_client_wait_for_task(client, task_id, byref(options), token, callback, None, byref(task))
                if progress is not None:
                    progress.raise_if_raised()
                _check(lib, code)
            return _task_info(lib, task)
        finally:
            lib.camb_task_free(task)  # NULL unless the wait succeeded

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
        run_id = _run_id(run_id)
        if not callable(write):
            raise TypeError("write must be callable (a function, or a file's write method)")
        raised = []

        def trampoline(data, length, _user_data):
            try:
                return write(ctypes.string_at(data, length)) is not False
            except BaseException as e:  # noqa: BLE001 - re-raised below
                raised.append(e)
                return False

        callback = _WRITE_FN(trampoline)  # alive until the C call returns
        total = c_uint64(0)
        with self._handle.use() as client, _token_use(cancel) as token:
            code = lib.camb_client_download_audio(client, run_id, token, callback, None, byref(total))
            if raised:
                raise raised[0]
            _check(lib, code)
        return total.value

    def save_audio(
        self,
        run_id: int,
        path: Union[str, bytes, os.PathLike],
        cancel: Optional[CancelToken] = None,
    ) -> int:
        """Downloads a successful run's WAV audio into ``path``, following
        symlinks, and returns its size. A regular file (or none) is replaced
        atomically: on any failure no file is left and an existing one is
        untouched. A device or a FIFO is written in place. Raises FileError when
        the file cannot be written, and before downloading for a directory, a
        socket, a symlink loop or a missing directory."""
        lib = self._lib
        run_id = _run_id(run_id)
        path = _c_string(os.fsencode(path), "path")
        total = c_uint64(0)
        with self._handle.use() as client, _token_use(cancel) as token:
            _check(lib, lib.camb_client_save_audio(client, run_id, path, token, byref(total)))
        return total.value

    def get_audio_url(self, run_id: int, cancel: Optional[CancelToken] = None) -> str:
        """A pre-signed URL of a successful run's audio."""
        lib = self._lib
        run_id = _run_id(run_id)
        url = c_void_p()
        length = c_size_t(0)
        try:
            with self._handle.use() as client, _token_use(cancel) as token:
                _check(lib, lib.camb_client_get_audio_url(client, run_id, token, byref(url), byref(length)))
            return _text(url.value, length.value)
        finally:
            lib.camb_string_free(url)  # NULL (the call failed): nothing to free

    def get_audio_urls(
        self, run_ids: Iterable[int], cancel: Optional[CancelToken] = None
    ) -> Dict[int, Optional[str]]:
        """URLs of many runs' audio: ``{run_id: url}``, None for a run the server
        gave none (unknown, or not successful). Any number of ids (sent 1000 per
        request)."""
        lib = self._lib
        ids = [_run_id(r) for r in run_ids]
        urls = {}
        with self._handle.use() as client, _token_use(cancel) as token:
            for start in range(0, len(ids), _MAX_URLS_PER_CALL):
                batch = ids[start : start + _MAX_URLS_PER_CALL]
                c_ids = (c_int64 * len(batch))(*batch)
                url_list = _AudioUrlListPtr()
                try:
                    _check(lib, lib.camb_client_get_audio_urls(client, c_ids, len(batch), token, byref(url_list)))
                    _url_list(lib, url_list, urls)
                finally:
                    lib.camb_audio_url_list_free(url_list)  # NULL (the call failed): nothing to free
        return urls

    def generate(
        self,
        prompt: str,
        path: Union[str, bytes, os.PathLike],
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
        on_progress: Optional[Callable[[Progress], Optional[bool]]] = None,
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
        create = _create_options(lib, duration, audio_type, project_name, project_description, folder_id, retry)
        wait = _wait_options(lib, initial_interval_ms, backoff_factor, max_interval_ms, deadline_ms)
        c_prompt = _c_string(prompt, "prompt")
        c_path = _c_string(os.fsencode(path), "path")
        # Always given, to know the status a failed task ended in: libcamb says it
        # only in words (camb_last_error) and hands over no task then.
        progress = _ProgressThunk(on_progress)
        task = _TaskPtr()
        total = c_uint64(0)
        try:
            with self._handle.use() as client, _token_use(cancel) as token:
                code = lib.camb_client_generate(
                    client,
                    c_prompt,
                    byref(create),
                    byref(wait),
                    c_path,
                    token,
                    progress.c_function,
                    None,
                    byref(task),
                    byref(total),
                )
                progress.raise_if_raised()
                if code != 0:
                    error = _last_error(lib, code)
                    if isinstance(error, TaskFailed):
                        error.status = progress.status
                    raise error
            return Generation(
                task_id=_task_text(lib.camb_task_id, task) or "",
                info=_task_info(lib, task),
                path=os.fsdecode(path),
                size=total.value,
            )
        finally:
            lib.camb_task_free(task)  # NULL unless it succeeded

    # -- asyncio ---------------------------------------------------------
    #
    # Each coroutine makes a libcamb job and submits it to the running loop's
    # queue; the job runs on the client's job threads, and the loop watches the
    # queue's readiness descriptor (add_reader), so the loop's own thread takes
    # the finished job, copies its outcome into the awaited future and frees
    # it. No thread is made per call, and no libcamb thread runs Python code
    # for it (but a log callable, for the lines of the job's steps).
    # Cancelling the awaiting task (task.cancel(), asyncio.wait_for's timeout)
    # cancels the job at once, even a wait asleep between polls; the job still
    # comes back through the queue, and is freed there.

    async def get_task_status_async(self, task_id: str) -> TaskInfo:
        """:meth:`get_task_status`, awaited."""
        task_id = _c_string(task_id, "task_id")

        def make(lib, client, out_job):
            return lib.camb_client_job_get_task_status(client, task_id, out_job)

        return await self._run_job(make, _job_task_info)

    async def create_task_async(
        self,
        prompt: str,
        duration: Optional[float] = None,
        audio_type: Optional[Union[AudioType, str]] = None,
        project_name: Optional[str] = None,
        project_description: Optional[str] = None,
        folder_id: Optional[int] = None,
        retry: bool = False,
    ) -> str:
        """:meth:`create_task`, awaited: the new task's id."""
        options = _create_options(self._lib, duration, audio_type, project_name, project_description, folder_id, retry)
        prompt = _c_string(prompt, "prompt")

        def make(lib, client, out_job):
            return lib.camb_client_job_create_task(client, prompt, byref(options), out_job)

        return await self._run_job(make, _job_task_id)

    async def wait_for_task_async(
        self,
        task_id: str,
        initial_interval_ms: Optional[int] = None,
        backoff_factor: Optional[float] = None,
        max_interval_ms: Optional[int] = None,
        deadline_ms: Optional[int] = None,
        on_progress: Optional[Callable[[JobProgress], Any]] = None,
        progress_interval: float = 0.1,
    ) -> TaskInfo:
        """:meth:`wait_for_task`, awaited: polls until the task's status is final,
        and returns it (a final status is returned, not raised). Between polls it
        holds no thread at all.

        ``on_progress(progress)``, a :class:`JobProgress`, is called on the loop's
        thread by a timer that looks at the job every ``progress_interval`` seconds,
        when the poll count has changed, and once more at the end. It may be a
        coroutine function. Returning False stops the wait (Cancelled); an
        exception it raises stops it and is raised here. To stop the wait from
        outside, cancel the awaiting task.
        """
        task_id = _c_string(task_id, "task_id")
        options = _wait_options(self._lib, initial_interval_ms, backoff_factor, max_interval_ms, deadline_ms)

        def make(lib, client, out_job):
            return lib.camb_client_job_wait_for_task(client, task_id, byref(options), out_job)

        return await self._run_job(make, _job_task_info, on_progress, progress_interval)

    async def download_audio_async(self, run_id: int) -> bytes:
        """A successful run's WAV audio, awaited, as bytes (held in memory by
        libcamb until it is copied here)."""
        run_id = _run_id(run_id)

        def make(lib, client, out_job):
            return lib.camb_client_job_download_audio(client, run_id, out_job)

        return await self._run_job(make, _job_audio)

    async def save_audio_async(self, run_id: int, path: Union[str, bytes, os.PathLike]) -> int:
        """:meth:`save_audio`, awaited: the size of the file written."""
        run_id = _run_id(run_id)
        c_path = _c_string(os.fsencode(path), "path")

        def make(lib, client, out_job):
            return lib.camb_client_job_save_audio(client, run_id, c_path, out_job)

        return await self._run_job(make, _job_bytes)

    async def get_audio_url_async(self, run_id: int) -> str:
        """:meth:`get_audio_url`, awaited."""
        run_id = _run_id(run_id)

        def make(lib, client, out_job):
            return lib.camb_client_job_get_audio_url(client, run_id, out_job)

        return await self._run_job(make, _job_audio_url)

    async def get_audio_urls_async(self, run_ids: Iterable[int]) -> Dict[int, Optional[str]]:
        """:meth:`get_audio_urls`, awaited: one job per 1000 ids, one after another."""
        ids = [_run_id(r) for r in run_ids]
        urls = {}
        for start in range(0, len(ids), _MAX_URLS_PER_CALL):
            batch = ids[start : start + _MAX_URLS_PER_CALL]
            c_ids = (c_int64 * len(batch))(*batch)

            def make(lib, client, out_job, c_ids=c_ids, count=len(batch)):
                return lib.camb_client_job_get_audio_urls(client, c_ids, count, out_job)

            def read(lib, job):
                url_list = lib.camb_job_audio_url_list(job)  # the job's: read, never freed
                if not url_list:
                    raise InternalError(6, "libcamb handed back a successful job without its list")
                part = {}
                _url_list(lib, url_list, part)
                return part

            urls.update(await self._run_job(make, read))
        return urls

    async def get_task_statuses_async(
        self, task_ids: Iterable[Union[str, bytes]], max_connections: int = 0
    ) -> List[TaskResult]:
        """:meth:`get_task_statuses`, awaited: one TaskResult per id, in order."""
        connections = _unsigned(max_connections, "max_connections", 32)
        batch = _Batch(task_ids)

        def make(lib, client, out_job):
            return lib.camb_client_job_get_task_statuses(client, batch.c_ids, batch.count, connections, out_job)

        def read(lib, job):
            # The list belongs to the job: read it, never free it.
            return batch.results(lib, lib.camb_job_task_list(job))

        return await self._run_job(make, read)

    async def generate_async(
        self,
        prompt: str,
        path: Union[str, bytes, os.PathLike],
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
        on_progress: Optional[Callable[[JobProgress], Any]] = None,
        progress_interval: float = 0.1,
    ) -> Generation:
        """:meth:`generate`, awaited, as one job: its ``on_progress`` is that of
        :meth:`wait_for_task_async` (a :class:`JobProgress`). A task that ends
        without audio raises :class:`TaskFailed` with the task's final
        ``status``, and writes no file.
        """
        lib = self._lib
        create = _create_options(lib, duration, audio_type, project_name, project_description, folder_id, retry)
        wait = _wait_options(lib, initial_interval_ms, backoff_factor, max_interval_ms, deadline_ms)
        c_prompt = _c_string(prompt, "prompt")
        given_path = path
        c_path = _c_string(os.fsencode(path), "path")

        def make(lib, client, out_job):
            return lib.camb_client_job_generate(client, c_prompt, byref(create), byref(wait), c_path, out_job)

        def read(lib, job):
            return Generation(
                task_id=_job_task_id(lib, job),
                info=_job_task_info(lib, job),
                path=os.fsdecode(given_path),
                size=lib.camb_job_bytes(job),
            )

        return await self._run_job(make, read, on_progress, progress_interval)

    async def _run_job(self, make, read, on_progress=None, progress_interval=0.1):
        """Makes a job with ``make(lib, client, out_job)``, submits it to the
        running loop's queue and awaits what ``read(lib, job)`` copies out of it
        once it succeeded. Raises a refusal of the job's arguments at once."""
        if on_progress is not None:
            if not callable(on_progress):
                raise TypeError("on_progress must be callable")
            progress_interval = float(progress_interval)
            if not progress_interval > 0:
                raise InvalidArgument(2, f"progress_interval must be positive, not {progress_interval}")
        loop = asyncio.get_running_loop()
        started_at = loop.time()
        queue = _LoopQueue.of(self._lib, loop)

        def make_on_client(out_job):
            with self._handle.use() as client:
                return make(self._lib, client, out_job)

        pending = queue.submit(make_on_client, read, loop)
        try:
            if on_progress is None:
                return await pending.future
            return await _follow(self._lib, queue, pending, on_progress, progress_interval, loop, started_at)
        except BaseException:
            queue.abandon(pending)  # cancelled if still running; freed when it comes back
            raise


# --------------------------------------------------------------------------
# asyncio: one camb_queue per event loop
# --------------------------------------------------------------------------


class _Pending:
    """A job submitted to a loop's queue and not handed back yet, and the future
    its caller awaits. ``polls`` and ``status`` are copied when it comes back."""

    __slots__ = ("job", "address", "future", "read", "polls", "status")

    def __init__(self, job, future, read):
        self.job = job
        self.address = ctypes.cast(job, c_void_p).value
        self.future = future
        self.read = read
        self.polls = None
        self.status = None


# Which queue serves a loop, for finding it: weak both ways, so that it keeps
# neither alive (the loop's reader holds the queue). Each queue keeps its own jobs.
_loop_queues = weakref.WeakKeyDictionary()  # loop -> WeakValueDictionary {lib: _LoopQueue}
_loop_queues_lock = threading.Lock()


def _free_queue(lib, queue) -> None:
    lib.camb_queue_free(queue)


class _LoopQueue:
    """The jobs one event loop waits for: a camb_queue whose readiness descriptor
    the loop watches with ``add_reader``. When it is readable, the loop's own
    thread pops the finished jobs, copies each one's outcome into its future and
    frees it. Used only on the loop's thread.

    A submitted job is libcamb's until the queue hands it back, so it stays in
    ``_jobs`` until then, even when its caller stopped waiting (the job was
    cancelled): it is freed exactly once, after it came back. The queue is
    made for the loop's first job and freed once no job is in flight; if the
    loop is closed first (with its readers) or collected, the queue is freed
    with this object, and libcamb frees the jobs still on it or in flight.
    """

    @classmethod
    def of(cls, lib, loop) -> "_LoopQueue":
        with _loop_queues_lock:
            queues = _loop_queues.get(loop)
            if queues is None:
                queues = _loop_queues[loop] = weakref.WeakValueDictionary()
            queue = queues.get(lib)
            if queue is None:
                queue = cls(lib, loop)
                queues[lib] = queue
            return queue

    def __init__(self, lib, loop):
        queue = _QueuePtr()
        _check(lib, lib.camb_queue_new(byref(queue)))
        self._lib = lib
        self._loop = weakref.ref(loop)  # the loop holds this object (its reader), not the reverse
        self._queue = queue
        self._free = weakref.finalize(self, _free_queue, lib, queue)
        self._jobs = {}  # job address -> _Pending, from submit until handed back
        self._fd = lib.camb_queue_fd(queue)
        try:
            loop.add_reader(self._fd, self._drain)
        except BaseException:
            self._free()
            raise

    def submit(self, make, read, loop) -> _Pending:
        """Makes a job with ``make(out_job)`` (a camb_client_job_* call returning
        its result code) and submits it; ``read(lib, job)`` will copy its value
        out once it succeeded. Raises the constructor's or submit's error."""
        lib = self._lib
        try:
            job = _JobPtr()
            _check(lib, make(byref(job)))
            try:
                pending = _Pending(job, loop.create_future(), read)
                # user_data is unused: the queue hands back the very handle.
                _check(lib, lib.camb_job_submit(job, self._queue, None))
            except BaseException:
                lib.camb_job_free(job)  # refused: still ours
                raise
        except BaseException:
            self._close_if_idle()
            raise
        self._jobs[pending.address] = pending
        return pending

    def holds(self, pending: _Pending) -> bool:
        """Whether the job is still in flight (so not freed): its progress may be read."""
        return self._jobs.get(pending.address) is pending

    def cancel(self, pending: _Pending) -> None:
        """Asks libcamb to cancel the job; it comes back soon (Cancelled)."""
        if self.holds(pending):
            self._lib.camb_job_cancel(pending.job)

    def abandon(self, pending: _Pending) -> None:
        """Its caller stopped waiting (its task was cancelled, or it raised): the
        job is cancelled, and freed when the queue hands it back."""
        pending.future.cancel()
        self.cancel(pending)

    def _drain(self) -> None:
        lib = self._lib
        try:
            while self._queue:
                event = _enum(0)
                job = _JobPtr()
                if lib.camb_queue_pop(self._queue, byref(event), byref(job)) != 0:
                    break  # NOT_READY: the descriptor is no longer readable
                if event.value != _EVENT_JOB_DONE:
                    continue  # not an end (a streaming job's data): the job stays libcamb's
                pending = self._jobs.pop(ctypes.cast(job, c_void_p).value, None)
                if pending is None:
                    # Every job submitted here is in _jobs until it comes back:
                    # this cannot happen. Handed back, the job is ours to free.
                    lib.camb_job_free(job)
                    continue
                self._deliver(pending, job)
        finally:
            self._close_if_idle()

    def _deliver(self, pending: _Pending, job) -> None:
        """Copies a finished job's outcome, frees the job, resolves the future."""
        lib = self._lib
        try:
            pending.polls = lib.camb_job_polls(job)
            pending.status = lib.camb_job_task_status(job)
            code = lib.camb_job_result(job)
            if pending.future.done():  # its caller stopped waiting: nothing to read
                value, error = None, None
            elif code == 0:
                value, error = pending.read(lib, job), None
            else:
                value, error = None, _job_error(lib, job, code)
        except Exception as e:  # noqa: BLE001 - handed to the waiting caller
            value, error = None, e
        finally:
            lib.camb_job_free(job)
        if pending.future.done():
            return
        if error is None:
            pending.future.set_result(value)
        else:
            pending.future.set_exception(error)

    def _close_if_idle(self) -> None:
        if self._jobs or not self._queue:
            return
        loop = self._loop()
        with _loop_queues_lock:
            queues = _loop_queues.get(loop) if loop is not None else None
            if queues is not None and queues.get(self._lib) is self:
                del queues[self._lib]
                if not queues:
                    del _loop_queues[loop]
        self._queue = None
        try:
            if loop is not None:
                loop.remove_reader(self._fd)  # a closed loop has no readers left: a no-op
        finally:
            self._free()


def _job_error(lib, job, code) -> CambError:
    """The exception for a failed job, its words copied out of the job."""
    length = c_size_t(0)
    message = _text(lib.camb_job_error(job, byref(length)), length.value) or ""
    error = error_for(code, message, lib.camb_job_http_status(job))
    if isinstance(error, TaskFailed):
        error.status = Status._from_c(lib.camb_job_task_status(job))
    return error


def _job_task_info(lib, job) -> TaskInfo:
    """The task of a status, wait or generate job (owned by the job: never freed here)."""
    task = lib.camb_job_task(job)
    if not task:
        raise InternalError(6, "libcamb handed back a successful job without its task")
    return _task_info(lib, task)


def _job_task_id(lib, job) -> str:
    length = c_size_t(0)
    task_id = _text(lib.camb_job_task_id(job, byref(length)), length.value)
    if task_id is None:
        raise InternalError(6, "libcamb handed back a successful job without its task id")
    return task_id


def _job_bytes(lib, job) -> int:
    return lib.camb_job_bytes(job)


def _job_audio(lib, job) -> bytes:
    length = c_size_t(0)
    audio = lib.camb_job_audio(job, byref(length))
    if not audio:
        raise InternalError(6, "libcamb handed back a successful download without its audio")
    return ctypes.string_at(audio, length.value)


def _job_audio_url(lib, job) -> str:
    length = c_size_t(0)
    url = _text(lib.camb_job_audio_url(job, byref(length)), length.value)
    if url is None:
        raise InternalError(6, "libcamb handed back a successful job without its URL")
    return url


async def _follow(lib, queue, pending, on_progress, interval, loop, started_at):
    """Awaits a job while a timer of the loop reports its progress, read from
    the running job (camb_job_polls, camb_job_task_status)."""

    def progress(polls, status):
        return JobProgress(
            polls=polls,
            status=Status._from_c(status) if polls else None,
            elapsed_ms=int((loop.time() - started_at) * 1000),
        )

    told = 0
    while not pending.future.done():
        await asyncio.wait((pending.future,), timeout=interval)
        if not queue.holds(pending):
            break  # handed back (and freed) meanwhile
        polls = lib.camb_job_polls(pending.job)
        if polls == told:
            continue
        told = polls
        answer = on_progress(progress(polls, lib.camb_job_task_status(pending.job)))
        if inspect.isawaitable(answer):
            answer = await answer
        if answer is False:
            queue.cancel(pending)  # handed back soon, as Cancelled
    await asyncio.wait((pending.future,))
    if pending.polls is not None and pending.polls != told:
        # What the last polls saw (an answer now changes nothing: the job is over).
        answer = on_progress(progress(pending.polls, pending.status))
        if inspect.isawaitable(answer):
            await answer
    return pending.future.result()


def _unsigned(value, what: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value < 2**bits:
        raise InvalidArgument(2, f"{what} must be between 0 and {2**bits - 1}, not {value}")
    return value


def _create_options(lib, duration, audio_type, project_name, project_description, folder_id, retry) -> _CreateOptions:
    """camb_create_options from libcamb's defaults and the arguments, checked.
    Its c_char_p fields keep their bytes alive in the structure."""
    options = _options_default(lib, _CreateOptions, lib.camb_create_options_init)
    if duration is not None:
        duration = float(duration)
        if not duration > 0:  # also NaN; 0 would mean "the server's default"
            raise InvalidArgument(2, f"duration must be positive, not {duration}")
        options.duration_s = duration
    if audio_type is not None:
        if isinstance(audio_type, str):
            try:
                audio_type = AudioType[audio_type.upper()]
            except KeyError:
                raise InvalidArgument(2, f"audio_type {audio_type!r} is not 'sound' or 'music'") from None
        options.audio_type = AudioType(audio_type)
    if project_name is not None:
        options.project_name = _c_string(project_name, "project_name")
    if project_description is not None:
        options.project_description = _c_string(project_description, "project_description")
    if folder_id is not None:
        options.has_folder_id = True
        options.folder_id = _run_id(folder_id)
    options.retry = bool(retry)
    return options


def _wait_options(lib, initial_interval_ms, backoff_factor, max_interval_ms, deadline_ms) -> _WaitOptions:
    """camb_wait_options from libcamb's defaults and the arguments (None: the default)."""
    options = _options_default(lib, _WaitOptions, lib.camb_wait_options_init)
    if initial_interval_ms is not None:
        options.initial_interval_ms = _unsigned(initial_interval_ms, "initial_interval_ms", 64)
    if backoff_factor is not None:
        options.backoff_factor = float(backoff_factor)
    if max_interval_ms is not None:
        options.max_interval_ms = _unsigned(max_interval_ms, "max_interval_ms", 64)
    if deadline_ms is not None:
        options.deadline_ms = _unsigned(deadline_ms, "deadline_ms", 64)
    return options


class _Batch:
    """The ids of a batch of statuses as C takes them, and its results read back."""

    def __init__(self, task_ids):
        self.ids = list(task_ids)
        # An id C cannot hold (a NUL inside) fails its own entry, like one libcamb refuses.
        self.refused = {}
        sendable = []
        for i, task_id in enumerate(self.ids):
            try:
                sendable.append(_c_string(task_id, "task_id"))
            except InvalidArgument as e:
                self.refused[i] = TaskResult(task_id=task_id, error=e)
                sendable.append(None)  # a placeholder libcamb fails on its own; replaced below
        self.count = len(sendable)
        self.c_ids = (c_char_p * len(sendable))(*sendable)

    def results(self, lib, task_list) -> List[TaskResult]:
        """One TaskResult per id, copied out of a camb_task_list (not freed here)."""
        count = lib.camb_task_list_len(task_list)
        if count != len(self.ids):
            raise InternalError(6, f"libcamb returned {count} statuses for {len(self.ids)} task ids")
        # Each result carries the id as the caller gave it (libcamb's
        # camb_task_id() is "" for an id it could not read).
        given = [i if isinstance(i, str) else bytes(i).decode("utf-8", "replace") for i in self.ids]
        # The tasks belong to the list: read each, never free one.
        return [
            self.refused[i] if i in self.refused else _task_result(lib, lib.camb_task_list_get(task_list, i), given[i])
            for i in range(count)
        ]
