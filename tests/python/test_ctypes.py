#!/usr/bin/env python3
"""libcamb through ctypes: the C ABI as a non-C caller sees it.

Every function is declared from its prototype in camb.h (read by
camb_header.py, mapped to ctypes by C type); structures and callback types are
mirrored here and checked against the header; the workflow (create, wait with progress and
cancellation, download through a callback, save, URLs, batches, generate) runs
against the emulator, blocking (each call with its cancel token) and as jobs
(made by camb_client_job_*, started by camb_job_submit, handed back by a
camb_queue whose readiness descriptor select() watches, or camb_queue_wait on
a thread of the test's). Results are libcamb 0.3's objects (camb_task,
camb_task_list, camb_audio_url_list, camb_job, strings freed with
camb_string_free): every test frees what it is given, and a job only while it
is the test's (made and not submitted, or handed back).

Standard library only. Driven by tests/python.rs (`cargo test -p camb-ffi
--test python`), which starts the emulator and sets:

  CAMB_LIB            absolute path to libcamb.so
  CAMB_TEST_BASE_URL  the emulator's base URL, e.g. http://127.0.0.1:PORT
  CAMB_TEST_API_KEY   a key the emulator accepts
  CAMB_HEADER         path to include/camb.h
  CAMB_CARGO_TOML     path to the crate's Cargo.toml

It can also be run by hand against `camb-emulator` with those variables set:
  python3 tests/python/test_ctypes.py -v
"""

import ctypes
import json
import os
import re
import select
import tempfile
import sys
import threading
import time
import unittest
import urllib.request

# camb.h's prototypes, read by the parser next to this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from camb_header import header_declarations, normalize_c_type, strip_c_comments  # noqa: E402
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    byref,
    c_bool,
    c_char,
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

# --------------------------------------------------------------------------
# Types mirroring camb.h
# --------------------------------------------------------------------------


class CambClient(Structure):
    """Opaque `camb_client`: only ever handled through a pointer."""


class CambClientBuilder(Structure):
    """Opaque `camb_client_builder`: only ever handled through a pointer."""


class CambCancelToken(Structure):
    """Opaque `camb_cancel_token`: only ever handled through a pointer."""


class CambTask(Structure):
    """Opaque `camb_task`: read through its accessors, freed with camb_task_free
    (unless a camb_task_list owns it)."""


class CambTaskList(Structure):
    """Opaque `camb_task_list`: the tasks of one batch call."""


class CambAudioUrlList(Structure):
    """Opaque `camb_audio_url_list`: the URLs of one camb_client_get_audio_urls call."""


class CambJob(Structure):
    """Opaque `camb_job`: one operation, made by a camb_client_job_* function,
    run on the client's pool once submitted, handed back by its queue; read
    through its accessors, freed once with camb_job_free (its task, list, audio
    and strings with it) while it is the caller's."""


class CambQueue(Structure):
    """Opaque `camb_queue`: events of finished jobs, and a readiness descriptor
    that is readable while there are any."""


class CambCreateOptions(Structure):
    """`camb_create_options`, field for field and in order.

    Its strings go in, so they are c_char_p: assigning bytes to such a field
    keeps the bytes object alive in the structure (its `_objects`), and the
    header only borrows them for the call.
    """

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


class CambWaitOptions(Structure):
    """`camb_wait_options`, field for field and in order."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("initial_interval_ms", c_uint64),
        ("backoff_factor", c_double),
        ("max_interval_ms", c_uint64),
        ("deadline_ms", c_uint64),
    ]


class CambWaitProgress(Structure):
    """`camb_wait_progress`, field for field and in order.

    The string fields are c_void_p rather than c_char_p: c_char_p would copy up
    to the first NUL and throw the pointer away, while the header promises the
    text is read in full through its *_len (it may contain a NUL itself).
    """

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


class CambVoice(Structure):
    """Opaque `camb_voice`: one voice of a camb_voice_list, read through its accessors."""


class CambVoiceList(Structure):
    """Opaque `camb_voice_list`: the voices of camb_client_list_voices."""


class CambLanguage(Structure):
    """Opaque `camb_language`: one language of a camb_language_list."""


class CambLanguageList(Structure):
    """Opaque `camb_language_list`: the languages of camb_client_list_languages."""


class CambSpeechOptions(Structure):
    """`camb_speech_options`, field for field and in order; strings go in, as
    in CambCreateOptions."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("format", c_char_p),
        ("sample_rate", c_uint32),
        ("duration_s", c_double),
        ("apply_enhancement", c_uint32),
        ("speech_model", c_char_p),
        ("user_instructions", c_char_p),
        ("enhance_named_entities", c_uint32),
        ("enhance_reference_audio_quality", c_uint32),
        ("maintain_source_accent", c_uint32),
        ("apply_ref_loudness_norm", c_uint32),
        ("speaking_rate", c_double),
        ("stability", c_double),
        ("temperature", c_double),
        ("inference_steps", c_uint32),
        ("speaker_similarity", c_double),
        ("localize_speaker_weight", c_double),
        ("acoustic_quality_boost", c_uint32),
    ]


class CambSpeechInfo(Structure):
    """`camb_speech_info`, field for field and in order: libcamb writes it."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("format", c_char * 32),
        ("sample_rate", c_uint32),
        ("channels", c_uint32),
        ("has_credits", c_bool),
        ("credits", c_double),
        ("bytes", c_uint64),
    ]


ClientPtr = POINTER(CambClient)
BuilderPtr = POINTER(CambClientBuilder)
TokenPtr = POINTER(CambCancelToken)
TaskPtr = POINTER(CambTask)
TaskListPtr = POINTER(CambTaskList)
AudioUrlListPtr = POINTER(CambAudioUrlList)
JobPtr = POINTER(CambJob)
QueuePtr = POINTER(CambQueue)
CreateOptionsPtr = POINTER(CambCreateOptions)
WaitOptionsPtr = POINTER(CambWaitOptions)
# A string libcamb hands over through a `char **`: kept as a pointer (not
# converted to bytes) so that it can be given back to camb_string_free.
OwnedStringPtr = POINTER(c_char)

# The callback types. ctypes only keeps a CFUNCTYPE object's C thunk alive while
# the Python object lives: every test holds its callback in a local (or on self)
# until the C call that may invoke it has returned.
PROGRESS_FN = CFUNCTYPE(c_bool, POINTER(CambWaitProgress), c_void_p)
WRITE_FN = CFUNCTYPE(c_bool, POINTER(c_uint8), c_size_t, c_void_p)
# A log line: its level, the text (`len` bytes and a NUL) and user_data. On the
# thread that logs, a libcamb pool thread for a job's steps; several at once. The
# line is a c_void_p read by its length, like every string libcamb hands out
# with one (see TEXT_WITH_LENGTH). It must not raise into C: ctypes would print
# the exception and return, so the tests' callbacks catch everything.
LOG_FN = CFUNCTYPE(None, c_uint32, c_void_p, c_size_t, c_void_p)
# Told once that libcamb will call the log function (and pass its user_data) no
# more: from then on its thunk may go.
FINALIZER_FN = CFUNCTYPE(None, c_void_p)
# A chunk of speech and what is known of the audio, on the calling thread.
SPEECH_FN = CFUNCTYPE(c_bool, POINTER(c_uint8), c_size_t, POINTER(CambSpeechInfo), c_void_p)
# NULL function pointers: a CFUNCTYPE argument does not take None.
NO_PROGRESS = PROGRESS_FN()
NO_WRITE = WRITE_FN()
NO_LOG_FN = LOG_FN()
NO_FINALIZER = FINALIZER_FN()

# camb_result and camb_status are uint32_t on the wire (the header's typedef
# when not C23/C++), so they are c_uint32 here.
camb_result = c_uint32

# How each C type spelled in camb.h maps to ctypes: every function's restype and
# argtypes are made from its prototype in camb.h with this table (see
# ctypes_signature), so no function is declared by hand. A type missing here fails
# the header test with its spelling.
C_TYPES = {
    "void": None,
    "bool": c_bool,
    "uint16_t": c_uint16,
    "uint32_t": c_uint32,
    "uint64_t": c_uint64,
    "int64_t": c_int64,
    "size_t": c_size_t,
    "ptrdiff_t": c_ssize_t,
    "void *": c_void_p,
    "camb_result": c_uint32,
    "camb_status": c_uint32,
    "camb_job_kind": c_uint32,
    "camb_job_state": c_uint32,
    "camb_event *": POINTER(c_uint32),
    "const char *": c_char_p,
    # A string libcamb handed over, given back to camb_string_free.
    "char *": OwnedStringPtr,
    "char **": POINTER(OwnedStringPtr),
    "uint64_t *": POINTER(c_uint64),
    "size_t *": POINTER(c_size_t),
    "int64_t *": POINTER(c_int64),
    "const int64_t *": POINTER(c_int64),
    "struct camb_client_builder *": BuilderPtr,
    "struct camb_client *": ClientPtr,
    "const struct camb_client *": ClientPtr,
    "struct camb_client **": POINTER(ClientPtr),
    "struct camb_task *": TaskPtr,
    "const struct camb_task *": TaskPtr,
    "struct camb_task **": POINTER(TaskPtr),
    "struct camb_task_list *": TaskListPtr,
    "const struct camb_task_list *": TaskListPtr,
    "struct camb_task_list **": POINTER(TaskListPtr),
    "struct camb_audio_url_list *": AudioUrlListPtr,
    "const struct camb_audio_url_list *": AudioUrlListPtr,
    "struct camb_audio_url_list **": POINTER(AudioUrlListPtr),
    "struct camb_cancel_token *": TokenPtr,
    "const struct camb_cancel_token *": TokenPtr,
    "struct camb_create_options *": CreateOptionsPtr,
    "struct camb_job *": JobPtr,
    "const struct camb_job *": JobPtr,
    "struct camb_job **": POINTER(JobPtr),
    "struct camb_queue *": QueuePtr,
    "const struct camb_queue *": QueuePtr,
    "struct camb_queue **": POINTER(QueuePtr),
    "const struct camb_create_options *": CreateOptionsPtr,
    "struct camb_wait_options *": WaitOptionsPtr,
    "const struct camb_wait_options *": WaitOptionsPtr,
    "struct camb_speech_options *": POINTER(CambSpeechOptions),
    "const struct camb_speech_options *": POINTER(CambSpeechOptions),
    "struct camb_speech_info *": POINTER(CambSpeechInfo),
    "const struct camb_speech_info *": POINTER(CambSpeechInfo),
    "camb_speech_fn": SPEECH_FN,
    "camb_flag": c_uint32,
    "uint8_t *": POINTER(c_uint8),
    "struct camb_voice_list **": POINTER(POINTER(CambVoiceList)),
    "struct camb_voice_list *": POINTER(CambVoiceList),
    "const struct camb_voice_list *": POINTER(CambVoiceList),
    "const struct camb_voice *": POINTER(CambVoice),
    "struct camb_language_list **": POINTER(POINTER(CambLanguageList)),
    "struct camb_language_list *": POINTER(CambLanguageList),
    "const struct camb_language_list *": POINTER(CambLanguageList),
    "const struct camb_language *": POINTER(CambLanguage),
    "const char *const *": POINTER(c_char_p),
    "camb_progress_fn": PROGRESS_FN,
    "camb_write_fn": WRITE_FN,
    "camb_log_fn": LOG_FN,
    "camb_finalizer_fn": FINALIZER_FN,
    # Only in callback parameters.
    "const struct camb_wait_progress *": POINTER(CambWaitProgress),
    "const uint8_t *": POINTER(c_uint8),
}

# A `const char *` (or `const uint8_t *`) returned together with its length (a
# `size_t *` last parameter) is text (or bytes) an object owns, possibly with a
# NUL inside: c_void_p, read by the length. Every other `const char *` returned
# is static or per-thread.
# The same for a callback's `const char *` parameter followed by a `size_t`
# (camb_log_fn's line).
TEXT_WITH_LENGTH = c_void_p


def ctypes_signature(c_return, c_params):
    """(restype, argtypes) of a prototype in camb.h, spelled as camb.h spells it."""
    restype = C_TYPES[c_return]
    if c_return in ("const char *", "const uint8_t *") and c_params and c_params[-1] == "size_t *":
        restype = TEXT_WITH_LENGTH
    return restype, [C_TYPES[spelling] for spelling in c_params]


# The same for structure fields, where strings libcamb hands out are c_void_p
# (see CambWaitProgress).
FIELD_TYPES = {
    "uint16_t": c_uint16,
    "uint32_t": c_uint32,
    "uint64_t": c_uint64,
    "bool": c_bool,
    "int64_t": c_int64,
    "size_t": c_size_t,
    "double": c_double,
    "const char *": c_void_p,
    "char[32]": c_char * 32,
}

# Every structure camb.h defines -> (its mirror, field types that differ from
# FIELD_TYPES). A structure missing here fails the layout test.
STRUCTS = {
    # Strings the caller passes in (see CambCreateOptions).
    "camb_create_options": (CambCreateOptions, {"const char *": c_char_p}),
    "camb_wait_options": (CambWaitOptions, {}),
    "camb_wait_progress": (CambWaitProgress, {}),
    "camb_speech_options": (CambSpeechOptions, {"const char *": c_char_p}),
    "camb_speech_info": (CambSpeechInfo, {}),
}

# Every opaque type camb.h declares (`typedef struct x x;`) -> its mirror.
OPAQUE = {
    "camb_client": CambClient,
    "camb_client_builder": CambClientBuilder,
    "camb_cancel_token": CambCancelToken,
    "camb_task": CambTask,
    "camb_task_list": CambTaskList,
    "camb_audio_url_list": CambAudioUrlList,
    "camb_job": CambJob,
    "camb_queue": CambQueue,
    "camb_voice": CambVoice,
    "camb_voice_list": CambVoiceList,
    "camb_language": CambLanguage,
    "camb_language_list": CambLanguageList,
}

# Every function-pointer typedef camb.h defines -> its CFUNCTYPE.
CALLBACKS = {
    "camb_progress_fn": PROGRESS_FN,
    "camb_write_fn": WRITE_FN,
    "camb_log_fn": LOG_FN,
    "camb_finalizer_fn": FINALIZER_FN,
    "camb_speech_fn": SPEECH_FN,
}

# Result and status values this file relies on; checked against the header.
OK = 0
NULL_PARAMETER = 1
INVALID_PARAMETER = 2
MISSING_API_KEY = 3
CANCELLED = 5
IO = 7
NOT_READY = 8
TASK_FAILED = 9
CONNECT = 100
TIMEOUT = 101
HTTP_STATUS = 103
UNAUTHORIZED = 401
NOT_FOUND = 404
VALIDATION = 422

STATUS_UNKNOWN = 0
STATUS_PENDING = 1
STATUS_SUCCESS = 2
STATUS_TIMEOUT = 3
STATUS_ERROR = 4
STATUS_PAYMENT_REQUIRED = 5

JOB_KIND_NONE = 0
JOB_KIND_GET_TASK_STATUS = 1
JOB_KIND_CREATE_TASK = 2
JOB_KIND_WAIT_FOR_TASK = 3
JOB_KIND_DOWNLOAD_AUDIO = 4
JOB_KIND_SAVE_AUDIO = 5
JOB_KIND_GET_AUDIO_URL = 6
JOB_KIND_GET_AUDIO_URLS = 7
JOB_KIND_GET_TASK_STATUSES = 8
JOB_KIND_GENERATE = 9
JOB_KIND_SPEAK = 10
JOB_KIND_SPEAK_TO_FILE = 11
JOB_KIND_LIST_VOICES = 12
JOB_KIND_LIST_LANGUAGES = 13

JOB_STATE_NEW = 0
JOB_STATE_QUEUED = 1
JOB_STATE_RUNNING = 2
JOB_STATE_WAITING = 3
JOB_STATE_DONE = 4

EVENT_JOB_DONE = 1
EVENT_JOB_DATA = 2

AUDIO_TYPE_DEFAULT = 0
AUDIO_TYPE_SOUND = 1
AUDIO_TYPE_MUSIC = 2

LOG_LEVEL_ERROR = 1
LOG_LEVEL_WARN = 2
LOG_LEVEL_INFO = 3
LOG_LEVEL_DEBUG = 4

# Every enum camb.h defines, each checked whole or in part by test_constants_match_header.
ENUMS = {
    "camb_result",
    "camb_status",
    "camb_job_kind",
    "camb_job_state",
    "camb_event",
    "camb_audio_type",
    "camb_log_level",
    "camb_flag",
    "camb_languages",
}

# --------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------

ENV_VARS = ("CAMB_LIB", "CAMB_TEST_BASE_URL", "CAMB_TEST_API_KEY", "CAMB_HEADER", "CAMB_CARGO_TOML")


def require_env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"environment variable {name} is not set; run this through "
            f"`cargo test -p camb-ffi --test python`, or set all of {', '.join(ENV_VARS)}"
        )
    return value


lib = None
# name -> (restype, argtypes), made from camb.h's prototypes in setUpModule:
# nothing here declares a function by hand.
DECLARATIONS = {}
BASE_URL = None
API_KEY = None
HEADER_TEXT = None
CARGO_TOML_TEXT = None


def setUpModule():
    global lib, BASE_URL, API_KEY, HEADER_TEXT, CARGO_TOML_TEXT
    with open(require_env("CAMB_HEADER"), encoding="utf-8") as f:
        # The header's static inline helpers (camb_*_options_default) are not the
        # library's: an FFI calls camb_*_options_init instead (see options_default).
        HEADER_TEXT = f.read().split("#ifndef CAMB_H_DEFAULTS")[0]
    lib = ctypes.CDLL(require_env("CAMB_LIB"))
    for name, (c_return, c_params) in header_declarations(HEADER_TEXT).items():
        # A spelling missing from C_TYPES is reported by the header test.
        if all(spelling in C_TYPES for spelling in [c_return, *c_params]):
            DECLARATIONS[name] = ctypes_signature(c_return, c_params)
    for name, (restype, argtypes) in DECLARATIONS.items():
        function = getattr(lib, name)  # AttributeError names a missing export
        function.restype = restype
        function.argtypes = argtypes
    BASE_URL = require_env("CAMB_TEST_BASE_URL").rstrip("/")
    API_KEY = require_env("CAMB_TEST_API_KEY")
    with open(require_env("CAMB_CARGO_TOML"), encoding="utf-8") as f:
        CARGO_TOML_TEXT = f.read()


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------








def zero_size_handles(code):
    """Handles camb.h declares as `typedef struct x { uint8_t _opaque[0]; } x;`
    (cbindgen's rendering of a #[repr(C)] Rust marker struct): opaque to every
    caller, though not the incomplete type the other handles are."""
    return re.findall(r"typedef struct (\w+) \{\s*uint8_t _opaque\[0\];\s*\} \1;", code)


def header_enum(header, prefix):
    """{'CAMB_RESULT_OK': 0, ...} for one of the header's enums."""
    code = strip_c_comments(header)
    return {name: int(value) for name, value in re.findall(rf"\b({prefix}\w+)\s*=\s*(\d+)", code)}


def cargo_package_version(toml_text):
    """The `version = "..."` of Cargo.toml's [package] table (not of a dependency)."""
    in_package = False
    for line in toml_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            in_package = stripped == "[package]"
        elif in_package:
            match = re.match(r'version\s*=\s*"([^"]+)"', stripped)
            if match:
                return match.group(1)
    raise AssertionError("Cargo.toml has no version in [package]")


def last_error():
    return lib.camb_last_error()


def read_field(ptr, length):
    """A string read from libcamb: its full bytes via the length, None for NULL.

    Also checks what the header promises of every such string: NUL-terminated
    right after `length` bytes, and a NULL pointer has length 0.
    """
    if not ptr:
        assert length == 0, f"a NULL string has length {length}, not 0"
        return None
    with_nul = ctypes.string_at(ptr, length + 1)
    assert with_nul[-1] == 0, "string is not NUL-terminated at its length"
    return with_nul[:-1]


def address(pointer):
    """A ctypes pointer's address (None for NULL), to compare pointers."""
    return ctypes.cast(pointer, c_void_p).value


# An address no object has: an out-parameter preset to it must still hold it
# after a failed call ("out-parameters are written only on success").
SENTINEL = 0xDEAD00


def sentinel(pointer_type):
    return ctypes.cast(c_void_p(SENTINEL), pointer_type)


def task_text(accessor, task):
    """One string of a camb_task through its accessor, by its length.

    Checks on the way that the accessor writes *out_len (preset to a wrong
    value) and gives the same pointer when out_len is NULL.
    """
    length = c_size_t(12345)
    ptr = accessor(task, byref(length))
    assert length.value != 12345, f"{accessor.__name__} did not write *out_len"
    assert accessor(task, None) == ptr, f"{accessor.__name__} with a NULL out_len gave another pointer"
    return read_field(ptr, length.value)


class TaskView:
    """Everything a camb_task's accessors say, copied into Python values."""

    FIELDS = (
        "result",
        "error",
        "http_status",
        "task_id",
        "status",
        "status_text",
        "has_run_id",
        "run_id",
        "exception_reason",
        "message",
    )

    def __init__(self, task):
        run_id = c_int64(-77)
        self.result = lib.camb_task_result(task)
        self.error = task_text(lib.camb_task_error, task)
        self.http_status = lib.camb_task_http_status(task)
        self.task_id = task_text(lib.camb_task_id, task)
        self.status = lib.camb_task_status(task)
        self.status_text = task_text(lib.camb_task_status_text, task)
        self.has_run_id = lib.camb_task_run_id(task, byref(run_id))
        assert lib.camb_task_run_id(task, None) is self.has_run_id, "camb_task_run_id with a NULL out_run_id"
        if not self.has_run_id:
            assert run_id.value == -77, "camb_task_run_id wrote *out_run_id and returned false"
        self.run_id = run_id.value if self.has_run_id else None
        self.exception_reason = task_text(lib.camb_task_exception_reason, task)
        self.message = task_text(lib.camb_task_message, task)

    def as_dict(self):
        return {name: getattr(self, name) for name in self.FIELDS}

    def __repr__(self):
        return f"TaskView({self.as_dict()})"


def take_task(task):
    """A TaskView of a task the caller owns, then the task freed."""
    try:
        return TaskView(task)
    finally:
        lib.camb_task_free(task)


def take_string(ptr, length):
    """A string handed over through a char **, checked against its length, then freed."""
    try:
        return read_field(ptr, length)
    finally:
        lib.camb_string_free(ptr)


def control(path, body=None):
    """Calls the emulator's key-less control API; returns the decoded JSON reply (or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        BASE_URL + path,
        data=data,
        method="GET" if body is None else "POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        payload = reply.read()
    return json.loads(payload) if payload else None


# Builders consumed by build(), by id() of their pointer object: a builder is
# freed at its test's end only if no build consumed it (using it afterwards,
# even to free it, is undefined, as for every handle).
CONSUMED_BUILDERS = set()


def new_builder(test):
    builder = lib.camb_client_builder_new()
    test.assertTrue(builder, "camb_client_builder_new returned NULL")

    def free_unless_built():
        if id(builder) not in CONSUMED_BUILDERS:
            lib.camb_client_builder_free(builder)
        CONSUMED_BUILDERS.discard(id(builder))

    test.addCleanup(free_unless_built)
    return builder


def build(builder, out_client):
    """camb_client_builder_build, which consumes a non-NULL builder whatever it returns."""
    if builder:
        CONSUMED_BUILDERS.add(id(builder))
    return lib.camb_client_builder_build(builder, out_client)


def build_client(test, key=None, base_url=None, timeout_ms=10000, retries=0, free=True):
    """A client for the emulator through the builder (camb_client_new cannot set a URL).

    With free=False the caller frees it (or deliberately leaks it).
    """
    builder = new_builder(test)
    test.assertEqual(lib.camb_client_builder_set_api_key(builder, (key or API_KEY).encode()), OK, last_error())
    test.assertEqual(lib.camb_client_builder_set_base_url(builder, (base_url or BASE_URL).encode()), OK, last_error())
    test.assertEqual(lib.camb_client_builder_set_timeout_ms(builder, timeout_ms), OK, last_error())
    test.assertEqual(lib.camb_client_builder_set_max_retries(builder, retries), OK, last_error())
    client = ClientPtr()
    test.assertEqual(build(builder, byref(client)), OK, last_error())
    test.assertTrue(client, "build succeeded but wrote a NULL client")
    if free:
        test.addCleanup(lib.camb_client_free, client)
    return client


def get_status(client, task_id, token=None):
    """(result, TaskView or None) for one status call; the task is read and freed.

    On failure it checks that *out_task was left alone.
    """
    task = sentinel(TaskPtr)
    result = lib.camb_client_get_task_status(client, task_id, token, byref(task))
    if result != OK:
        assert address(task) == SENTINEL, "out_task was written on failure"
        return result, None
    assert task, "success with a NULL task"
    return result, take_task(task)


def get_statuses(client, task_ids, max_connections=0, token=None):
    """(result, [TaskView]) for one batch call; the list is read and freed."""
    array = (c_char_p * len(task_ids))(*task_ids)
    task_list = sentinel(TaskListPtr)
    result = lib.camb_client_get_task_statuses(client, array, len(task_ids), max_connections, token, byref(task_list))
    if result != OK:
        assert address(task_list) == SENTINEL, "out_list was written on failure"
        return result, None
    try:
        count = lib.camb_task_list_len(task_list)
        views = [TaskView(lib.camb_task_list_get(task_list, i)) for i in range(count)]
        assert not lib.camb_task_list_get(task_list, count), "an entry past the end"
        return result, views
    finally:
        lib.camb_task_list_free(task_list)


def options_default(mirror, init):
    """Options with libcamb's defaults and struct_size set to the mirror's size:
    what camb.h's static inline _default() helpers do for C."""
    options = mirror()
    code = init(ctypes.byref(options), ctypes.sizeof(options))
    if code != 0:
        raise AssertionError(f"{init.__name__} failed: {last_error()}")
    return options


def create_options_default():
    return options_default(CambCreateOptions, lib.camb_create_options_init)


def wait_options_default():
    return options_default(CambWaitOptions, lib.camb_wait_options_init)


# --------------------------------------------------------------------------
# The header and the declarations above
# --------------------------------------------------------------------------


class HeaderTests(unittest.TestCase):
    def test_every_header_function_is_declared_from_its_prototype(self):
        declarations = header_declarations(HEADER_TEXT)
        # The prototype parser must see every name the simple scan sees.
        names = set(re.findall(r"\b(camb_\w+)\s*\(", strip_c_comments(HEADER_TEXT)))
        self.assertGreaterEqual(len(names), 10, "found too few functions: is CAMB_HEADER camb.h?")
        self.assertEqual(set(declarations), names, "prototype parser missed a declaration")
        for name, (c_return, c_params) in declarations.items():
            with self.subTest(function=name):
                for spelling in [c_return, *c_params]:
                    self.assertIn(spelling, C_TYPES, f"add C type {spelling!r} to C_TYPES")
                self.assertIn(name, DECLARATIONS)
                self.assertTrue(hasattr(lib, name), f"libcamb does not export {name}")

    def test_text_returned_with_its_length_is_read_by_the_length(self):
        # A pointer read by its length must not become c_char_p, which stops at
        # the first NUL; static strings (names, the last error) may.
        restype, argtypes = DECLARATIONS["camb_task_error"]
        self.assertIs(restype, TEXT_WITH_LENGTH)
        self.assertIs(argtypes[-1], C_TYPES["size_t *"])
        self.assertIs(DECLARATIONS["camb_job_audio"][0], TEXT_WITH_LENGTH)
        self.assertIs(DECLARATIONS["camb_last_error"][0], c_char_p)

    def test_every_header_struct_has_a_mirror(self):
        code = strip_c_comments(HEADER_TEXT)
        defined = set(re.findall(r"typedef struct (\w+) \{", code)) - set(zero_size_handles(code))
        self.assertIn("camb_wait_options", defined, "found no structure definitions: is CAMB_HEADER camb.h?")
        self.assertEqual(sorted(defined - STRUCTS.keys()), [], "structures in camb.h without a mirror in STRUCTS")
        self.assertEqual(sorted(STRUCTS.keys() - defined), [], "STRUCTS mirrors structures camb.h does not define")

    def test_every_opaque_type_has_a_mirror(self):
        code = strip_c_comments(HEADER_TEXT)
        declared = set(re.findall(r"typedef struct (\w+) (\w+);", code))
        self.assertTrue(all(a == b for a, b in declared), declared)
        handles = {name for name, _ in declared} | set(zero_size_handles(code))
        self.assertEqual(sorted(handles), sorted(OPAQUE), "opaque types in camb.h vs OPAQUE")
        for mirror in OPAQUE.values():
            self.assertFalse(hasattr(mirror, "_fields_"), f"{mirror.__name__} must stay opaque")

    # The two tests below check that camb.h is valid C, which a ctypes caller
    # does not need but every C caller does.

    def test_handles_are_incomplete_types(self):
        # `typedef struct x x;`, like camb_client: a C program can neither look
        # inside a handle nor make one. A `{ uint8_t _opaque[0]; }` body (what
        # cbindgen makes of a #[repr(C)] Rust marker struct) is a zero-size
        # array, which ISO C and C++ forbid (-Wpedantic), and gives the handle
        # a sizeof of 0.
        self.assertEqual(zero_size_handles(strip_c_comments(HEADER_TEXT)), [])

    def test_no_function_has_the_name_of_a_type(self):
        # In C a typedef and a function share one namespace: a function named
        # like a type is "redeclared as a different kind of symbol", an error.
        code = strip_c_comments(HEADER_TEXT)
        typedefs = set(re.findall(r"typedef\s+[^;{}()]*?\b(\w+)\s*;", code))
        typedefs |= set(re.findall(r"\}\s*(\w+)\s*;", code))
        self.assertIn("camb_result", typedefs, "found no typedefs: is CAMB_HEADER camb.h?")
        self.assertEqual(sorted(typedefs & header_declarations(HEADER_TEXT).keys()), [])

    def test_struct_fields_match_header(self):
        code = strip_c_comments(HEADER_TEXT)
        for struct_name, (mirror, overrides) in STRUCTS.items():
            with self.subTest(struct=struct_name):
                body = re.search(rf"typedef struct {struct_name} \{{(.*?)\}} {struct_name};", code, re.S)
                self.assertIsNotNone(body, f"camb.h has no {struct_name} definition")
                # [(C type, field name)] in declaration order.
                # An array field (`char format[32]`) is spelled "char[32]".
                header_fields = [
                    (normalize_c_type(c_type) + array, name)
                    for c_type, name, array in re.findall(r"([^;]*?)\b(\w+)\s*(\[\d+\])?\s*;", body.group(1))
                ]
                self.assertEqual(
                    [name for _, name in header_fields],
                    [name for name, _ in mirror._fields_],
                    f"fields of {struct_name}, in order",
                )
                for (c_type, name), (_, declared) in zip(header_fields, mirror._fields_):
                    expected = overrides.get(c_type, FIELD_TYPES.get(c_type))
                    self.assertIsNotNone(expected, f"add C type {c_type!r} to FIELD_TYPES")
                    self.assertIs(declared, expected, f"type of {struct_name}.{name} ({c_type})")

    def test_options_structs_start_with_their_size(self):
        # _init puts the size it is given in struct_size, and takes this file's
        # mirrors whole: they are the library's size.
        for default, mirror in [
            (create_options_default, CambCreateOptions),
            (wait_options_default, CambWaitOptions),
        ]:
            with self.subTest(struct=mirror.__name__):
                self.assertEqual(mirror._fields_[0], ("struct_size", c_size_t))
                self.assertEqual(default().struct_size, ctypes.sizeof(mirror))

    def test_callback_types_match_header(self):
        code = strip_c_comments(HEADER_TEXT)
        typedefs = {
            name: (normalize_c_type(ret), params)
            for ret, name, params in re.findall(r"typedef\s+([^;()]+?)\s*\(\s*\*\s*(\w+)\s*\)\s*\(([^()]*)\)\s*;", code)
        }
        self.assertEqual(sorted(typedefs), sorted(CALLBACKS), "function-pointer typedefs in camb.h vs CALLBACKS")
        for name, (c_return, params) in typedefs.items():
            with self.subTest(callback=name):
                c_params = [normalize_c_type(re.sub(r"\w+$", "", p.strip())) for p in params.split(",")]
                for spelling in [c_return, *c_params]:
                    self.assertIn(spelling, C_TYPES, f"add C type {spelling!r} to C_TYPES")
                declared = CALLBACKS[name]
                self.assertIs(declared._restype_, C_TYPES[c_return], f"return type of {name}")
                self.assertEqual(len(declared._argtypes_), len(c_params), f"parameter count of {name}")
                for i, (arg, spelling) in enumerate(zip(declared._argtypes_, c_params)):
                    expected = C_TYPES[spelling]
                    if spelling == "const char *" and c_params[i + 1 : i + 2] == ["size_t"]:
                        expected = TEXT_WITH_LENGTH
                    self.assertIs(arg, expected, f"parameter {i} of {name} ({spelling})")

    def test_constants_match_header(self):
        results = header_enum(HEADER_TEXT, "CAMB_RESULT_")
        for name, value in [
            ("CAMB_RESULT_OK", OK),
            ("CAMB_RESULT_NULL_PARAMETER", NULL_PARAMETER),
            ("CAMB_RESULT_INVALID_PARAMETER", INVALID_PARAMETER),
            ("CAMB_RESULT_MISSING_API_KEY", MISSING_API_KEY),
            ("CAMB_RESULT_CANCELLED", CANCELLED),
            ("CAMB_RESULT_IO", IO),
            ("CAMB_RESULT_NOT_READY", NOT_READY),
            ("CAMB_RESULT_TASK_FAILED", TASK_FAILED),
            ("CAMB_RESULT_CONNECT", CONNECT),
            ("CAMB_RESULT_TIMEOUT", TIMEOUT),
            ("CAMB_RESULT_HTTP_STATUS", HTTP_STATUS),
            ("CAMB_RESULT_UNAUTHORIZED", UNAUTHORIZED),
            ("CAMB_RESULT_NOT_FOUND", NOT_FOUND),
            ("CAMB_RESULT_VALIDATION", VALIDATION),
        ]:
            self.assertEqual(results.get(name), value, name)
        # 4 stays unused: a retired value is never given another meaning.
        self.assertNotIn("CAMB_RESULT_BUFFER_TOO_SMALL", results)
        self.assertNotIn(4, results.values())
        statuses = header_enum(HEADER_TEXT, "CAMB_STATUS_")
        for name, value in [
            ("CAMB_STATUS_UNKNOWN", STATUS_UNKNOWN),
            ("CAMB_STATUS_PENDING", STATUS_PENDING),
            ("CAMB_STATUS_SUCCESS", STATUS_SUCCESS),
            ("CAMB_STATUS_TIMEOUT", STATUS_TIMEOUT),
            ("CAMB_STATUS_ERROR", STATUS_ERROR),
            ("CAMB_STATUS_PAYMENT_REQUIRED", STATUS_PAYMENT_REQUIRED),
        ]:
            self.assertEqual(statuses.get(name), value, name)
        audio_types = header_enum(HEADER_TEXT, "CAMB_AUDIO_TYPE_")
        self.assertEqual(
            audio_types,
            {
                "CAMB_AUDIO_TYPE_DEFAULT": AUDIO_TYPE_DEFAULT,
                "CAMB_AUDIO_TYPE_SOUND": AUDIO_TYPE_SOUND,
                "CAMB_AUDIO_TYPE_MUSIC": AUDIO_TYPE_MUSIC,
            },
        )
        # The whole enums, so that a value added later gets a name here.
        self.assertEqual(
            header_enum(HEADER_TEXT, "CAMB_JOB_KIND_"),
            {
                "CAMB_JOB_KIND_NONE": JOB_KIND_NONE,
                "CAMB_JOB_KIND_GET_TASK_STATUS": JOB_KIND_GET_TASK_STATUS,
                "CAMB_JOB_KIND_CREATE_TASK": JOB_KIND_CREATE_TASK,
                "CAMB_JOB_KIND_WAIT_FOR_TASK": JOB_KIND_WAIT_FOR_TASK,
                "CAMB_JOB_KIND_DOWNLOAD_AUDIO": JOB_KIND_DOWNLOAD_AUDIO,
                "CAMB_JOB_KIND_SAVE_AUDIO": JOB_KIND_SAVE_AUDIO,
                "CAMB_JOB_KIND_GET_AUDIO_URL": JOB_KIND_GET_AUDIO_URL,
                "CAMB_JOB_KIND_GET_AUDIO_URLS": JOB_KIND_GET_AUDIO_URLS,
                "CAMB_JOB_KIND_GET_TASK_STATUSES": JOB_KIND_GET_TASK_STATUSES,
                "CAMB_JOB_KIND_GENERATE": JOB_KIND_GENERATE,
                "CAMB_JOB_KIND_SPEAK": JOB_KIND_SPEAK,
                "CAMB_JOB_KIND_SPEAK_TO_FILE": JOB_KIND_SPEAK_TO_FILE,
                "CAMB_JOB_KIND_LIST_VOICES": JOB_KIND_LIST_VOICES,
                "CAMB_JOB_KIND_LIST_LANGUAGES": JOB_KIND_LIST_LANGUAGES,
            },
        )
        self.assertEqual(
            header_enum(HEADER_TEXT, "CAMB_EVENT_"),
            {"CAMB_EVENT_JOB_DONE": EVENT_JOB_DONE, "CAMB_EVENT_JOB_DATA": EVENT_JOB_DATA},
        )
        self.assertEqual(
            header_enum(HEADER_TEXT, "CAMB_JOB_STATE_"),
            {
                "CAMB_JOB_STATE_NEW": JOB_STATE_NEW,
                "CAMB_JOB_STATE_QUEUED": JOB_STATE_QUEUED,
                "CAMB_JOB_STATE_RUNNING": JOB_STATE_RUNNING,
                "CAMB_JOB_STATE_WAITING": JOB_STATE_WAITING,
                "CAMB_JOB_STATE_DONE": JOB_STATE_DONE,
            },
        )
        self.assertEqual(
            header_enum(HEADER_TEXT, "CAMB_LOG_LEVEL_"),
            {
                "CAMB_LOG_LEVEL_ERROR": LOG_LEVEL_ERROR,
                "CAMB_LOG_LEVEL_WARN": LOG_LEVEL_WARN,
                "CAMB_LOG_LEVEL_INFO": LOG_LEVEL_INFO,
                "CAMB_LOG_LEVEL_DEBUG": LOG_LEVEL_DEBUG,
            },
        )

    def test_every_header_enum_is_checked(self):
        # A new enum needs its constants here (test_constants_match_header).
        declared = set(re.findall(r"\benum\s+(camb_\w+)", strip_c_comments(HEADER_TEXT)))
        self.assertIn("camb_result", declared, "found no enums: is CAMB_HEADER camb.h?")
        self.assertEqual(sorted(declared), sorted(ENUMS))


# --------------------------------------------------------------------------
# Functions that need no network
# --------------------------------------------------------------------------


class StaticFunctionTests(unittest.TestCase):
    def test_version_matches_cargo_toml(self):
        self.assertEqual(lib.camb_version().decode(), cargo_package_version(CARGO_TOML_TEXT))

    def test_header_version_matches_cargo_toml(self):
        version = cargo_package_version(CARGO_TOML_TEXT)
        match = re.search(r'#define\s+CAMB_VERSION_STRING\s+"([^"]*)"', HEADER_TEXT)
        self.assertIsNotNone(match, "camb.h has no CAMB_VERSION_STRING")
        self.assertEqual(match.group(1), version)
        parts = {
            part: int(re.search(rf"#define\s+CAMB_VERSION_{part}\s+(\d+)", HEADER_TEXT).group(1))
            for part in ("MAJOR", "MINOR", "PATCH")
        }
        self.assertEqual(f"{parts['MAJOR']}.{parts['MINOR']}.{parts['PATCH']}", version)

    def test_result_name_for_every_header_value(self):
        results = header_enum(HEADER_TEXT, "CAMB_RESULT_")
        self.assertIn("CAMB_RESULT_SERVER_ERROR", results)
        for name, value in results.items():
            with self.subTest(name=name):
                self.assertEqual(lib.camb_result_name(value), name.encode())

    def test_result_name_for_unknown_values(self):
        for value in (4, 10, 99, 405, 12345, 0xFFFFFFFF):
            with self.subTest(value=value):
                self.assertEqual(lib.camb_result_name(value), b"CAMB_RESULT_UNKNOWN_VALUE")

    def test_status_name(self):
        statuses = header_enum(HEADER_TEXT, "CAMB_STATUS_")
        self.assertEqual(len(statuses), 6)
        for name, value in statuses.items():
            with self.subTest(name=name):
                self.assertEqual(lib.camb_status_name(value), name.encode())
        self.assertEqual(lib.camb_status_name(6), b"CAMB_STATUS_UNKNOWN_VALUE")
        self.assertEqual(lib.camb_status_name(12345), b"CAMB_STATUS_UNKNOWN_VALUE")

    def test_status_is_final(self):
        self.assertIs(lib.camb_status_is_final(STATUS_PENDING), False)
        # Every other status is final, including ones this version does not know,
        # so a polling loop cannot spin forever.
        for status in (STATUS_UNKNOWN, STATUS_SUCCESS, STATUS_TIMEOUT, STATUS_ERROR, STATUS_PAYMENT_REQUIRED, 6, 12345):
            with self.subTest(status=status):
                self.assertIs(lib.camb_status_is_final(status), True)

    def test_free_functions_accept_null(self):
        # Every _free function of camb.h, called with NULL: nothing happens, and
        # (as camb_last_error() documents) this thread's last error is left alone.
        frees = sorted(name for name in header_declarations(HEADER_TEXT) if name.endswith("_free"))
        self.assertEqual(
            frees,
            sorted(
                [
                    "camb_audio_url_list_free",
                    "camb_cancel_token_free",
                    "camb_client_builder_free",
                    "camb_client_free",
                    "camb_job_free",
                    "camb_language_list_free",
                    "camb_queue_free",
                    "camb_string_free",
                    "camb_task_free",
                    "camb_task_list_free",
                    "camb_voice_list_free",
                ]
            ),
            "a new _free function: add it here",
        )
        for name in frees:
            with self.subTest(function=name):
                self.assertEqual(lib.camb_cancel_token_cancel(None), NULL_PARAMETER)  # an error to keep
                error = last_error()
                self.assertIn(b"token", error)
                self.assertIsNone(getattr(lib, name)(None))
                self.assertEqual(last_error(), error, f"{name}(NULL) changed camb_last_error()")

    def test_last_error_is_empty_after_success(self):
        lib.camb_client_builder_set_timeout_ms(None, 1)  # a failure first
        self.assertNotEqual(last_error(), b"")
        client = ClientPtr()
        self.assertEqual(lib.camb_client_new(b"some-key", byref(client)), OK)
        self.addCleanup(lib.camb_client_free, client)
        self.assertEqual(last_error(), b"")
        self.assertEqual(lib.camb_last_http_status(), 0)


# --------------------------------------------------------------------------
# Builder and client creation
# --------------------------------------------------------------------------


class BuilderTests(unittest.TestCase):
    def test_builder_flow_and_demo_success(self):
        builder = new_builder(self)
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, API_KEY.encode()), OK, last_error())
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, BASE_URL.encode()), OK, last_error())
        self.assertEqual(lib.camb_client_builder_set_timeout_ms(builder, 15000), OK, last_error())
        self.assertEqual(lib.camb_client_builder_set_max_retries(builder, 2), OK, last_error())
        client = ClientPtr()
        self.assertEqual(build(builder, byref(client)), OK, last_error())
        self.assertTrue(client)
        self.addCleanup(lib.camb_client_free, client)

        result, task = get_status(client, b"demo-success")
        self.assertEqual(result, OK, last_error())
        self.assertEqual(
            task.as_dict(),
            {
                "result": OK,
                "error": None,
                "http_status": 0,
                "task_id": b"demo-success",
                "status": STATUS_SUCCESS,
                "status_text": b"SUCCESS",
                "has_run_id": True,
                "run_id": 4242,
                "exception_reason": None,
                "message": None,
            },
        )

    def test_setters_with_null(self):
        builder = new_builder(self)
        cases = [
            ("builder", lambda: lib.camb_client_builder_set_api_key(None, b"key")),
            ("api_key", lambda: lib.camb_client_builder_set_api_key(builder, None)),
            ("builder", lambda: lib.camb_client_builder_set_base_url(None, BASE_URL.encode())),
            ("base_url", lambda: lib.camb_client_builder_set_base_url(builder, None)),
            ("builder", lambda: lib.camb_client_builder_set_timeout_ms(None, 1000)),
            ("builder", lambda: lib.camb_client_builder_set_max_retries(None, 1)),
            ("builder", lambda: lib.camb_client_builder_set_allow_insecure_http(None, True)),
            ("builder", lambda: lib.camb_client_builder_build(None, byref(ClientPtr()))),
            ("out_client", lambda: lib.camb_client_new(b"key", None)),
        ]
        for parameter, call in cases:
            with self.subTest(parameter=parameter):
                self.assertEqual(call(), NULL_PARAMETER)
                self.assertIn(parameter.encode(), last_error())
                self.assertIn(b"NULL", last_error())
                self.assertEqual(lib.camb_last_http_status(), 0)
        # The setters still work on the builder...
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, b"key"), OK)
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, BASE_URL.encode()), OK)
        # ...but it remembers its first refusal (the NULL api_key) and is not built.
        client = sentinel(ClientPtr)
        self.assertEqual(build(builder, byref(client)), NULL_PARAMETER)
        self.assertIn(b"camb_client_builder_set_api_key", last_error())
        self.assertEqual(address(client), SENTINEL, "a failed build wrote *out_client")

    def test_build_with_null_out_consumes_the_builder(self):
        # Consumed all the same: its log function's finalizer runs.
        record = LogRecord(self, finalized=1)
        builder = lib.camb_client_builder_new()
        self.assertTrue(builder)
        self.assertEqual(record.set_on(builder), OK, last_error())
        self.assertEqual(build(builder, None), NULL_PARAMETER)
        self.assertIn(b"out_client", last_error())
        self.assertEqual(len(record.finalized), 1, "the builder was not consumed")

    def test_setters_reject_bad_values(self):
        builder = new_builder(self)
        cases = [
            ("empty key", lambda: lib.camb_client_builder_set_api_key(builder, b"")),
            ("key with whitespace", lambda: lib.camb_client_builder_set_api_key(builder, b" key")),
            ("key not UTF-8", lambda: lib.camb_client_builder_set_api_key(builder, b"\xff")),
            ("not http(s)", lambda: lib.camb_client_builder_set_base_url(builder, b"ftp://127.0.0.1/")),
            ("relative url", lambda: lib.camb_client_builder_set_base_url(builder, b"apis")),
            ("url with query", lambda: lib.camb_client_builder_set_base_url(builder, b"http://127.0.0.1/?a=b")),
            ("timeout 0", lambda: lib.camb_client_builder_set_timeout_ms(builder, 0)),
            ("timeout over a day", lambda: lib.camb_client_builder_set_timeout_ms(builder, 86_400_001)),
            ("11 retries", lambda: lib.camb_client_builder_set_max_retries(builder, 11)),
        ]
        for what, call in cases:
            with self.subTest(what=what):
                self.assertEqual(call(), INVALID_PARAMETER)
                self.assertNotEqual(last_error(), b"")
        # Limits themselves are accepted.
        self.assertEqual(lib.camb_client_builder_set_timeout_ms(builder, 86_400_000), OK)
        self.assertEqual(lib.camb_client_builder_set_max_retries(builder, 10), OK)
        self.assertEqual(lib.camb_client_builder_set_max_retries(builder, 0), OK)

    def test_refused_base_url_fails_the_build(self):
        builder = lib.camb_client_builder_new()
        self.assertTrue(builder)
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, API_KEY.encode()), OK)
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, b"ftp://127.0.0.1/apis"), INVALID_PARAMETER)
        refusal = last_error()
        # A program that ignored that result and set something else...
        self.assertEqual(lib.camb_client_builder_set_timeout_ms(builder, 5000), OK, last_error())
        client = sentinel(ClientPtr)
        # ...must not get a client that talks to the default server.
        self.assertEqual(build(builder, byref(client)), INVALID_PARAMETER)
        error = last_error()
        self.assertIn(b"camb_client_builder_set_base_url", error)
        self.assertIn(refusal, error, "the setter's own reason is not repeated")
        self.assertEqual(lib.camb_last_http_status(), 0)
        self.assertEqual(address(client), SENTINEL, "a failed build wrote *out_client")

    def test_first_refusal_is_the_one_reported(self):
        builder = lib.camb_client_builder_new()
        self.assertTrue(builder)
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, API_KEY.encode()), OK)
        self.assertEqual(lib.camb_client_builder_set_max_retries(builder, 11), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, b"not a url"), INVALID_PARAMETER)
        # A later good value does not undo the refusal either.
        self.assertEqual(lib.camb_client_builder_set_max_retries(builder, 1), OK)
        client = ClientPtr()
        self.assertEqual(build(builder, byref(client)), INVALID_PARAMETER)
        self.assertIn(b"camb_client_builder_set_max_retries", last_error())
        self.assertNotIn(b"set_base_url", last_error())
        self.assertFalse(client)

    def test_proxy_and_ca_bundle_setters(self):
        builder = new_builder(self)
        secret = b"Pw-9f3kQ"
        self.assertEqual(lib.camb_client_builder_set_proxy(builder, b"http://127.0.0.1:3128"), OK, last_error())
        self.assertEqual(lib.camb_client_builder_set_proxy(builder, b"not a proxy url " + secret), INVALID_PARAMETER)
        self.assertNotIn(secret, last_error(), "the proxy URL (which may hold a password) was repeated")
        self.assertEqual(lib.camb_client_builder_set_proxy(builder, None), NULL_PARAMETER)

        garbage = b"-----BEGIN NOTHING-----\nxx\n"
        pem = (c_uint8 * len(garbage)).from_buffer_copy(garbage)
        self.assertEqual(lib.camb_client_builder_set_ca_bundle_pem(builder, pem, len(garbage)), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_builder_set_ca_bundle_pem(builder, None, 10), NULL_PARAMETER)
        with tempfile.TemporaryDirectory() as directory:
            missing = os.path.join(directory, "no-such-ca.pem")
            self.assertEqual(lib.camb_client_builder_set_ca_bundle_file(builder, os.fsencode(missing)), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_builder_set_ca_bundle_file(builder, None), NULL_PARAMETER)
        # The refusals did not break the builder's setters...
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, b"key"), OK)
        # ...and the first of them (the proxy URL) stops the build, still without the secret.
        client = ClientPtr()
        self.assertEqual(build(builder, byref(client)), INVALID_PARAMETER)
        self.assertIn(b"camb_client_builder_set_proxy", last_error())
        self.assertNotIn(secret, last_error())
        self.assertFalse(client)

    def test_plain_http_to_other_hosts_needs_opt_in(self):
        builder = lib.camb_client_builder_new()
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, b"key"), OK)
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, b"http://example.com/apis"), OK)
        client = ClientPtr()
        self.assertEqual(build(builder, byref(client)), INVALID_PARAMETER)
        self.assertFalse(client)

        builder = lib.camb_client_builder_new()
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, b"key"), OK)
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, b"http://example.com/apis"), OK)
        self.assertEqual(lib.camb_client_builder_set_allow_insecure_http(builder, True), OK)
        self.assertEqual(build(builder, byref(client)), OK, last_error())
        self.assertTrue(client)
        lib.camb_client_free(client)

    def test_client_new_with_explicit_key(self):
        # camb_client_new always uses the real API's URL, so no call is made with it.
        client = ClientPtr()
        self.assertEqual(lib.camb_client_new(b"some-key", byref(client)), OK, last_error())
        self.assertTrue(client)
        lib.camb_client_free(client)
        untouched = ClientPtr()
        self.assertEqual(lib.camb_client_new(b"", byref(untouched)), INVALID_PARAMETER)
        self.assertFalse(untouched, "a failed camb_client_new wrote *out_client")

    @unittest.skipIf("CAMB_API_KEY" in os.environ, "CAMB_API_KEY is set in this environment")
    def test_missing_api_key(self):
        client = ClientPtr()
        self.assertEqual(lib.camb_client_new(None, byref(client)), MISSING_API_KEY)
        self.assertIn(b"CAMB_API_KEY", last_error())
        self.assertFalse(client)
        builder = lib.camb_client_builder_new()
        self.assertEqual(build(builder, byref(client)), MISSING_API_KEY)
        self.assertFalse(client)

    @unittest.skipIf("CAMB_API_KEY" in os.environ, "CAMB_API_KEY is set in this environment")
    def test_key_from_environment_is_read_at_build(self):
        # os.environ assignment calls putenv, so the library's getenv sees it.
        # Nothing else in this process runs concurrently with this test.
        builder = new_builder(self)
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, BASE_URL.encode()), OK)
        os.environ["CAMB_API_KEY"] = API_KEY
        try:
            client = ClientPtr()
            self.assertEqual(build(builder, byref(client)), OK, last_error())
        finally:
            del os.environ["CAMB_API_KEY"]
        self.addCleanup(lib.camb_client_free, client)
        # The key was copied at build time: unsetting the variable changes nothing.
        result, task = get_status(client, b"demo-success")
        self.assertEqual(result, OK, last_error())
        self.assertEqual(task.run_id, 4242)


# --------------------------------------------------------------------------
# The log callback and the caller's own headers
# --------------------------------------------------------------------------

class LogRecord:
    """A camb_log_fn and its camb_finalizer_fn. The log function records (level,
    line bytes, user_data, thread, thread name) and checks each line as the
    header promises it: `len` bytes, a NUL after them, one line; a failed check
    is kept (raising into C is not allowed) and reported by check(). The
    finalizer records each call's user_data and thread, and whether a line came
    after it.

    Held by the test until its last cleanup (registered first, so run after the
    client's or builder's free): libcamb may call the thunks until the
    finalizer ran, which the cleanup checks happened `finalized` times.
    """

    def __init__(self, test, finalized=1):
        self.lines = []
        self.problems = []
        self.finalized = []  # (user_data, thread) of each finalizer call
        self.lock = threading.Lock()
        self.callback = LOG_FN(self.on_line)
        self.finalizer = FINALIZER_FN(self.on_finalize)
        if finalized is not None:
            test.addCleanup(self.check_finalized, test, finalized)

    def set_on(self, builder, level=None, user_data=None):
        level = LOG_LEVEL_DEBUG if level is None else level
        return lib.camb_client_builder_set_log(builder, level, self.callback, user_data, self.finalizer)

    def on_line(self, level, line, length, user_data):
        try:
            text = read_field(line, length)
            if text is None or b"\n" in text or b"\r" in text:
                raise AssertionError(f"not one line: {text!r}")
            text.decode("utf-8")
            with self.lock:
                if self.finalized:
                    raise AssertionError(f"a line after the finalizer: {text!r}")
                self.lines.append((level, text, user_data, threading.get_ident(), thread_name()))
        except BaseException as e:  # noqa: BLE001 - reported by check()
            self.problems.append(repr(e))

    def on_finalize(self, user_data):
        with self.lock:
            self.finalized.append((user_data, threading.get_ident()))

    def check(self, test):
        test.assertEqual(self.problems, [], "lines that break the header's promises")
        return self.lines

    def check_finalized(self, test, times):
        test.assertEqual(self.problems, [], "lines that break the header's promises")
        test.assertEqual(len(self.finalized), times, "finalizer calls once libcamb was done with the log function")


def emulator_requests(path_prefix="/"):
    return [r for r in control("/_emulator/stats")["requests"] if r["path"].startswith(path_prefix)]


def emulator_header(request, name):
    """Every value the emulator received for `name` (lower case), in order."""
    return [value for n, value in request["headers"] if n == name]


def build_with(test, setup, retries=0, free=True):
    """A client for the emulator with `setup(builder)` applied before the build;
    freed at the test's end unless free=False."""
    builder = new_builder(test)
    test.assertEqual(lib.camb_client_builder_set_api_key(builder, API_KEY.encode()), OK, last_error())
    test.assertEqual(lib.camb_client_builder_set_base_url(builder, BASE_URL.encode()), OK, last_error())
    test.assertEqual(lib.camb_client_builder_set_timeout_ms(builder, 10000), OK, last_error())
    test.assertEqual(lib.camb_client_builder_set_max_retries(builder, retries), OK, last_error())
    setup(builder)
    client = ClientPtr()
    test.assertEqual(build(builder, byref(client)), OK, last_error())
    if free:
        test.addCleanup(lib.camb_client_free, client)
    return client


def plant_fault(status, body, times=1):
    control(
        "/_emulator/faults",
        {
            "path_prefix": "/text-to-sound/",
            "times": times,
            "respond": {"status": status, "headers": [], "body": body, "content_type": "application/json"},
        },
    )


class LogCallbackTests(unittest.TestCase):
    def setUp(self):
        control("/_emulator/reset", {})

    def test_set_log_refusals(self):
        # Four accepted settings: each replaced one is finalized at once, the
        # last when the failed build consumes the builder.
        record = LogRecord(self, finalized=4)
        refused = LogRecord(self, finalized=0)
        builder = new_builder(self)
        self.assertEqual(refused.set_on(None), NULL_PARAMETER)
        self.assertIn(b"builder", last_error())
        self.assertEqual(
            lib.camb_client_builder_set_log(builder, LOG_LEVEL_DEBUG, NO_LOG_FN, None, refused.finalizer), NULL_PARAMETER
        )
        self.assertIn(b"callback", last_error())
        for level in (0, 5, 2**32 - 1):
            with self.subTest(level=level):
                self.assertEqual(refused.set_on(builder, level), INVALID_PARAMETER)
                self.assertIn(b"log level", last_error())
        for level in (LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG):
            self.assertEqual(record.set_on(builder, level), OK, last_error())
        self.assertEqual(len(record.finalized), 3, "each replaced log function is finalized at once")
        self.assertEqual(refused.finalized, [], "a refused log function was finalized: its user_data is the caller's")
        # The builder remembers its first refusal (the NULL builder is no refusal
        # of this one; the NULL callback is): the build fails, nothing is sent.
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, API_KEY.encode()), OK)
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, BASE_URL.encode()), OK)
        client = sentinel(ClientPtr)
        self.assertEqual(build(builder, byref(client)), NULL_PARAMETER)
        self.assertIn(b"camb_client_builder_set_log", last_error())
        self.assertEqual(address(client), SENTINEL, "a failed build wrote *out_client")
        self.assertEqual(len(record.finalized), 4)
        # A level out of range alone fails the build too.
        builder = new_builder(self)
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, API_KEY.encode()), OK)
        self.assertEqual(refused.set_on(builder, 0), INVALID_PARAMETER)
        self.assertEqual(build(builder, byref(client)), INVALID_PARAMETER)
        self.assertIn(b"log level 0", last_error())
        self.assertEqual(record.check(self), [], "a refused setting logged")
        self.assertEqual(emulator_requests(), [])

    def test_finalizer_called_exactly_once(self):
        tag = 0xF1A1
        # A client: not before camb_client_free, once during it, with its user_data, on its thread.
        record = LogRecord(self)
        client = build_with(self, lambda b: self.assertEqual(record.set_on(b, user_data=tag), OK), free=False)
        self.assertEqual(get_status(client, b"demo-success")[0], OK, last_error())
        self.assertEqual(record.finalized, [])
        lines = len(record.lines)
        self.assertGreater(lines, 0)
        lib.camb_client_free(client)
        self.assertEqual(record.finalized, [(tag, threading.get_ident())])
        self.assertEqual(len(record.lines), lines, "a line during the free of an idle client")
        # A builder freed unbuilt; a build that fails; another log function set.
        for what in ("freed", "build fails", "replaced"):
            with self.subTest(what=what):
                record = LogRecord(self)
                builder = lib.camb_client_builder_new()
                self.assertEqual(record.set_on(builder, user_data=tag), OK)
                if what == "freed":
                    lib.camb_client_builder_free(builder)
                elif what == "build fails":
                    self.assertEqual(lib.camb_client_builder_set_timeout_ms(builder, 0), INVALID_PARAMETER)
                    self.assertEqual(build(builder, byref(ClientPtr())), INVALID_PARAMETER)
                else:
                    other = LogRecord(self)
                    self.assertEqual(other.set_on(builder), OK)
                    self.assertEqual(len(record.finalized), 1, "the replaced function was not finalized at once")
                    self.assertEqual(other.finalized, [])
                    lib.camb_client_builder_free(builder)
                self.assertEqual(record.finalized, [(tag, threading.get_ident())])
        # A NULL finalizer is allowed.
        record = LogRecord(self, finalized=0)
        client = build_with(
            self,
            lambda b: self.assertEqual(
                lib.camb_client_builder_set_log(b, LOG_LEVEL_DEBUG, record.callback, None, NO_FINALIZER), OK
            ),
        )
        self.assertEqual(get_status(client, b"demo-success")[0], OK, last_error())
        self.assertTrue(record.check(self))

    def test_finalizer_runs_after_the_last_line_of_a_job(self):
        # A job whose request is out when the client is freed: the free
        # interrupts it and joins the pool; the finalizer comes after its last
        # line, and nothing logs after it (LogRecord fails any such line).
        control("/_emulator/faults", {"path_prefix": "/text-to-sound/", "times": 1, "delay_ms": 500})
        record = LogRecord(self)
        client = build_with(self, lambda b: self.assertEqual(record.set_on(b), OK), free=False)
        queue = new_queue(self)
        job = make_job(self, lib.camb_client_job_get_task_status, client, b"demo-success")
        submit(self, job, queue)
        self.assertTrue(until(lambda: any(b" sent (attempt 1)" in line[1] for line in record.lines)))
        freed_at = time.monotonic()
        lib.camb_client_free(client)
        self.assertLess(time.monotonic() - freed_at, 5)
        self.assertEqual(len(record.finalized), 1)
        (event, done), = take_events(self, queue, 1)
        self.assertEqual((event, address(done)), (EVENT_JOB_DONE, address(job)))
        self.assertEqual(lib.camb_job_result(done), CANCELLED)
        lines = len(record.check(self))
        time.sleep(0.7)  # the delayed reply would be in by now
        self.assertEqual(len(record.lines), lines)

    def test_lines_by_level_with_their_user_data(self):
        tag = 0xC0FFEE00
        for level in (LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG):
            with self.subTest(level=level):
                record = LogRecord(self)
                client = build_with(
                    self,
                    lambda b: self.assertEqual(record.set_on(b, level, tag + level), OK, last_error()),
                    retries=1,
                )
                self.assertEqual(get_status(client, b"demo-success")[0], OK, last_error())
                # Two 503s: a request (debug) and a reply (info) each, a retry
                # (warn), then the call given up (error).
                plant_fault(503, '{"detail":"planted outage"}', times=2)
                self.assertEqual(get_status(client, b"demo-success")[0], 500)
                lines = record.check(self)
                self.assertEqual({line[0] for line in lines}, set(range(1, level + 1)), lines)
                self.assertEqual({line[2] for line in lines}, {tag + level}, "user_data not passed back as given")
                threads = {line[3] for line in lines}
                self.assertEqual(threads, {threading.get_ident()}, "a blocking call logs on its thread")
                texts = [line[1] for line in lines]
                url = f"GET {BASE_URL}/text-to-sound/demo-success".encode()
                if level == LOG_LEVEL_DEBUG:
                    self.assertIn(url + b" sent (attempt 1)", texts)
                    self.assertTrue(any(t.startswith(url + b" replied 200 ") for t in texts), texts)
                if level == LOG_LEVEL_ERROR:
                    self.assertEqual(len(texts), 1, texts)
                    self.assertTrue(texts[0].startswith(url + b" failed: "), texts)
                    self.assertIn(b"planted outage", texts[0])

    def test_job_lines_come_from_pool_threads(self):
        record = LogRecord(self)
        client = build_with(self, lambda b: self.assertEqual(record.set_on(b), OK))
        queue = new_queue(self)
        job = make_job(self, lib.camb_client_job_get_task_status, client, b"demo-success")
        submit(self, job, queue)
        self.assertEqual(len(take_events(self, queue, 1)), 1, "the job was not handed back")
        lines = record.check(self)
        texts = [line[1] for line in lines]
        self.assertTrue(any(re.fullmatch(rb"job \d+ started", t) for t in texts), texts)
        senders = {(line[3], line[4]) for line in lines if b" sent (attempt 1)" in line[1]}
        self.assertEqual(len(senders), 1, texts)
        (sender, name), = senders
        self.assertNotEqual(sender, threading.get_ident(), "the job's request was logged on the caller's thread")
        if name is not None:  # /proc is there: one of the pool's own threads
            self.assertRegex(name, r"^camb-job-\d+$")

    def test_no_line_holds_the_key_or_a_secret_header(self):
        secret = b"gw-secret-Qz7hW2"
        record = LogRecord(self)

        def setup(builder):
            self.assertEqual(lib.camb_client_builder_add_header(builder, b"x-gateway-key", secret, True), OK)
            self.assertEqual(record.set_on(builder), OK)

        client = build_with(self, setup, retries=1)
        echo = json.dumps({"detail": f"got key {API_KEY} and gateway key {secret.decode()}"})
        plant_fault(503, echo, times=2)
        self.assertEqual(get_status(client, b"demo-success")[0], 500)
        for word in (API_KEY.encode(), secret):
            self.assertNotIn(word, last_error())
        plant_fault(401, echo)
        self.assertEqual(get_status(client, b"demo-success")[0], UNAUTHORIZED)
        # Lines about a URL that holds them (a task id pasted wrongly).
        for word in (API_KEY.encode(), secret):
            self.assertEqual(get_status(client, word)[0], NOT_FOUND)
        texts = [line[1] for line in record.check(self)]
        echoed = [t for t in texts if b"got key" in t]
        self.assertGreaterEqual(len(echoed), 3, f"the echo reached no line: {texts}")
        for text in texts:
            self.assertNotIn(API_KEY.encode(), text)
            self.assertNotIn(secret, text)
        for text in echoed:
            self.assertEqual(text.count(b"[redacted]"), 2, text)
        sent = [t for t in texts if t.startswith(f"GET {BASE_URL}/text-to-sound/[redacted] sent".encode())]
        self.assertEqual(len(sent), 2, texts)


class AddHeaderTests(unittest.TestCase):
    def setUp(self):
        control("/_emulator/reset", {})

    def test_refusals_say_why(self):
        builder = new_builder(self)
        cases = [
            (b"x-api-key", b"other", b"libcamb's own"),
            (b"X-API-KEY", b"other", b"libcamb's own"),
            (b"host", b"evil.example", b"libcamb's own"),
            (b"Content-Length", b"0", b"libcamb's own"),
            (b"transfer-encoding", b"chunked", b"libcamb's own"),
            (b"connection", b"close", b"libcamb's own"),
            (b"accept", b"*/*", b"libcamb's own"),
            (b"content-type", b"text/plain", b"libcamb's own"),
            (b"bad name", b"v", b"not an HTTP token"),
            (b"x-trace:id", b"v", b"not an HTTP token"),
            (b"", b"v", b"not an HTTP token"),
            (b"x-trace", b"a\r\nx-injected: 1", b"a CR"),
            (b"x-trace", b"a\nb", b"a LF"),
            (b"x-trace", b"a\x01b", b"a control character"),
            (b"x-trace", b"a\x7fb", b"a control character"),
            (b"x-trace", b"x" * 8193, b"the limit is 8192"),
            (b"x-trace", b"\xff\xfe", b"UTF-8"),
            (b"x-tr\xffce", b"v", b"UTF-8"),
        ]
        for name, value, why in cases:
            for secret in (False, True):
                with self.subTest(name=name, value=value[:20], secret=secret):
                    result = lib.camb_client_builder_add_header(builder, name, value, secret)
                    self.assertEqual(result, INVALID_PARAMETER)
                    self.assertIn(why, last_error())
                    if secret and len(value) > 4:
                        self.assertNotIn(value, last_error(), "a secret value was repeated")
        for args, parameter in [
            ((None, b"x-a", b"v", False), b"builder"),
            ((builder, None, b"v", False), b"name"),
            ((builder, b"x-a", None, True), b"value"),
        ]:
            with self.subTest(parameter=parameter):
                self.assertEqual(lib.camb_client_builder_add_header(*args), NULL_PARAMETER)
                self.assertIn(parameter, last_error())
        # Tabs, spaces, text beyond ASCII and empty values are values.
        for i, value in enumerate((b"a\tb c", "caf\u00e9".encode(), b"")):
            self.assertEqual(lib.camb_client_builder_add_header(builder, f"x-ok{i}".encode(), value, False), OK, last_error())
        # A name already added (in any case), and a secret too short to be searched for.
        self.assertEqual(lib.camb_client_builder_add_header(builder, b"X-OK0", b"v", False), INVALID_PARAMETER)
        self.assertIn(b"already added", last_error())
        self.assertEqual(lib.camb_client_builder_add_header(builder, b"x-short", b"abc", True), INVALID_PARAMETER)
        self.assertIn(b"under 4 bytes", last_error())
        self.assertNotIn(b"abc", last_error())

    def test_at_most_64(self):
        builder = new_builder(self)
        for i in range(64):
            self.assertEqual(lib.camb_client_builder_add_header(builder, f"x-h{i}".encode(), b"value", i % 2 == 0), OK)
        self.assertEqual(lib.camb_client_builder_add_header(builder, b"x-h64", b"v", False), INVALID_PARAMETER)
        self.assertIn(b"at most 64", last_error())

    def test_a_refusal_fails_the_build_before_anything_is_sent(self):
        builder = new_builder(self)
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, API_KEY.encode()), OK)
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, BASE_URL.encode()), OK)
        self.assertEqual(lib.camb_client_builder_add_header(builder, b"x-trace", b"a\r\nb", False), INVALID_PARAMETER)
        # A later good header does not undo it.
        self.assertEqual(lib.camb_client_builder_add_header(builder, b"traceparent", b"00-ab-cd-01", False), OK)
        client = sentinel(ClientPtr)
        self.assertEqual(build(builder, byref(client)), INVALID_PARAMETER)
        self.assertIn(b"camb_client_builder_add_header", last_error())
        self.assertIn(b"a CR", last_error())
        self.assertEqual(address(client), SENTINEL, "a failed build wrote *out_client")
        self.assertEqual(emulator_requests(), [])

    def test_headers_are_sent_as_given(self):
        headers = [
            (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", False),
            (b"X-Tenant", "acme;\tregion=eu caf\u00e9".encode(), False),
            (b"x-gateway-key", b"gw-secret-8Hn2", True),
        ]

        def setup(builder):
            for name, value, secret in headers:
                self.assertEqual(lib.camb_client_builder_add_header(builder, name, value, secret), OK, last_error())

        client = build_with(self, setup)
        self.assertEqual(get_status(client, b"demo-success")[0], OK, last_error())
        result, _ = create_task(client, b"a gong")
        self.assertEqual(result, OK, last_error())
        requests = emulator_requests()
        self.assertEqual([r["method"] for r in requests], ["GET", "POST"])
        for request in requests:
            with self.subTest(method=request["method"]):
                for name, value, _ in headers:
                    # Names travel in lower case (HTTP/1.1 names are case-blind).
                    self.assertEqual(emulator_header(request, name.decode().lower()), [value.decode()], name)
                self.assertEqual(emulator_header(request, "x-api-key"), [API_KEY])
                self.assertEqual(len(emulator_header(request, "accept")), 1, "libcamb's own header doubled")


# --------------------------------------------------------------------------
# Status queries against the emulator
# --------------------------------------------------------------------------


class TaskStatusTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)

    def check_status(self, task_id, status, text, run_id=None, reason=None, message=None):
        result, task = get_status(self.client, task_id)
        self.assertEqual(result, OK, last_error())
        self.assertEqual(last_error(), b"")
        self.assertEqual(task.status, status, lib.camb_status_name(task.status))
        self.assertEqual(task.status_text, text)
        self.assertEqual(task.task_id, task_id)
        self.assertEqual((task.result, task.error, task.http_status), (OK, None, 0))
        if run_id is None:
            self.assertIs(task.has_run_id, False)
        else:
            self.assertIs(task.has_run_id, True)
            self.assertEqual(task.run_id, run_id)
        self.assertEqual(task.exception_reason, reason)
        self.assertEqual(task.message, message)
        return task

    def test_demo_statuses(self):
        self.check_status(b"demo-success", STATUS_SUCCESS, b"SUCCESS", run_id=4242)
        self.check_status(
            b"demo-error",
            STATUS_ERROR,
            b"ERROR",
            run_id=4243,
            reason=b"PROCESSING_ERROR",
            message=b"The audio model failed to render this prompt",
        )
        self.check_status(b"demo-timeout", STATUS_TIMEOUT, b"TIMEOUT")
        self.check_status(
            b"demo-payment-required",
            STATUS_PAYMENT_REQUIRED,
            b"PAYMENT_REQUIRED",
            reason=b"PAYMENT_REQUIRED",
            message=b"Not enough credits",
        )
        self.check_status(b"demo-unknown", STATUS_UNKNOWN, b"QUEUED_FOR_GPU")
        self.check_status(b"demo-pending", STATUS_PENDING, b"PENDING")

    def test_lengths_round_trip(self):
        # Without an interior NUL, reading to the NUL and reading by length agree.
        accessors = ("camb_task_id", "camb_task_status_text", "camb_task_exception_reason", "camb_task_message")
        for task_id in (b"demo-success", b"demo-error", b"demo-unknown"):
            with self.subTest(task_id=task_id):
                task = TaskPtr()
                self.assertEqual(lib.camb_client_get_task_status(self.client, task_id, None, byref(task)), OK, last_error())
                try:
                    for name in accessors:
                        length = c_size_t(0)
                        ptr = getattr(lib, name)(task, byref(length))
                        if ptr is not None:
                            self.assertEqual(length.value, len(ctypes.string_at(ptr)), name)
                finally:
                    lib.camb_task_free(task)

    def test_planted_task_with_unusual_text(self):
        # Through the control API: a status this version does not know, a message
        # with a NUL inside (only the length can tell its end) and non-ASCII bytes.
        message = "before\u0000after h\u00e9llo \u2713"
        planted = control(
            "/_emulator/tasks",
            {
                "task_id": "py-unusual",
                "final_status": "FAILED",
                "run_id": None,
                "exception_reason": "R\u00e9ASON",
                "message": message,
            },
        )
        self.assertEqual(planted["task_id"], "py-unusual")
        self.check_status(
            b"py-unusual",
            STATUS_UNKNOWN,
            b"FAILED",
            reason="R\u00e9ASON".encode(),
            message=message.encode(),
        )
        task = TaskPtr()
        self.assertEqual(lib.camb_client_get_task_status(self.client, b"py-unusual", None, byref(task)), OK, last_error())
        self.addCleanup(lib.camb_task_free, task)
        reason_len, message_len = c_size_t(0), c_size_t(0)
        lib.camb_task_exception_reason(task, byref(reason_len))
        ptr = lib.camb_task_message(task, byref(message_len))
        self.assertEqual(reason_len.value, len("R\u00e9ASON".encode()))
        self.assertEqual(message_len.value, len(message.encode()))
        self.assertLess(len(ctypes.string_at(ptr)), message_len.value, "the NUL is inside")

    def test_object_message_is_compact_json(self):
        control(
            "/_emulator/tasks",
            {"task_id": "py-object", "final_status": "ERROR", "omit_run_id": True, "message": {"code": 7, "detail": "x y"}},
        )
        result, task = get_status(self.client, b"py-object")
        self.assertEqual(result, OK, last_error())
        self.assertEqual(task.status, STATUS_ERROR)
        self.assertIs(task.has_run_id, False)
        self.assertEqual(json.loads(task.message), {"code": 7, "detail": "x y"})
        self.assertNotIn(b"\n", task.message)
        self.assertNotIn(b": ", task.message, "message JSON is not compact")

    def test_null_parameters(self):
        client = self.client
        cases = [
            ("client", lambda out: lib.camb_client_get_task_status(None, b"demo-success", None, out)),
            ("task_id", lambda out: lib.camb_client_get_task_status(client, None, None, out)),
            ("out_task", lambda out: lib.camb_client_get_task_status(client, b"demo-success", None, None)),
            (None, lambda out: lib.camb_client_get_task_status(None, None, None, None)),
        ]
        for parameter, call in cases:
            with self.subTest(parameter=parameter):
                task = sentinel(TaskPtr)
                self.assertEqual(call(byref(task)), NULL_PARAMETER)
                error = last_error()
                self.assertIn(b"NULL", error)
                if parameter is not None:
                    self.assertIn(parameter.encode(), error)
                self.assertEqual(address(task), SENTINEL, "out_task was written on failure")
                self.assertEqual(lib.camb_last_http_status(), 0)

    def test_invalid_task_ids(self):
        for task_id in (b"\xff", b"ok-then-\xc3", b"", b".", b"..", b"x" * 1025):
            with self.subTest(task_id=task_id[:20]):
                result, task = get_status(self.client, task_id)  # checks *out_task is untouched
                self.assertEqual(result, INVALID_PARAMETER)
                # The message names the culprit, as "task_id" or "task id".
                self.assertRegex(last_error(), rb"task[ _]id")
                self.assertEqual(lib.camb_last_http_status(), 0)

    def test_not_found(self):
        result, task = get_status(self.client, b"no-such-task-1234")
        self.assertEqual(result, NOT_FOUND)
        self.assertIsNone(task)
        self.assertIn(b"no-such-task-1234", last_error())
        self.assertEqual(lib.camb_last_http_status(), 404)

    def test_task_id_is_one_path_segment(self):
        control("/_emulator/reset", {})
        result, _ = get_status(self.client, b"a/b?c%d")
        self.assertEqual(result, NOT_FOUND)
        # The emulator decodes the segment and names it in its 404.
        self.assertIn(b"a/b?c%d", last_error())
        paths = [request["path"] for request in control("/_emulator/stats")["requests"]]
        self.assertEqual(paths, ["/text-to-sound/a%2Fb%3Fc%25d"])

    def test_wrong_key(self):
        secret = "wrong-key-Zq8xW31v"
        client = build_client(self, key=secret)
        result, _ = get_status(client, b"demo-success")
        self.assertEqual(result, UNAUTHORIZED)
        self.assertEqual(lib.camb_last_http_status(), 401)
        error = last_error()
        self.assertNotEqual(error, b"")
        self.assertNotIn(secret.encode(), error)
        self.assertNotIn(b"Zq8xW31v", error)

    def test_success_clears_the_error(self):
        self.assertEqual(get_status(self.client, b"no-such-task")[0], NOT_FOUND)
        self.assertEqual(lib.camb_last_http_status(), 404)
        self.assertEqual(get_status(self.client, b"demo-success")[0], OK)
        self.assertEqual(last_error(), b"")
        self.assertEqual(lib.camb_last_http_status(), 0)


class TaskObjectTests(unittest.TestCase):
    """What the header promises of a camb_task itself: NULL-safe accessors, and
    contents that belong to the task alone (not to a thread, nor to the next call)."""

    def setUp(self):
        self.client = build_client(self)

    def test_accessors_of_null(self):
        length = c_size_t(99)
        run_id = c_int64(-5)
        self.assertEqual(lib.camb_task_result(None), NULL_PARAMETER)
        self.assertIsNone(lib.camb_task_error(None, byref(length)))
        self.assertEqual(length.value, 0)
        self.assertEqual(lib.camb_task_http_status(None), 0)
        length.value = 99
        self.assertEqual(ctypes.string_at(lib.camb_task_id(None, byref(length))), b"", "camb_task_id(NULL) is not \"\"")
        self.assertEqual(length.value, 0)
        self.assertEqual(lib.camb_task_status(None), STATUS_UNKNOWN)
        for name in ("camb_task_status_text", "camb_task_exception_reason", "camb_task_message"):
            with self.subTest(accessor=name):
                length.value = 99
                self.assertIsNone(getattr(lib, name)(None, byref(length)))
                self.assertEqual(length.value, 0)
                self.assertIsNone(getattr(lib, name)(None, None))
        self.assertIs(lib.camb_task_run_id(None, byref(run_id)), False)
        self.assertEqual(run_id.value, -5)
        self.assertIs(lib.camb_task_run_id(None, None), False)
        self.assertEqual(lib.camb_task_list_len(None), 0)
        self.assertIsNone(address(lib.camb_task_list_get(None, 0)))

    def test_task_strings_outlive_later_calls(self):
        task = TaskPtr()
        self.assertEqual(lib.camb_client_get_task_status(self.client, b"demo-error", None, byref(task)), OK, last_error())
        self.addCleanup(lib.camb_task_free, task)
        length = c_size_t(0)
        message = lib.camb_task_message(task, byref(length))
        before = ctypes.string_at(message, length.value)
        self.assertEqual(before, b"The audio model failed to render this prompt")
        # Calls that succeed and fail on this thread, with texts of their own.
        for task_id in (b"demo-payment-required", b"no-such-task-xyz", b"demo-unknown"):
            get_status(self.client, task_id)
        self.assertEqual(ctypes.string_at(message, length.value), before, "the task's message changed under it")
        self.assertEqual(lib.camb_task_message(task, None), message, "the task's message moved")
        self.assertEqual(TaskView(task).exception_reason, b"PROCESSING_ERROR")

    def test_result_read_on_another_thread(self):
        # The calls run on a worker thread that then ends (its thread-local state
        # with it); the main thread reads the results afterwards.
        made = {}
        failures = []

        def worker():
            try:
                task = TaskPtr()
                if lib.camb_client_get_task_status(self.client, b"demo-error", None, byref(task)) != OK:
                    failures.append(f"status: {last_error()!r}")
                made["status"] = task
                waited = TaskPtr()
                options = wait_options(initial_ms=50)
                result = lib.camb_client_wait_for_task(
                    self.client, b"demo-payment-required", byref(options), None, NO_PROGRESS, None, byref(waited)
                )
                if result != OK:
                    failures.append(f"wait: {last_error()!r}")
                made["wait"] = waited
                ids = (c_char_p * 2)(b"demo-success", b"no-such-task-thread")
                task_list = TaskListPtr()
                if lib.camb_client_get_task_statuses(self.client, ids, 2, 2, None, byref(task_list)) != OK:
                    failures.append(f"batch: {last_error()!r}")
                made["list"] = task_list
                # The thread's last call fails, with words of its own.
                get_status(self.client, b"no-such-task-last")
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(repr(e))

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(timeout=30)
        self.assertFalse(thread.is_alive(), "the worker did not finish")
        self.assertEqual(failures, [])
        self.addCleanup(lib.camb_task_list_free, made["list"])

        status = take_task(made["status"])
        self.assertEqual(
            (status.task_id, status.status, status.run_id, status.exception_reason, status.message),
            (b"demo-error", STATUS_ERROR, 4243, b"PROCESSING_ERROR", b"The audio model failed to render this prompt"),
        )
        waited = take_task(made["wait"])
        self.assertEqual(
            (waited.task_id, waited.status, waited.status_text, waited.has_run_id, waited.message),
            (b"demo-payment-required", STATUS_PAYMENT_REQUIRED, b"PAYMENT_REQUIRED", False, b"Not enough credits"),
        )
        task_list = made["list"]
        self.assertEqual(lib.camb_task_list_len(task_list), 2)
        first = TaskView(lib.camb_task_list_get(task_list, 0))
        second = TaskView(lib.camb_task_list_get(task_list, 1))
        self.assertEqual((first.task_id, first.run_id, first.status_text), (b"demo-success", 4242, b"SUCCESS"))
        self.assertEqual((second.result, second.http_status), (NOT_FOUND, 404))
        self.assertIn(b"no-such-task-thread", second.error)
        self.assertNotIn(b"no-such-task-last", second.error, "the worker's last error leaked into the list")


# --------------------------------------------------------------------------
# One client, many threads
# --------------------------------------------------------------------------


class ThreadTests(unittest.TestCase):
    THREADS = 8
    CALLS = 25

    def test_shared_client_and_per_thread_errors(self):
        # Freed only once every thread has returned: a stuck thread may still be
        # inside a call on it, so then it is leaked rather than freed under it.
        client = build_client(self, free=False)
        start = threading.Barrier(self.THREADS)
        failures = []  # list.append is atomic under the GIL
        finished = []

        def worker(n):
            try:
                start.wait(timeout=30)
                for i in range(self.CALLS):
                    # A mix, different in each thread, so that successes and
                    # failures of different threads interleave.
                    if (i + n) % 3 == 0:
                        result, task = get_status(client, b"demo-success")
                        if result != OK:
                            failures.append(f"thread {n} call {i}: {result} {last_error()!r}")
                        elif task.run_id != 4242 or task.status_text != b"SUCCESS":
                            failures.append(f"thread {n} call {i}: wrong task {task}")
                        elif last_error() != b"":
                            failures.append(f"thread {n} call {i}: success left error {last_error()!r}")
                    else:
                        # A unique id, so this thread's error can only be its own.
                        task_id = f"missing-t{n}-c{i}".encode()
                        result, _ = get_status(client, task_id)
                        error = last_error()
                        if result != NOT_FOUND:
                            failures.append(f"thread {n} call {i}: {result} {error!r}")
                        elif task_id not in error:
                            failures.append(f"thread {n} call {i}: error {error!r} is not about {task_id!r}")
                        elif lib.camb_last_http_status() != 404:
                            failures.append(f"thread {n} call {i}: http status {lib.camb_last_http_status()}")
                finished.append(n)
            except Exception as e:  # noqa: BLE001 - reported below, not lost in the thread
                failures.append(f"thread {n}: {e!r}")

        threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(self.THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        stuck = [thread.name for thread in threads if thread.is_alive()]
        self.assertEqual(stuck, [], "threads did not finish within 60 s")
        lib.camb_client_free(client)
        self.assertEqual(failures, [])
        self.assertEqual(sorted(finished), list(range(self.THREADS)))


# --------------------------------------------------------------------------
# The workflow: create, wait, fetch the audio
# --------------------------------------------------------------------------


def wait_options(initial_ms=100, factor=1.0, max_ms=None, deadline_ms=10000):
    """Options from camb_wait_options_default(), with these fields changed."""
    options = wait_options_default()
    options.initial_interval_ms = initial_ms
    options.backoff_factor = factor
    options.max_interval_ms = initial_ms if max_ms is None else max_ms
    options.deadline_ms = deadline_ms
    return options


def create_task(client, prompt, options=None, token=None):
    """(result, task id bytes or None) for one create call; the id string is freed."""
    task_id = sentinel(OwnedStringPtr)
    length = c_size_t(12345)
    result = lib.camb_client_create_task(
        client, prompt, None if options is None else byref(options), token, byref(task_id), byref(length)
    )
    if result != OK:
        assert address(task_id) == SENTINEL, "out_task_id was written on failure"
        assert length.value == 12345, "out_len was written on failure"
        return result, None
    return result, take_string(task_id, length.value)


def create_requests():
    """The bodies of the POST /text-to-sound the emulator has seen since its last reset."""
    return [r["body"] for r in control("/_emulator/stats")["requests"] if r["path"] == "/text-to-sound"]


def new_token(test):
    token = lib.camb_cancel_token_new()
    test.assertTrue(token, "camb_cancel_token_new returned NULL")
    test.addCleanup(lib.camb_cancel_token_free, token)
    return token


def is_wav(data):
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


class CancelTokenTests(unittest.TestCase):
    def test_cancel_reset_and_query(self):
        token = new_token(self)
        self.assertIs(lib.camb_cancel_token_is_cancelled(token), False)
        self.assertEqual(lib.camb_cancel_token_cancel(token), OK, last_error())
        self.assertIs(lib.camb_cancel_token_is_cancelled(token), True)
        self.assertEqual(lib.camb_cancel_token_cancel(token), OK, "cancelling twice is fine")
        self.assertEqual(lib.camb_cancel_token_reset(token), OK, last_error())
        self.assertIs(lib.camb_cancel_token_is_cancelled(token), False)

    def test_null_token(self):
        self.assertEqual(lib.camb_cancel_token_cancel(None), NULL_PARAMETER)
        self.assertIn(b"NULL", last_error())
        self.assertEqual(lib.camb_cancel_token_reset(None), NULL_PARAMETER)
        self.assertIs(lib.camb_cancel_token_is_cancelled(None), False)
        lib.camb_cancel_token_free(None)

    def test_cancel_from_other_threads(self):
        token = new_token(self)
        threads = [threading.Thread(target=lib.camb_cancel_token_cancel, args=(token,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        self.assertIs(lib.camb_cancel_token_is_cancelled(token), True)


class CreateTaskTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)

    def test_default_options(self):
        options = create_options_default()
        self.assertEqual(options.struct_size, ctypes.sizeof(CambCreateOptions))
        self.assertEqual(options.duration_s, 0.0)
        self.assertEqual(options.audio_type, AUDIO_TYPE_DEFAULT)
        self.assertIsNone(options.project_name)
        self.assertIsNone(options.project_description)
        self.assertIs(options.has_folder_id, False)
        self.assertIs(options.retry, False)

    def test_create_then_status(self):
        # NULL options are the defaults; the emulator here finishes tasks at once.
        task_id = sentinel(OwnedStringPtr)
        length = c_size_t(0)
        result = lib.camb_client_create_task(self.client, b"waves on a beach", None, None, byref(task_id), byref(length))
        self.assertEqual(result, OK, last_error())
        self.assertEqual(last_error(), b"")
        self.assertNotEqual(address(task_id), SENTINEL)
        self.assertGreater(length.value, 0)
        # A new string: NUL-terminated at its length, its owner the caller.
        text = take_string(task_id, length.value)
        self.assertEqual(len(text), length.value)
        result, task = get_status(self.client, text)
        self.assertEqual(result, OK, last_error())
        self.assertEqual(task.task_id, text)
        self.assertEqual(task.status, STATUS_SUCCESS)
        self.assertIs(task.has_run_id, True)

    def test_out_len_may_be_null(self):
        task_id = OwnedStringPtr()
        self.assertEqual(lib.camb_client_create_task(self.client, b"hail", None, None, byref(task_id), None), OK, last_error())
        text = ctypes.string_at(task_id)
        lib.camb_string_free(task_id)
        self.assertTrue(text)
        self.assertEqual(get_status(self.client, text)[1].task_id, text)

    def test_create_with_every_option(self):
        options = create_options_default()
        options.duration_s = 3.5
        options.audio_type = AUDIO_TYPE_SOUND
        options.project_name = "caf\u00e9 project".encode()
        options.project_description = b"from ctypes"
        options.has_folder_id = True
        options.folder_id = 77
        options.retry = True
        control("/_emulator/reset", {})
        result, task_id = create_task(self.client, b"rain on a tin roof", options)
        self.assertEqual(result, OK, last_error())
        self.assertTrue(task_id)
        bodies = create_requests()
        self.assertEqual(len(bodies), 1)
        self.assertEqual(
            json.loads(bodies[0]),
            {
                "prompt": "rain on a tin roof",
                "duration": 3.5,
                "audio_type": "sound",
                "project_name": "caf\u00e9 project",
                "project_description": "from ctypes",
                "folder_id": 77,
            },
        )
        result, task = get_status(self.client, task_id)
        self.assertEqual(result, OK, last_error())
        self.assertEqual(task.status, STATUS_SUCCESS)

    def test_music_longer_than_sound(self):
        options = create_options_default()
        options.duration_s = 30
        options.audio_type = AUDIO_TYPE_MUSIC
        result, task_id = create_task(self.client, b"a slow waltz", options)
        self.assertEqual(result, OK, last_error())
        self.assertTrue(task_id)

    def test_refused_before_any_request(self):
        def options_with(**fields):
            options = create_options_default()
            for name, value in fields.items():
                setattr(options, name, value)
            return options

        cases = [
            ("empty prompt", b"", None),
            ("prompt not UTF-8", b"\xffwaves", None),
            ("11 s of sound", b"waves", options_with(duration_s=11.0, audio_type=AUDIO_TYPE_SOUND)),
            ("negative duration", b"waves", options_with(duration_s=-1.0)),
            ("unknown audio type", b"waves", options_with(audio_type=9)),
            ("project name not UTF-8", b"waves", options_with(project_name=b"\xff")),
            ("options without struct_size", b"waves", CambCreateOptions()),
        ]
        control("/_emulator/reset", {})
        for what, prompt, options in cases:
            with self.subTest(what=what):
                result, _ = create_task(self.client, prompt, options)  # checks the out-params are untouched
                self.assertEqual(result, INVALID_PARAMETER, last_error())
                self.assertNotEqual(last_error(), b"")
                self.assertEqual(lib.camb_last_http_status(), 0)
        self.assertEqual(create_requests(), [], "a refused create reached the server")

    def test_null_parameters(self):
        task_id = sentinel(OwnedStringPtr)
        length = c_size_t(0)
        control("/_emulator/reset", {})
        for parameter, call in [
            ("client", lambda: lib.camb_client_create_task(None, b"waves", None, None, byref(task_id), byref(length))),
            ("prompt", lambda: lib.camb_client_create_task(self.client, None, None, None, byref(task_id), byref(length))),
            ("out_task_id", lambda: lib.camb_client_create_task(self.client, b"waves", None, None, None, byref(length))),
        ]:
            with self.subTest(parameter=parameter):
                self.assertEqual(call(), NULL_PARAMETER)
                self.assertIn(parameter.encode(), last_error())
                self.assertEqual(address(task_id), SENTINEL)
        self.assertEqual(create_requests(), [])

    def test_server_validation(self):
        # Longer than the emulator renders for music: refused by the server, with 422.
        options = create_options_default()
        options.duration_s = 100000.0
        options.audio_type = AUDIO_TYPE_MUSIC
        result, _ = create_task(self.client, b"a very long symphony", options)
        self.assertEqual(result, VALIDATION, last_error())
        self.assertEqual(lib.camb_last_http_status(), 422)
        self.assertIn(b"duration", last_error())

    def test_wrong_key(self):
        client = build_client(self, key="wrong-key-for-create")
        self.assertEqual(create_task(client, b"waves")[0], UNAUTHORIZED)


class WaitTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)

    def wait(self, task_id, options=None, token=None, progress=None, user_data=None):
        """(result, TaskView or None, seconds) for one wait; `progress` is a
        CFUNCTYPE the caller holds. On failure it checks *out_task is untouched."""
        task = sentinel(TaskPtr)
        started = time.monotonic()
        result = lib.camb_client_wait_for_task(
            self.client,
            task_id,
            None if options is None else byref(options),
            token,
            NO_PROGRESS if progress is None else progress,
            user_data,
            byref(task),
        )
        seconds = time.monotonic() - started
        if result != OK:
            self.assertEqual(address(task), SENTINEL, "out_task was written on failure")
            return result, None, seconds
        return result, take_task(task), seconds

    def test_default_options(self):
        options = wait_options_default()
        self.assertEqual(options.struct_size, ctypes.sizeof(CambWaitOptions))
        self.assertEqual(options.initial_interval_ms, 2000)
        self.assertEqual(options.backoff_factor, 1.5)
        self.assertEqual(options.max_interval_ms, 15000)
        self.assertEqual(options.deadline_ms, 600000)

    def test_final_at_once_with_default_options(self):
        result, task, seconds = self.wait(b"demo-success")
        self.assertEqual(result, OK, last_error())
        self.assertEqual(task.status, STATUS_SUCCESS)
        self.assertEqual(task.run_id, 4242)
        self.assertEqual(task.status_text, b"SUCCESS")
        self.assertEqual(task.task_id, b"demo-success")
        self.assertLess(seconds, 5)

    def test_final_statuses_are_successes_of_the_wait(self):
        for directive, status in [
            (b"[status:ERROR]", STATUS_ERROR),
            (b"[status:TIMEOUT]", STATUS_TIMEOUT),
            (b"[status:PAYMENT_REQUIRED]", STATUS_PAYMENT_REQUIRED),
            (b"[status:QUEUED_FOR_GPU]", STATUS_UNKNOWN),
        ]:
            with self.subTest(directive=directive):
                result, task_id = create_task(self.client, b"waves [pending_ms:200] " + directive)
                self.assertEqual(result, OK, last_error())
                result, task, _ = self.wait(task_id, wait_options(initial_ms=50))
                self.assertEqual(result, OK, last_error())
                self.assertEqual(task.result, OK)
                self.assertEqual(task.status, status)
                self.assertEqual(task.status_text, directive[8:-1])
        result, task, _ = self.wait(b"demo-error", wait_options())
        self.assertEqual(result, OK, last_error())
        self.assertEqual(task.exception_reason, b"PROCESSING_ERROR")

    def test_progress_sees_status_changes(self):
        result, task_id = create_task(self.client, b"thunder [pending_ms:600]")
        self.assertEqual(result, OK, last_error())
        steps = []
        nested = []

        def on_progress(progress_ptr, user_data):
            p = progress_ptr.contents
            # Everything it points to is valid only now: copy it out.
            text = read_field(p.status_text, p.status_text_len)
            # It may call libcamb; the progress strings stay valid across that.
            nested.append(get_status(self.client, task_id)[0])
            steps.append(
                {
                    "polls": p.polls,
                    "elapsed_ms": p.elapsed_ms,
                    "poll_result": p.poll_result,
                    "status": p.status,
                    "text": text,
                    "text_after_call": read_field(p.status_text, p.status_text_len),
                    "error": read_field(p.error_message, p.error_message_len),
                    "changed": p.status_changed,
                    "done": p.done,
                    "next": p.next_poll_in_ms,
                    "user_data": user_data,
                }
            )
            return True

        callback = PROGRESS_FN(on_progress)  # alive until the wait returns
        result, task, _ = self.wait(task_id, wait_options(initial_ms=100), progress=callback, user_data=c_void_p(1234))
        self.assertEqual(result, OK, last_error())
        self.assertEqual(task.status, STATUS_SUCCESS)
        self.assertIs(task.has_run_id, True)
        self.assertGreaterEqual(len(steps), 3, steps)
        self.assertEqual([s["polls"] for s in steps], list(range(1, len(steps) + 1)))
        self.assertTrue(all(s["user_data"] == 1234 for s in steps), "user_data was not passed through")
        self.assertTrue(all(s["poll_result"] == OK and s["error"] is None for s in steps), steps)
        self.assertTrue(all(s["text"] == s["text_after_call"] for s in steps), steps)
        self.assertEqual(nested, [OK] * len(steps))
        first, last = steps[0], steps[-1]
        self.assertEqual((first["status"], first["text"], first["changed"], first["done"]), (STATUS_PENDING, b"PENDING", True, False))
        self.assertEqual(first["next"], 100)
        self.assertEqual((last["status"], last["text"], last["changed"], last["done"], last["next"]), (STATUS_SUCCESS, b"SUCCESS", True, True, 0))
        # Only the two changes are flagged; the polls between are unchanged PENDING.
        self.assertEqual([s["status"] for s in steps if s["changed"]], [STATUS_PENDING, STATUS_SUCCESS])
        self.assertTrue(all(s["status"] == STATUS_PENDING and not s["done"] for s in steps[:-1]))
        elapsed = [s["elapsed_ms"] for s in steps]
        self.assertEqual(elapsed, sorted(elapsed))

    def test_progress_returning_false_stops_the_wait(self):
        calls = []

        def on_progress(progress_ptr, user_data):
            calls.append(progress_ptr.contents.polls)
            return False

        callback = PROGRESS_FN(on_progress)
        result, task, seconds = self.wait(b"demo-pending", wait_options(initial_ms=50), progress=callback)
        self.assertEqual(result, CANCELLED, last_error())
        self.assertEqual(calls, [1])
        self.assertIsNone(task)

    def test_cancelled_from_another_thread(self):
        token = new_token(self)
        polled = threading.Event()
        cancelled_at = []

        def on_progress(progress_ptr, user_data):
            polled.set()
            return True

        def canceller():
            if polled.wait(timeout=10):
                time.sleep(0.3)  # the waiter is now asleep in its 15 s pause
                cancelled_at.append(time.monotonic())
                lib.camb_cancel_token_cancel(token)

        callback = PROGRESS_FN(on_progress)
        thread = threading.Thread(target=canceller, daemon=True)
        thread.start()
        # A long interval: without the wake-up the wait would sleep 15 s; the
        # deadline ends it anyway if cancellation is broken.
        options = wait_options(initial_ms=15000, deadline_ms=20000)
        result, task, _ = self.wait(b"demo-pending", options, token=token, progress=callback)
        returned_at = time.monotonic()
        thread.join(timeout=10)
        self.assertEqual(result, CANCELLED, last_error())
        self.assertNotEqual(last_error(), b"")
        self.assertEqual(len(cancelled_at), 1, "the canceller did not run")
        self.assertLess(returned_at - cancelled_at[0], 2.0, "the sleeping wait was not woken at once")
        self.assertIsNone(task)
        # The token stays raised: a later wait stops before it starts...
        control("/_emulator/reset", {})
        result, _, _ = self.wait(b"demo-success", options, token=token)
        self.assertEqual(result, CANCELLED)
        self.assertEqual(control("/_emulator/stats")["requests"], [], "a cancelled wait polled")
        # ...until it is reset.
        self.assertEqual(lib.camb_cancel_token_reset(token), OK)
        result, task, _ = self.wait(b"demo-success", options, token=token)
        self.assertEqual(result, OK, last_error())
        self.assertEqual(task.run_id, 4242)

    def test_deadline(self):
        result, task, seconds = self.wait(b"demo-pending", wait_options(initial_ms=50, factor=1.5, max_ms=100, deadline_ms=400))
        self.assertEqual(result, TIMEOUT, last_error())
        self.assertIn(b"PENDING", last_error())
        self.assertIsNone(task)
        self.assertGreaterEqual(seconds, 0.3)
        self.assertLess(seconds, 3)

    def test_non_transient_errors_end_the_wait(self):
        result, _, seconds = self.wait(b"no-such-task-wait", wait_options())
        self.assertEqual(result, NOT_FOUND)
        self.assertEqual(lib.camb_last_http_status(), 404)
        self.assertLess(seconds, 3)

    def test_invalid_options(self):
        for what, options in [
            ("initial 0", wait_options(initial_ms=0, max_ms=100)),
            ("initial over max", wait_options(initial_ms=200, max_ms=100)),
            ("factor below 1", wait_options(factor=0.5)),
            ("factor over 10", wait_options(factor=11.0)),
            ("factor NaN", wait_options(factor=float("nan"))),
            ("deadline 0", wait_options(deadline_ms=0)),
            ("deadline over a day", wait_options(deadline_ms=86_400_001)),
            # Filled in by hand, not from camb_wait_options_default().
            ("no struct_size", CambWaitOptions(initial_interval_ms=100, backoff_factor=1.0, max_interval_ms=100, deadline_ms=1000)),
        ]:
            with self.subTest(what=what):
                result, task, _ = self.wait(b"demo-success", options)
                self.assertEqual(result, INVALID_PARAMETER)
                self.assertNotEqual(last_error(), b"")
                self.assertIsNone(task)

    def test_null_parameters(self):
        task = sentinel(TaskPtr)
        for parameter, call in [
            ("client", lambda: lib.camb_client_wait_for_task(None, b"demo-success", None, None, NO_PROGRESS, None, byref(task))),
            ("task_id", lambda: lib.camb_client_wait_for_task(self.client, None, None, None, NO_PROGRESS, None, byref(task))),
            ("out_task", lambda: lib.camb_client_wait_for_task(self.client, b"demo-success", None, None, NO_PROGRESS, None, None)),
        ]:
            with self.subTest(parameter=parameter):
                self.assertEqual(call(), NULL_PARAMETER)
                self.assertIn(parameter.encode(), last_error())
                self.assertEqual(address(task), SENTINEL)


class OptionsStructSizeTests(unittest.TestCase):
    """struct_size: a smaller one (a program built with an older camb.h) is read
    field by field, the missing fields taking their defaults; a larger one (a
    newer camb.h than the library) is refused."""

    def setUp(self):
        self.client = build_client(self)
        control("/_emulator/reset", {})

    @staticmethod
    def size_through(mirror, field):
        """The struct_size of a struct that ends with `field`."""
        descriptor = getattr(mirror, field)
        return descriptor.offset + descriptor.size

    def test_create_options_up_to_the_first_field(self):
        options = create_options_default()
        options.duration_s = 3.0
        # Fields past the struct_size below: each would be sent, or refused, if read.
        options.audio_type = 9  # not a CAMB_AUDIO_TYPE_*
        options.project_name = b"\xff"  # not UTF-8
        options.has_folder_id = True
        options.folder_id = 5
        result, _ = create_task(self.client, b"short struct", options)
        self.assertEqual(result, INVALID_PARAMETER, "read whole, these options are refused")
        self.assertEqual(create_requests(), [])

        options.struct_size = self.size_through(CambCreateOptions, "duration_s")
        self.assertEqual(options.struct_size, 16)
        result, task_id = create_task(self.client, b"short struct", options)
        self.assertEqual(result, OK, last_error())
        self.assertTrue(task_id)
        # duration_s was read; audio_type, project and folder took their defaults.
        self.assertEqual([json.loads(body) for body in create_requests()], [{"prompt": "short struct", "duration": 3.0}])

    def test_create_options_with_only_struct_size(self):
        options = create_options_default()
        options.duration_s = 11.0
        options.audio_type = AUDIO_TYPE_SOUND  # 11 s of sound: refused if read
        options.struct_size = ctypes.sizeof(c_size_t)
        result, _ = create_task(self.client, b"defaults only", options)
        self.assertEqual(result, OK, last_error())
        self.assertEqual([json.loads(body) for body in create_requests()], [{"prompt": "defaults only"}])

    def test_create_options_larger_than_the_library_knows(self):
        class Newer(Structure):  # a later camb.h's struct: one more field at the end
            _fields_ = [("options", CambCreateOptions), ("added", c_uint64)]

        newer = Newer(create_options_default(), 1)
        newer.options.struct_size = ctypes.sizeof(Newer)
        task_id = sentinel(OwnedStringPtr)
        options = ctypes.cast(byref(newer), CreateOptionsPtr)
        result = lib.camb_client_create_task(self.client, b"from the future", options, None, byref(task_id), None)
        self.assertEqual(result, INVALID_PARAMETER)
        self.assertIn(b"struct_size", last_error())
        self.assertIn(str(ctypes.sizeof(Newer)).encode(), last_error())
        self.assertEqual(address(task_id), SENTINEL)
        self.assertEqual(create_requests(), [], "a refused create reached the server")
        # One byte more is as unknown as a whole field.
        options = create_options_default()
        options.struct_size += 1
        padded = (ctypes.c_uint8 * (ctypes.sizeof(CambCreateOptions) + 8)).from_buffer_copy(bytes(options) + bytes(8))
        result = lib.camb_client_create_task(
            self.client, b"one byte more", ctypes.cast(padded, CreateOptionsPtr), None, byref(task_id), None
        )
        self.assertEqual(result, INVALID_PARAMETER)

    def wait_with(self, options, prompt):
        """Waits on a new task that stays PENDING for a while; the progress's
        next_poll_in_ms of each poll, and the result."""
        result, task_id = create_task(self.client, prompt)
        self.assertEqual(result, OK, last_error())
        pauses = []
        callback = PROGRESS_FN(lambda p, _: pauses.append(p.contents.next_poll_in_ms) or True)
        task = TaskPtr()
        result = lib.camb_client_wait_for_task(self.client, task_id, byref(options), None, callback, None, byref(task))
        lib.camb_task_free(task)
        return result, pauses

    def test_wait_options_up_to_the_first_field(self):
        options = wait_options_default()
        options.initial_interval_ms = 50
        # Fields past the struct_size below: refused if read.
        options.backoff_factor = 0.5
        options.max_interval_ms = 1
        options.deadline_ms = 0
        result, _ = self.wait_with(options, b"hum [pending_ms:400]")
        self.assertEqual(result, INVALID_PARAMETER, "read whole, these options are refused")

        options.struct_size = self.size_through(CambWaitOptions, "initial_interval_ms")
        self.assertEqual(options.struct_size, 16)
        result, pauses = self.wait_with(options, b"hum [pending_ms:400]")
        self.assertEqual(result, OK, last_error())
        # 50 ms read from the caller, then growing by the default factor 1.5
        # (under the default 15 s ceiling and 10 min deadline).
        self.assertGreaterEqual(len(pauses), 3, pauses)
        self.assertEqual(pauses[:3], [50, 75, 112])
        self.assertEqual(pauses[-1], 0)

    def test_wait_options_larger_than_the_library_knows(self):
        class Newer(Structure):
            _fields_ = [("options", CambWaitOptions), ("added", c_uint64)]

        newer = Newer(wait_options_default(), 7)
        newer.options.struct_size = ctypes.sizeof(Newer)
        task = sentinel(TaskPtr)
        result = lib.camb_client_wait_for_task(
            self.client, b"demo-success", ctypes.cast(byref(newer), WaitOptionsPtr), None, NO_PROGRESS, None, byref(task)
        )
        self.assertEqual(result, INVALID_PARAMETER)
        self.assertIn(b"struct_size", last_error())
        self.assertEqual(address(task), SENTINEL)
        self.assertEqual(control("/_emulator/stats")["requests"], [], "a refused wait polled")


class DownloadTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)

    def test_download_through_a_callback(self):
        chunks = []

        def write(data, length, user_data):
            chunks.append((ctypes.string_at(data, length), user_data))
            return True

        callback = WRITE_FN(write)
        total = c_uint64(0)
        result = lib.camb_client_download_audio(self.client, 4242, None, callback, c_void_p(99), byref(total))
        self.assertEqual(result, OK, last_error())
        data = b"".join(chunk for chunk, _ in chunks)
        self.assertTrue(is_wav(data), data[:16])
        self.assertEqual(total.value, len(data))
        self.assertEqual(int.from_bytes(data[4:8], "little") + 8, len(data), "RIFF size")
        self.assertTrue(all(0 < len(chunk) <= 64 * 1024 for chunk, _ in chunks))
        self.assertTrue(all(user_data == 99 for _, user_data in chunks))
        # out_bytes may be NULL.
        self.assertEqual(lib.camb_client_download_audio(self.client, 4242, None, callback, None, None), OK)

    def test_write_returning_false_stops_it(self):
        calls = []

        def write(data, length, user_data):
            calls.append(length)
            return False

        callback = WRITE_FN(write)
        total = c_uint64(12345)
        result = lib.camb_client_download_audio(self.client, 4242, None, callback, None, byref(total))
        self.assertEqual(result, CANCELLED)
        self.assertNotEqual(last_error(), b"")
        self.assertEqual(len(calls), 1)
        self.assertEqual(total.value, 12345, "out_bytes was written on failure")

    def test_cancelled_token(self):
        token = new_token(self)
        lib.camb_cancel_token_cancel(token)
        calls = []
        callback = WRITE_FN(lambda data, length, user_data: calls.append(length) or True)
        self.assertEqual(lib.camb_client_download_audio(self.client, 4242, token, callback, None, None), CANCELLED)
        self.assertEqual(calls, [])

    def test_errors(self):
        callback = WRITE_FN(lambda data, length, user_data: True)
        self.assertEqual(lib.camb_client_download_audio(self.client, 987654, None, callback, None, None), NOT_FOUND)
        self.assertEqual(lib.camb_last_http_status(), 404)
        # demo-error's run did not succeed: HTTP 400.
        self.assertEqual(lib.camb_client_download_audio(self.client, 4243, None, callback, None, None), HTTP_STATUS)
        self.assertEqual(lib.camb_last_http_status(), 400)
        self.assertEqual(lib.camb_client_download_audio(self.client, 4242, None, NO_WRITE, None, None), NULL_PARAMETER)
        self.assertIn(b"write", last_error())
        self.assertEqual(lib.camb_client_download_audio(None, 4242, None, callback, None, None), NULL_PARAMETER)


class SaveAudioTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.dir = directory.name

    def test_save(self):
        path = os.path.join(self.dir, "out \u00e9.wav")
        total = c_uint64(0)
        result = lib.camb_client_save_audio(self.client, 4242, os.fsencode(path), None, byref(total))
        self.assertEqual(result, OK, last_error())
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(is_wav(data), data[:16])
        self.assertEqual(total.value, len(data))
        self.assertEqual(os.listdir(self.dir), ["out \u00e9.wav"], "a temporary file was left behind")
        # Replacing an existing file.
        self.assertEqual(lib.camb_client_save_audio(self.client, 4242, os.fsencode(path), None, None), OK)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_failed_save_leaves_no_file(self):
        path = os.path.join(self.dir, "missing.wav")
        total = c_uint64(12345)
        result = lib.camb_client_save_audio(self.client, 987654, os.fsencode(path), None, byref(total))
        self.assertEqual(result, NOT_FOUND)
        self.assertEqual(os.listdir(self.dir), [])
        self.assertEqual(total.value, 12345)
        token = new_token(self)
        lib.camb_cancel_token_cancel(token)
        self.assertEqual(lib.camb_client_save_audio(self.client, 4242, os.fsencode(path), token, None), CANCELLED)
        self.assertEqual(os.listdir(self.dir), [])

    def test_failed_save_keeps_an_existing_file(self):
        path = os.path.join(self.dir, "keep.wav")
        with open(path, "wb") as f:
            f.write(b"old contents")
        self.assertEqual(lib.camb_client_save_audio(self.client, 4243, os.fsencode(path), None, None), HTTP_STATUS)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"old contents")
        self.assertEqual(os.listdir(self.dir), ["keep.wav"])

    def test_io_error(self):
        path = os.path.join(self.dir, "no-such-dir", "out.wav")
        self.assertEqual(lib.camb_client_save_audio(self.client, 4242, os.fsencode(path), None, None), IO)
        self.assertNotEqual(last_error(), b"")
        self.assertEqual(os.listdir(self.dir), [])

    def test_bad_paths(self):
        self.assertEqual(lib.camb_client_save_audio(self.client, 4242, b"", None, None), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_save_audio(self.client, 4242, None, None, None), NULL_PARAMETER)
        self.assertIn(b"path", last_error())


class BatchStatusTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)

    def test_many_statuses_in_one_call(self):
        ids = [b"demo-success", b"no-such-task", None, b"\xff", b"demo-unknown", b"."]
        result, tasks = get_statuses(self.client, ids, max_connections=4)
        self.assertEqual(result, OK, last_error())
        self.assertEqual(len(tasks), len(ids))
        self.assertEqual([t.result for t in tasks], [OK, NOT_FOUND, NULL_PARAMETER, INVALID_PARAMETER, OK, INVALID_PARAMETER])
        self.assertEqual(tasks.pop().task_id, b".")
        # Each entry has the id it was asked for; one that is NULL (or not
        # UTF-8, which the header does not say) has "".
        # A refused id keeps its text, its bytes that are not UTF-8 replaced.
        self.assertEqual(
            [t.task_id for t in tasks],
            [b"demo-success", b"no-such-task", b"", "\ufffd".encode(), b"demo-unknown"],
        )
        self.assertEqual((tasks[0].run_id, tasks[0].status_text, tasks[0].error), (4242, b"SUCCESS", None))
        self.assertEqual((tasks[1].http_status, tasks[1].status, tasks[1].status_text), (404, STATUS_UNKNOWN, None))
        self.assertIn(b"no-such-task", tasks[1].error)
        self.assertIn(b"task_id", tasks[2].error)
        self.assertIn(b"NULL", tasks[2].error)
        self.assertEqual(tasks[2].http_status, 0)
        self.assertRegex(tasks[3].error, rb"task[ _]id|UTF-8")
        self.assertEqual((tasks[4].status, tasks[4].status_text, tasks[4].has_run_id), (STATUS_UNKNOWN, b"QUEUED_FOR_GPU", False))

    def test_strings_survive_a_status_call_in_the_middle(self):
        ids = [b"demo-error", b"demo-payment-required", b"no-such-task-batch", b"demo-unknown"]
        array = (c_char_p * len(ids))(*ids)
        task_list = TaskListPtr()
        self.assertEqual(lib.camb_client_get_task_statuses(self.client, array, len(ids), 2, None, byref(task_list)), OK, last_error())
        self.addCleanup(lib.camb_task_list_free, task_list)
        self.assertEqual(lib.camb_task_list_len(task_list), len(ids))
        # Entry 0's strings, as pointers kept for later.
        first = lib.camb_task_list_get(task_list, 0)
        kept = {}
        for name in ("camb_task_id", "camb_task_status_text", "camb_task_exception_reason", "camb_task_message"):
            length = c_size_t(0)
            ptr = getattr(lib, name)(first, byref(length))
            kept[name] = (ptr, length.value, ctypes.string_at(ptr, length.value))
        self.assertEqual(kept["camb_task_message"][2], b"The audio model failed to render this prompt")
        # Status calls in the middle, on this thread: one that succeeds with other
        # texts, one that fails with an error of its own.
        single = TaskPtr()
        self.assertEqual(lib.camb_client_get_task_status(self.client, b"demo-timeout", None, byref(single)), OK, last_error())
        self.assertEqual(TaskView(single).status_text, b"TIMEOUT")
        lib.camb_task_free(single)
        self.assertEqual(get_status(self.client, b"no-such-task-middle")[0], NOT_FOUND)
        # The other entries still say what they said.
        rest = [TaskView(lib.camb_task_list_get(task_list, i)) for i in range(1, len(ids))]
        self.assertEqual(
            (rest[0].task_id, rest[0].status_text, rest[0].exception_reason, rest[0].message),
            (b"demo-payment-required", b"PAYMENT_REQUIRED", b"PAYMENT_REQUIRED", b"Not enough credits"),
        )
        self.assertEqual((rest[1].task_id, rest[1].result, rest[1].http_status), (b"no-such-task-batch", NOT_FOUND, 404))
        self.assertIn(b"no-such-task-batch", rest[1].error)
        self.assertNotIn(b"no-such-task-middle", rest[1].error)
        self.assertEqual((rest[2].task_id, rest[2].status_text), (b"demo-unknown", b"QUEUED_FOR_GPU"))
        # And so do entry 0's, at the very addresses read before.
        for name, (ptr, length, text) in kept.items():
            with self.subTest(accessor=name):
                self.assertEqual(ctypes.string_at(ptr, length), text)
                self.assertEqual(getattr(lib, name)(first, None), ptr)

    def test_empty_batch(self):
        task_list = sentinel(TaskListPtr)
        self.assertEqual(lib.camb_client_get_task_statuses(self.client, None, 0, 0, None, byref(task_list)), OK, last_error())
        self.assertNotEqual(address(task_list), SENTINEL)
        self.assertTrue(task_list, "count 0 gives an empty list, not NULL")
        self.assertEqual(lib.camb_task_list_len(task_list), 0)
        self.assertIsNone(address(lib.camb_task_list_get(task_list, 0)))
        lib.camb_task_list_free(task_list)

    def test_limits(self):
        array = (c_char_p * 1)(b"demo-success")
        task_list = sentinel(TaskListPtr)
        self.assertEqual(lib.camb_client_get_task_statuses(self.client, array, 1, 33, None, byref(task_list)), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_get_task_statuses(self.client, None, 1, 0, None, byref(task_list)), NULL_PARAMETER)
        self.assertIn(b"task_ids", last_error())
        self.assertEqual(lib.camb_client_get_task_statuses(self.client, array, 1, 0, None, None), NULL_PARAMETER)
        self.assertIn(b"out_list", last_error())
        self.assertEqual(lib.camb_client_get_task_statuses(None, array, 1, 0, None, byref(task_list)), NULL_PARAMETER)
        self.assertEqual(address(task_list), SENTINEL, "out_list was written on failure")
        # The limit itself is accepted.
        result, tasks = get_statuses(self.client, [b"demo-success"] * 3, max_connections=32)
        self.assertEqual(result, OK, last_error())
        self.assertEqual([t.run_id for t in tasks], [4242] * 3)


class AudioUrlTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)

    def test_url_is_a_new_string(self):
        url = sentinel(OwnedStringPtr)
        length = c_size_t(0)
        self.assertEqual(lib.camb_client_get_audio_url(self.client, 4242, None, byref(url), byref(length)), OK, last_error())
        self.assertNotEqual(address(url), SENTINEL)
        text = take_string(url, length.value)
        self.assertTrue(text.startswith(BASE_URL.encode() + b"/_emulator/files/4242.wav?"), text)
        # A pre-signed URL: fetched without the key.
        with urllib.request.urlopen(text.decode(), timeout=10) as reply:
            self.assertTrue(is_wav(reply.read()))
        # out_len may be NULL.
        url = OwnedStringPtr()
        self.assertEqual(lib.camb_client_get_audio_url(self.client, 4242, None, byref(url), None), OK, last_error())
        self.assertTrue(ctypes.string_at(url).startswith(BASE_URL.encode()))
        lib.camb_string_free(url)

    def test_errors(self):
        url = sentinel(OwnedStringPtr)
        length = c_size_t(7)
        self.assertEqual(lib.camb_client_get_audio_url(self.client, 987654, None, byref(url), byref(length)), NOT_FOUND)
        self.assertEqual(lib.camb_last_http_status(), 404)
        self.assertEqual((address(url), length.value), (SENTINEL, 7), "out-parameters written on failure")
        self.assertEqual(lib.camb_client_get_audio_url(self.client, 4242, None, None, byref(length)), NULL_PARAMETER)
        self.assertIn(b"out_url", last_error())
        self.assertEqual(lib.camb_client_get_audio_url(None, 4242, None, byref(url), None), NULL_PARAMETER)
        self.assertEqual(address(url), SENTINEL)

    def read_urls(self, url_list):
        """[(run_id, url or None)] of a camb_audio_url_list."""
        entries = []
        for i in range(lib.camb_audio_url_list_len(url_list)):
            run_id = c_int64(-1)
            length = c_size_t(99)
            ptr = lib.camb_audio_url_list_get(url_list, i, byref(run_id), byref(length))
            self.assertEqual(lib.camb_audio_url_list_get(url_list, i, None, None), ptr, "NULL out-params change the URL")
            entries.append((run_id.value, read_field(ptr, length.value)))
        return entries

    def test_many_urls(self):
        run_ids = (c_int64 * 2)(4242, 987654)
        url_list = sentinel(AudioUrlListPtr)
        self.assertEqual(lib.camb_client_get_audio_urls(self.client, run_ids, 2, None, byref(url_list)), OK, last_error())
        self.addCleanup(lib.camb_audio_url_list_free, url_list)
        entries = self.read_urls(url_list)
        self.assertEqual([run_id for run_id, _ in entries], [4242, 987654])
        first = entries[0][1]
        self.assertTrue(first.startswith(BASE_URL.encode() + b"/_emulator/files/4242.wav?"), first)
        self.assertIsNone(entries[1][1])
        with urllib.request.urlopen(first.decode(), timeout=10) as reply:
            self.assertTrue(is_wav(reply.read()))
        # Past the end: NULL, and *out_run_id left alone.
        run_id = c_int64(-5)
        length = c_size_t(99)
        self.assertIsNone(lib.camb_audio_url_list_get(url_list, 2, byref(run_id), byref(length)))
        self.assertEqual((run_id.value, length.value), (-5, 0))

    def test_repeated_run_id_has_its_url_each_time(self):
        run_ids = (c_int64 * 2)(4242, 4242)
        url_list = AudioUrlListPtr()
        self.assertEqual(lib.camb_client_get_audio_urls(self.client, run_ids, 2, None, byref(url_list)), OK, last_error())
        self.addCleanup(lib.camb_audio_url_list_free, url_list)
        entries = self.read_urls(url_list)
        self.assertEqual([run_id for run_id, _ in entries], [4242, 4242])
        self.assertIsNotNone(entries[0][1])
        self.assertEqual(entries[1][1], entries[0][1])

    def test_null_list(self):
        run_id = c_int64(-5)
        length = c_size_t(99)
        self.assertEqual(lib.camb_audio_url_list_len(None), 0)
        self.assertIsNone(lib.camb_audio_url_list_get(None, 0, byref(run_id), byref(length)))
        self.assertEqual((run_id.value, length.value), (-5, 0))

    def test_many_urls_errors(self):
        run_ids = (c_int64 * 1001)(*range(1, 1002))
        url_list = sentinel(AudioUrlListPtr)
        self.assertEqual(lib.camb_client_get_audio_urls(self.client, run_ids, 1001, None, byref(url_list)), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_get_audio_urls(self.client, None, 1, None, byref(url_list)), NULL_PARAMETER)
        self.assertIn(b"run_ids", last_error())
        self.assertEqual(lib.camb_client_get_audio_urls(self.client, run_ids, 1, None, None), NULL_PARAMETER)
        self.assertIn(b"out_list", last_error())
        self.assertEqual(address(url_list), SENTINEL, "out_list was written on failure")
        # The limit itself is accepted.
        url_list = AudioUrlListPtr()
        self.assertEqual(lib.camb_client_get_audio_urls(self.client, run_ids, 1000, None, byref(url_list)), OK, last_error())
        self.addCleanup(lib.camb_audio_url_list_free, url_list)
        self.assertEqual(lib.camb_audio_url_list_len(url_list), 1000)
        run_id = c_int64(0)
        lib.camb_audio_url_list_get(url_list, 999, byref(run_id), None)
        self.assertEqual(run_id.value, 1000)


# --------------------------------------------------------------------------
# Prompt to file in one blocking call, and a cancel token on every blocking call
# --------------------------------------------------------------------------


class GenerateTests(unittest.TestCase):
    def setUp(self):
        control("/_emulator/reset", {})
        self.client = build_client(self)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.dir = directory.name

    def generate(self, prompt, path, create=None, wait=None, token=None, progress=None, user_data=None):
        """(result, TaskView or None, bytes) of one camb_client_generate; on
        failure it checks that the out-parameters were left alone."""
        task = sentinel(TaskPtr)
        total = c_uint64(12345)
        result = lib.camb_client_generate(
            self.client,
            prompt,
            None if create is None else byref(create),
            None if wait is None else byref(wait),
            None if path is None else os.fsencode(path),
            token,
            NO_PROGRESS if progress is None else progress,
            user_data,
            byref(task),
            byref(total),
        )
        if result != OK:
            self.assertEqual((address(task), total.value), (SENTINEL, 12345), "out-parameters written on failure")
            return result, None, None
        return result, take_task(task), total.value

    def test_prompt_to_file(self):
        path = os.path.join(self.dir, "gen.wav")
        create = create_options_default()
        create.duration_s = 2
        create.audio_type = AUDIO_TYPE_SOUND
        steps = []

        def on_progress(progress_ptr, user_data):
            p = progress_ptr.contents
            steps.append((p.polls, p.status, p.done, user_data, threading.get_ident()))
            return True

        callback = PROGRESS_FN(on_progress)
        result, task, size = self.generate(
            b"thunder [pending_ms:300]", path, create, wait_options(initial_ms=50), progress=callback, user_data=c_void_p(77)
        )
        self.assertEqual(result, OK, last_error())
        self.assertEqual(last_error(), b"")
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(is_wav(data))
        self.assertEqual(size, len(data))
        self.assertEqual((task.result, task.status, task.status_text, task.has_run_id), (OK, STATUS_SUCCESS, b"SUCCESS", True))
        self.assertEqual(get_status(self.client, task.task_id)[1].as_dict(), task.as_dict())
        self.assertEqual(os.listdir(self.dir), ["gen.wav"])
        # Progress of each poll, on this thread, with its user_data.
        self.assertGreaterEqual(len(steps), 2)
        self.assertEqual([s[0] for s in steps], list(range(1, len(steps) + 1)))
        self.assertEqual((steps[0][1], steps[-1][1], steps[-1][2]), (STATUS_PENDING, STATUS_SUCCESS, True))
        self.assertEqual({(s[3], s[4]) for s in steps}, {(77, threading.get_ident())})
        self.assertEqual(
            [json.loads(b) for b in create_requests()],
            [{"prompt": "thunder [pending_ms:300]", "duration": 2.0, "audio_type": "sound"}],
        )
        # NULL options, progress and out-parameters are allowed.
        other = os.path.join(self.dir, "other.wav")
        self.assertEqual(
            lib.camb_client_generate(self.client, b"rain", None, None, os.fsencode(other), None, NO_PROGRESS, None, None, None),
            OK,
            last_error(),
        )
        self.assertTrue(os.path.getsize(other) > 44)

    def test_a_task_without_audio(self):
        for directive, status in [("ERROR", STATUS_ERROR), ("TIMEOUT", STATUS_TIMEOUT), ("FAILED", STATUS_UNKNOWN)]:
            with self.subTest(status=directive):
                statuses = []
                callback = PROGRESS_FN(lambda p, _: statuses.append(p.contents.status) or True)
                result, _, _ = self.generate(
                    f"hiss [status:{directive}] [pending_ms:100]".encode(),
                    os.path.join(self.dir, "x.wav"),
                    wait=wait_options(initial_ms=40),
                    progress=callback,
                )
                self.assertEqual(result, TASK_FAILED, last_error())
                self.assertIn(f"ended {directive}".encode(), last_error())
                self.assertEqual(lib.camb_last_http_status(), 0)
                self.assertEqual(statuses[-1], status)
        # The server's reason is in the words.
        self.assertEqual(self.generate(b"hiss [status:ERROR]", os.path.join(self.dir, "x.wav"))[0], TASK_FAILED)
        self.assertIn(b"PROCESSING_ERROR", last_error())
        self.assertEqual(os.listdir(self.dir), [], "a failed generation left a file")

    def test_refused_before_a_task_is_created(self):
        bad_wait = wait_options()
        bad_wait.backoff_factor = 0.5
        bad_create = create_options_default()
        bad_create.duration_s = 11
        bad_create.audio_type = AUDIO_TYPE_SOUND
        for what, prompt, path, create, wait, code in [
            ("missing directory", b"x", os.path.join(self.dir, "no", "x.wav"), None, None, IO),
            ("a directory", b"x", self.dir, None, None, IO),
            ("empty path", b"x", "", None, None, INVALID_PARAMETER),
            ("wait options", b"x", os.path.join(self.dir, "x.wav"), None, bad_wait, INVALID_PARAMETER),
            ("create options", b"x", os.path.join(self.dir, "x.wav"), bad_create, None, INVALID_PARAMETER),
            ("empty prompt", b"", os.path.join(self.dir, "x.wav"), None, None, INVALID_PARAMETER),
            ("NULL prompt", None, os.path.join(self.dir, "x.wav"), None, None, NULL_PARAMETER),
            ("NULL path", b"x", None, None, None, NULL_PARAMETER),
        ]:
            with self.subTest(what=what):
                result, _, _ = self.generate(prompt, path, create, wait)
                self.assertEqual(result, code, last_error())
                self.assertNotEqual(last_error(), b"")
        task = TaskPtr()
        self.assertEqual(
            lib.camb_client_generate(None, b"x", None, None, b"/tmp/x.wav", None, NO_PROGRESS, None, byref(task), None),
            NULL_PARAMETER,
        )
        self.assertIn(b"client", last_error())
        self.assertEqual(create_requests(), [], "a refused generation created a task")
        self.assertEqual(os.listdir(self.dir), [])

    def test_stopped_by_its_progress_or_token(self):
        stop = PROGRESS_FN(lambda p, _: False)
        result, _, _ = self.generate(b"hum [pending_ms:60000]", os.path.join(self.dir, "x.wav"), progress=stop)
        self.assertEqual(result, CANCELLED, last_error())
        token = new_token(self)
        polled = threading.Event()
        callback = PROGRESS_FN(lambda p, _: polled.set() or True)

        def canceller():
            if polled.wait(10):
                time.sleep(0.3)  # asleep in a 15 s pause by now
                lib.camb_cancel_token_cancel(token)

        thread = threading.Thread(target=canceller, daemon=True)
        thread.start()
        started = time.monotonic()
        result, _, _ = self.generate(
            b"hum [pending_ms:60000]",
            os.path.join(self.dir, "x.wav"),
            wait=wait_options(initial_ms=15000, deadline_ms=30000),
            token=token,
            progress=callback,
        )
        thread.join(10)
        self.assertEqual(result, CANCELLED, last_error())
        self.assertLess(time.monotonic() - started, 5, "the sleeping generation was not woken at once")
        self.assertEqual(os.listdir(self.dir), [])


class BlockingCancelTests(unittest.TestCase):
    """Every blocking network call takes a camb_cancel_token (NULL: none)."""

    def setUp(self):
        control("/_emulator/reset", {})
        self.client = build_client(self)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.dir = directory.name

    def test_a_cancelled_token_stops_each_call_before_it_sends(self):
        token = new_token(self)
        self.assertEqual(lib.camb_cancel_token_cancel(token), OK)
        client, path = self.client, os.fsencode(os.path.join(self.dir, "x.wav"))
        task, task_list, url_list = sentinel(TaskPtr), sentinel(TaskListPtr), sentinel(AudioUrlListPtr)
        url, task_id = sentinel(OwnedStringPtr), sentinel(OwnedStringPtr)
        ids = (c_char_p * 1)(b"demo-success")
        run_ids = (c_int64 * 1)(4242)
        write = WRITE_FN(lambda data, length, user_data: True)
        calls = {
            "get_task_status": lambda: lib.camb_client_get_task_status(client, b"demo-success", token, byref(task)),
            "create_task": lambda: lib.camb_client_create_task(client, b"x", None, token, byref(task_id), None),
            "wait_for_task": lambda: lib.camb_client_wait_for_task(
                client, b"demo-success", None, token, NO_PROGRESS, None, byref(task)
            ),
            "download_audio": lambda: lib.camb_client_download_audio(client, 4242, token, write, None, None),
            "save_audio": lambda: lib.camb_client_save_audio(client, 4242, path, token, None),
            "get_audio_url": lambda: lib.camb_client_get_audio_url(client, 4242, token, byref(url), None),
            "get_audio_urls": lambda: lib.camb_client_get_audio_urls(client, run_ids, 1, token, byref(url_list)),
            "get_task_statuses": lambda: lib.camb_client_get_task_statuses(client, ids, 1, 0, token, byref(task_list)),
            "generate": lambda: lib.camb_client_generate(
                client, b"x", None, None, path, token, NO_PROGRESS, None, byref(task), None
            ),
        }
        for name, call in calls.items():
            with self.subTest(call=name):
                self.assertEqual(call(), CANCELLED, last_error())
                self.assertNotEqual(last_error(), b"")
        for pointer in (task, task_list, url_list, url, task_id):
            self.assertEqual(address(pointer), SENTINEL, "an out-parameter was written on failure")
        self.assertEqual(control("/_emulator/stats")["requests"], [], "a cancelled call sent a request")
        self.assertEqual(os.listdir(self.dir), [])
        # Reset, the token lets each call run.
        self.assertEqual(lib.camb_cancel_token_reset(token), OK)
        self.assertEqual(get_status(client, b"demo-success", token)[0], OK, last_error())
        self.assertEqual(create_task(client, b"x", token=token)[0], OK, last_error())
        self.assertEqual(get_statuses(client, [b"demo-success"], token=token)[0], OK, last_error())
        url = OwnedStringPtr()
        self.assertEqual(lib.camb_client_get_audio_url(client, 4242, token, byref(url), None), OK, last_error())
        lib.camb_string_free(url)
        url_list = AudioUrlListPtr()
        self.assertEqual(lib.camb_client_get_audio_urls(client, run_ids, 1, token, byref(url_list)), OK, last_error())
        lib.camb_audio_url_list_free(url_list)

    def cancel_when_requested(self, token, count, path_prefix="/text-to-sound/"):
        """A thread that cancels `token` once the emulator has seen `count` requests."""

        def canceller():
            if until(lambda: len(emulator_requests(path_prefix)) >= count, timeout=10, step=0.02):
                lib.camb_cancel_token_cancel(token)

        thread = threading.Thread(target=canceller, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)

    def test_a_batch_cancelled_midway(self):
        # One query at a time, each answered late: the token is cancelled while
        # the first is out. The ids not asked for yet fail on their own.
        token = new_token(self)
        control("/_emulator/faults", {"path_prefix": "/text-to-sound/", "times": 3, "delay_ms": 400})
        self.cancel_when_requested(token, 1)
        result, tasks = get_statuses(self.client, [b"demo-success", b"demo-error", b"demo-timeout"], 1, token)
        self.assertEqual(result, OK, last_error())
        self.assertEqual([t.task_id for t in tasks], [b"demo-success", b"demo-error", b"demo-timeout"])
        self.assertEqual([t.result for t in tasks][1:], [CANCELLED, CANCELLED])
        self.assertTrue(all(t.error for t in tasks[1:]))
        self.assertLessEqual(len(emulator_requests("/text-to-sound/")), 2)

    def test_a_status_call_in_a_retry_wait(self):
        # 503 then a retry after Retry-After: 5; the cancel ends that wait at once.
        client = build_client(self, retries=2)
        control(
            "/_emulator/faults",
            {
                "path_prefix": "/text-to-sound/",
                "times": 1,
                "respond": {"status": 503, "headers": [["retry-after", "5"]], "body": "{}", "content_type": "application/json"},
            },
        )
        token = new_token(self)
        self.cancel_when_requested(token, 1)
        started = time.monotonic()
        self.assertEqual(get_status(client, b"demo-success", token)[0], CANCELLED, last_error())
        self.assertLess(time.monotonic() - started, 3, "the retry's wait was not ended at once")
        self.assertEqual(len(emulator_requests("/text-to-sound/")), 1, "a request was sent after the cancel")


# --------------------------------------------------------------------------
# Jobs: made by camb_client_job_*, started by camb_job_submit, handed back by
# a camb_queue (its readiness descriptor watched with select(), or
# camb_queue_wait on a thread of the test's)
# --------------------------------------------------------------------------


def new_queue(test):
    """A queue, freed at the test's end: before the client (registered after it),
    after the jobs handed back by it (registered after it)."""
    queue = QueuePtr()
    test.assertEqual(lib.camb_queue_new(byref(queue)), OK, last_error())
    test.assertTrue(queue, "camb_queue_new wrote a NULL queue")
    test.addCleanup(lib.camb_queue_free, queue)
    return queue


def make_job(test, make, *args, free=False):
    """Calls a camb_client_job_* function with `args` and a new out_job; the job.
    Fails the test if it is refused. With free=True it is freed at the test's
    end (for a job never submitted); a submitted job is freed once handed back."""
    job = sentinel(JobPtr)
    result = make(*args, byref(job))
    test.assertEqual(result, OK, last_error())
    test.assertNotEqual(address(job), SENTINEL, "out_job was not written")
    test.assertTrue(job, "the constructor wrote a NULL job")
    if free:
        test.addCleanup(lib.camb_job_free, job)
    return job


def refused_make(test, make, *args):
    """The result of a constructor that must fail, checking that it wrote no job."""
    job = sentinel(JobPtr)
    result = make(*args, byref(job))
    test.assertNotEqual(result, OK, "the constructor succeeded")
    test.assertEqual(address(job), SENTINEL, "out_job was written on failure")
    test.assertNotEqual(last_error(), b"", "a refusal left no words")
    return result


def submit(test, job, queue, user_data=None):
    test.assertEqual(lib.camb_job_submit(job, queue, user_data), OK, last_error())


def readable(fd, timeout):
    ready, _, _ = select.select([fd], [], [], timeout)
    return bool(ready)


def pop_all(test, queue):
    """Every event the queue holds now, as (event, job); each job handed back is
    freed at the test's end. Then pop says NOT_READY and writes nothing."""
    events = []
    while True:
        event = c_uint32(0xEEEE)
        job = sentinel(JobPtr)
        result = lib.camb_queue_pop(queue, byref(event), byref(job))
        if result == NOT_READY:
            test.assertEqual((event.value, address(job)), (0xEEEE, SENTINEL), "an empty pop wrote its out-parameters")
            return events
        test.assertEqual(result, OK, last_error())
        if event.value == EVENT_JOB_DONE:
            test.addCleanup(lib.camb_job_free, job)
        events.append((event.value, job))


def take_events(test, queue, count, timeout=15):
    """Waits with select() on the queue's descriptor, as an event loop would, and
    pops until `count` events came (or `timeout` seconds passed): the (event,
    job) pairs in the order they came."""
    fd = lib.camb_queue_fd(queue)
    events = []
    deadline = time.monotonic() + timeout
    while len(events) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if readable(fd, left):
            popped = pop_all(test, queue)
            test.assertTrue(popped, "the descriptor was readable, but there was no event to pop")
            events.extend(popped)
    return events


def take_finished(test, queue, count, timeout=15):
    """The jobs of `count` JOB_DONE events (see take_events)."""
    events = take_events(test, queue, count, timeout)
    test.assertEqual({event for event, _ in events} - {EVENT_JOB_DONE}, set(), "an event other than JOB_DONE")
    return [job for _, job in events]


def until(predicate, timeout=10, step=0.01):
    """Polls `predicate` until it is true or `timeout` seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def job_text(accessor, job):
    length = c_size_t(12345)
    ptr = accessor(job, byref(length))
    assert length.value != 12345, f"{accessor.__name__} did not write *out_len"
    assert accessor(job, None) == ptr, f"{accessor.__name__} with a NULL out_len gave another pointer"
    return read_field(ptr, length.value)


def job_audio(job):
    """camb_job_audio's bytes (None for NULL), checked the way job_text checks text."""
    length = c_size_t(12345)
    ptr = lib.camb_job_audio(job, byref(length))
    assert length.value != 12345, "camb_job_audio did not write *out_len"
    assert lib.camb_job_audio(job, None) == ptr, "camb_job_audio with a NULL out_len gave another pointer"
    if not ptr:
        assert length.value == 0, f"NULL audio of length {length.value}"
        return None
    return ctypes.string_at(ptr, length.value)


def url_entries(url_list):
    """[(run_id, url or None)] of a camb_audio_url_list."""
    entries = []
    for i in range(lib.camb_audio_url_list_len(url_list)):
        run_id = c_int64(-1)
        length = c_size_t(99)
        ptr = lib.camb_audio_url_list_get(url_list, i, byref(run_id), byref(length))
        entries.append((run_id.value, read_field(ptr, length.value)))
    return entries


class JobView:
    """Everything a job's accessors say, copied out (the task as a TaskView)."""

    def __init__(self, job):
        self.kind = lib.camb_job_get_kind(job)
        self.state = lib.camb_job_get_state(job)
        self.result = lib.camb_job_result(job)
        self.error = job_text(lib.camb_job_error, job)
        self.http_status = lib.camb_job_http_status(job)
        task = lib.camb_job_task(job)
        self.task = TaskView(task) if task else None
        self.has_list = bool(lib.camb_job_task_list(job))
        self.task_id = job_text(lib.camb_job_task_id, job)
        self.bytes = lib.camb_job_bytes(job)
        self.audio = job_audio(job)
        self.audio_url = job_text(lib.camb_job_audio_url, job)
        self.has_url_list = bool(lib.camb_job_audio_url_list(job))
        self.polls = lib.camb_job_polls(job)
        self.task_status = lib.camb_job_task_status(job)
        self.user_data = lib.camb_job_user_data(job)

    def __repr__(self):
        shown = {k: (v if k != "audio" or v is None else f"<{len(v)} bytes>") for k, v in self.__dict__.items()}
        return f"JobView({shown})"


def thread_name():
    """The kernel's name of the calling thread (libcamb names its pool threads)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm", encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


class JobTests(unittest.TestCase):
    """Jobs handed back by a camb_queue, watched with select() on its readiness
    descriptor: the caller's thread takes them, and no libcamb callback runs on it."""

    def setUp(self):
        control("/_emulator/reset", {})
        self.client = build_client(self)
        self.queue = new_queue(self)
        self.fd = lib.camb_queue_fd(self.queue)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.dir = directory.name

    def run_job(self, make, *args, user_data=None):
        """Makes, submits and takes back one job; the job (freed at the test's end)."""
        job = make_job(self, make, self.client, *args)
        submit(self, job, self.queue, user_data)
        jobs = take_finished(self, self.queue, 1)
        self.assertEqual([address(j) for j in jobs], [address(job)], "not the job submitted came back")
        return job

    def submit_status(self, task_id, user_data=None):
        job = make_job(self, lib.camb_client_job_get_task_status, self.client, task_id)
        submit(self, job, self.queue, user_data)
        return job

    def submit_wait(self, task_id, options, client=None, queue=None):
        job = make_job(self, lib.camb_client_job_wait_for_task, client or self.client, task_id, byref(options))
        submit(self, job, queue or self.queue)
        return job

    def test_readiness_handle(self):
        self.assertGreaterEqual(self.fd, 0)
        self.assertEqual(lib.camb_queue_fd(self.queue), self.fd, "the descriptor changed")
        self.assertFalse(readable(self.fd, 0), "an empty queue's descriptor is readable")
        self.assertEqual(pop_all(self, self.queue), [])
        other = new_queue(self)
        self.assertNotEqual(lib.camb_queue_fd(other), self.fd, "two queues share a descriptor")
        # camb_queue_wait with nothing to wait for: TIMEOUT, nothing written.
        for timeout_ms in (0, 50):
            with self.subTest(timeout_ms=timeout_ms):
                event, job = c_uint32(0xEEEE), sentinel(JobPtr)
                started = time.monotonic()
                self.assertEqual(lib.camb_queue_wait(self.queue, timeout_ms, byref(event), byref(job)), TIMEOUT)
                self.assertGreaterEqual(time.monotonic() - started, timeout_ms / 1000 * 0.8)
                self.assertIn(str(timeout_ms).encode(), last_error())
                self.assertEqual((event.value, address(job)), (0xEEEE, SENTINEL))

    def test_a_made_job_does_nothing_until_submitted(self):
        job = make_job(self, lib.camb_client_job_get_task_status, self.client, b"demo-success", free=True)
        view = JobView(job)
        self.assertEqual(
            (view.kind, view.state, view.result, view.error, view.task, view.user_data),
            (JOB_KIND_GET_TASK_STATUS, JOB_STATE_NEW, NOT_READY, None, None, None),
        )
        time.sleep(0.2)
        self.assertEqual(control("/_emulator/stats")["requests"], [], "a job ran before it was submitted")
        self.assertFalse(readable(self.fd, 0))
        # Cancelled before it is submitted: it ends as soon as it is.
        self.assertEqual(lib.camb_job_cancel(job), OK)
        self.assertEqual(lib.camb_job_get_state(job), JOB_STATE_NEW)
        other = make_job(self, lib.camb_client_job_get_task_status, self.client, b"demo-success")
        self.assertEqual(lib.camb_job_cancel(other), OK)
        submit(self, other, self.queue)
        self.assertEqual([address(j) for j in take_finished(self, self.queue, 1)], [address(other)])
        self.assertEqual(lib.camb_job_result(other), CANCELLED)
        self.assertEqual(control("/_emulator/stats")["requests"], [], "a job cancelled before it started sent a request")

    def test_every_operation_as_a_job(self):
        path = os.path.join(self.dir, "saved.wav")
        generated = os.path.join(self.dir, "generated.wav")
        created_id = create_task(self.client, b"a bell [pending_ms:150]")[1]
        ids = (c_char_p * 2)(b"demo-success", b"no-such-task-k1")
        run_ids = (c_int64 * 2)(4242, 987654)
        made = [
            (lib.camb_client_job_get_task_status, (b"demo-error",), JOB_KIND_GET_TASK_STATUS),
            (lib.camb_client_job_create_task, (b"a gong", None), JOB_KIND_CREATE_TASK),
            (lib.camb_client_job_wait_for_task, (created_id, byref(wait_options(initial_ms=40))), JOB_KIND_WAIT_FOR_TASK),
            (lib.camb_client_job_download_audio, (4242,), JOB_KIND_DOWNLOAD_AUDIO),
            (lib.camb_client_job_save_audio, (4242, os.fsencode(path)), JOB_KIND_SAVE_AUDIO),
            (lib.camb_client_job_get_audio_url, (4242,), JOB_KIND_GET_AUDIO_URL),
            (lib.camb_client_job_get_audio_urls, (run_ids, 2), JOB_KIND_GET_AUDIO_URLS),
            (lib.camb_client_job_get_task_statuses, (ids, 2, 0), JOB_KIND_GET_TASK_STATUSES),
            (
                lib.camb_client_job_generate,
                (b"a drum [pending_ms:150]", None, byref(wait_options(initial_ms=40)), os.fsencode(generated)),
                JOB_KIND_GENERATE,
            ),
        ]
        jobs = {}
        for n, (make, args, kind) in enumerate(made):
            job = make_job(self, make, self.client, *args)
            self.assertEqual((lib.camb_job_get_kind(job), lib.camb_job_get_state(job)), (kind, JOB_STATE_NEW))
            user_data = 0x5000 + n
            submit(self, job, self.queue, user_data)
            self.assertEqual(lib.camb_job_user_data(job), user_data)
            jobs[kind] = (address(job), user_data)
        events = take_events(self, self.queue, len(made), timeout=30)
        self.assertEqual(sorted(address(job) for _, job in events), sorted(a for a, _ in jobs.values()), "not each job once")
        self.assertEqual({event for event, _ in events}, {EVENT_JOB_DONE})
        views = {}
        for _, job in events:
            view = JobView(job)
            self.assertEqual((view.state, view.result, view.error), (JOB_STATE_DONE, OK, None), view)
            self.assertEqual((address(job), view.user_data), jobs[view.kind], "user_data not handed back as given")
            views[view.kind] = view
        # Each its own output, and no other's.
        status = views[JOB_KIND_GET_TASK_STATUS]
        self.assertEqual((status.task.status, status.task.run_id, status.task_status), (STATUS_ERROR, 4243, STATUS_ERROR))
        self.assertEqual(status.task.as_dict(), get_status(self.client, b"demo-error")[1].as_dict())
        create = views[JOB_KIND_CREATE_TASK]
        self.assertEqual((create.task, create.bytes, create.audio, create.audio_url), (None, 0, None, None))
        self.assertEqual(get_status(self.client, create.task_id)[1].task_id, create.task_id)
        wait = views[JOB_KIND_WAIT_FOR_TASK]
        self.assertEqual((wait.task_id, wait.task.task_id, wait.task.status, wait.task_status), (created_id, created_id, STATUS_SUCCESS, STATUS_SUCCESS))
        self.assertGreaterEqual(wait.polls, 2)
        download = views[JOB_KIND_DOWNLOAD_AUDIO]
        chunks = []
        writer = WRITE_FN(lambda data, length, user_data: chunks.append(ctypes.string_at(data, length)) or True)
        self.assertEqual(lib.camb_client_download_audio(self.client, 4242, None, writer, None, None), OK)
        self.assertEqual(download.audio, b"".join(chunks), "the in-memory audio is not the blocking call's")
        self.assertTrue(is_wav(download.audio))
        self.assertEqual((download.bytes, download.task, download.task_id, download.polls), (len(download.audio), None, None, 0))
        save = views[JOB_KIND_SAVE_AUDIO]
        with open(path, "rb") as f:
            self.assertEqual(f.read(), download.audio)
        self.assertEqual((save.bytes, save.audio), (len(download.audio), None))
        url = views[JOB_KIND_GET_AUDIO_URL]
        self.assertTrue(url.audio_url.startswith(BASE_URL.encode() + b"/_emulator/files/4242.wav?"), url.audio_url)
        self.assertEqual((url.has_url_list, url.bytes), (False, 0))
        urls = views[JOB_KIND_GET_AUDIO_URLS]
        self.assertEqual((urls.has_url_list, urls.audio_url), (True, None))
        _, urls_job = next(e for e in events if address(e[1]) == jobs[JOB_KIND_GET_AUDIO_URLS][0])
        self.assertEqual(url_entries(lib.camb_job_audio_url_list(urls_job)), [(4242, url.audio_url), (987654, None)])
        batch = views[JOB_KIND_GET_TASK_STATUSES]
        self.assertEqual((batch.has_list, batch.task, batch.task_id), (True, None, None))
        _, batch_job = next(e for e in events if address(e[1]) == jobs[JOB_KIND_GET_TASK_STATUSES][0])
        task_list = lib.camb_job_task_list(batch_job)
        tasks = [TaskView(lib.camb_task_list_get(task_list, i)) for i in range(lib.camb_task_list_len(task_list))]
        self.assertEqual([(t.task_id, t.result, t.run_id) for t in tasks], [(b"demo-success", OK, 4242), (b"no-such-task-k1", NOT_FOUND, None)])
        generate = views[JOB_KIND_GENERATE]
        with open(generated, "rb") as f:
            data = f.read()
        self.assertTrue(is_wav(data))
        self.assertEqual((generate.bytes, generate.task.task_id, generate.task.status), (len(data), generate.task_id, STATUS_SUCCESS))
        self.assertGreaterEqual(generate.polls, 2)
        self.assertEqual(sorted(os.listdir(self.dir)), ["generated.wav", "saved.wav"])

    def test_status_jobs(self):
        made = {address(self.submit_status(task_id)): task_id for task_id in (b"demo-success", b"demo-error", b"no-such-task-j1")}
        jobs = take_finished(self, self.queue, 3)
        # Each handle handed back is the one its constructor gave; each came once.
        self.assertEqual(sorted(address(job) for job in jobs), sorted(made))
        self.assertFalse(readable(self.fd, 0), "the descriptor is readable with the queue empty")
        self.assertEqual(pop_all(self, self.queue), [])
        views = {made[address(job)]: JobView(job) for job in jobs}
        success = views[b"demo-success"]
        self.assertEqual((success.state, success.result, success.error, success.http_status), (JOB_STATE_DONE, OK, None, 0))
        self.assertEqual(success.task_id, b"demo-success")
        self.assertEqual(
            (success.task.result, success.task.task_id, success.task.status, success.task.run_id),
            (OK, b"demo-success", STATUS_SUCCESS, 4242),
        )
        self.assertEqual((success.bytes, success.has_list, success.polls, success.task_status), (0, False, 0, STATUS_SUCCESS))
        error = views[b"demo-error"].task
        self.assertEqual(
            (error.status, error.run_id, error.exception_reason, error.message),
            (STATUS_ERROR, 4243, b"PROCESSING_ERROR", b"The audio model failed to render this prompt"),
        )
        missing = views[b"no-such-task-j1"]
        self.assertEqual((missing.state, missing.result, missing.http_status), (JOB_STATE_DONE, NOT_FOUND, 404))
        self.assertIn(b"no-such-task-j1", missing.error)
        self.assertEqual((missing.task, missing.task_id), (None, b"no-such-task-j1"))
        # The same values as the blocking call's.
        _, blocking = get_status(self.client, b"demo-error")
        self.assertEqual(error.as_dict(), blocking.as_dict())

    def test_job_strings_belong_to_the_job(self):
        job = self.submit_status(b"no-such-task-j2")
        self.assertEqual(len(take_finished(self, self.queue, 1)), 1)
        length = c_size_t(0)
        error = lib.camb_job_error(job, byref(length))
        before = ctypes.string_at(error, length.value)
        # Other calls, failing with words of their own, on this thread.
        for task_id in (b"no-such-task-j3", b"no-such-task-j4"):
            get_status(self.client, task_id)
            self.submit_status(task_id)
        take_finished(self, self.queue, 2)
        self.assertEqual(ctypes.string_at(error, length.value), before)
        self.assertEqual(lib.camb_job_error(job, None), error, "the job's error moved")
        self.assertIn(b"no-such-task-j2", before)

    def test_a_waiting_job_and_its_cancel(self):
        # A 15 s pause between polls: the job waits, holding no thread, until cancelled.
        job = self.submit_wait(b"demo-pending", wait_options(initial_ms=15000, deadline_ms=30000))
        self.assertTrue(until(lambda: lib.camb_job_polls(job) >= 1), "no poll within 10 s")
        self.assertTrue(until(lambda: lib.camb_job_get_state(job) == JOB_STATE_WAITING), "not waiting after its poll")
        running = JobView(job)
        self.assertEqual(
            (running.result, running.error, running.task, running.task_id, running.polls, running.task_status),
            (NOT_READY, None, None, None, 1, STATUS_PENDING),
        )
        self.assertFalse(readable(self.fd, 0.2), "a job still waiting was handed back")
        cancelled_at = time.monotonic()
        self.assertEqual(lib.camb_job_cancel(job), OK)
        jobs = take_finished(self, self.queue, 1)
        self.assertLess(time.monotonic() - cancelled_at, 5, "the cancel did not end the pause at once")
        self.assertEqual([address(j) for j in jobs], [address(job)])
        done = JobView(job)
        self.assertEqual((done.state, done.result, done.task, done.polls), (JOB_STATE_DONE, CANCELLED, None, 1))
        self.assertTrue(done.error)
        # Cancelling a finished job changes nothing.
        self.assertEqual(lib.camb_job_cancel(job), OK)
        self.assertEqual(lib.camb_job_result(job), CANCELLED)
        self.assertEqual(pop_all(self, self.queue), [], "a job was handed back twice")

    def test_wait_job(self):
        task_id = create_task(self.client, b"brook [pending_ms:200]")[1]
        job = self.submit_wait(task_id, wait_options(initial_ms=50))
        self.assertEqual(len(take_finished(self, self.queue, 1)), 1)
        view = JobView(job)
        self.assertEqual((view.result, view.task_id, view.task.task_id), (OK, task_id, task_id))
        self.assertEqual((view.task.status, view.task_status), (STATUS_SUCCESS, STATUS_SUCCESS))
        self.assertGreaterEqual(view.polls, 2)
        # A deadline that passes is the job's failure, with the blocking call's words.
        job = self.submit_wait(b"demo-pending", wait_options(initial_ms=50, deadline_ms=300))
        self.assertEqual(len(take_finished(self, self.queue, 1)), 1)
        view = JobView(job)
        self.assertEqual((view.result, view.task, view.task_status, view.task_id), (TIMEOUT, None, STATUS_PENDING, b"demo-pending"))
        self.assertIn(b"PENDING", view.error)

    def test_generate_progress_read_while_it_runs(self):
        path = os.path.join(self.dir, "gen.wav")
        job = make_job(
            self,
            lib.camb_client_job_generate,
            self.client,
            b"thunder [pending_ms:400]",
            None,
            byref(wait_options(initial_ms=40)),
            os.fsencode(path),
        )
        submit(self, job, self.queue)
        # A progress line, as an event loop draws it: read while the job runs,
        # between select() timeouts on the descriptor.
        seen = []
        deadline = time.monotonic() + 15
        while not readable(self.fd, 0.02) and time.monotonic() < deadline:
            seen.append((lib.camb_job_polls(job), lib.camb_job_task_status(job), lib.camb_job_result(job)))
        self.assertEqual([address(j) for j in take_finished(self, self.queue, 1)], [address(job)])
        self.assertIn(STATUS_PENDING, [status for _, status, _ in seen], "never saw the task pending")
        self.assertEqual({result for _, _, result in seen}, {NOT_READY})
        polls = [p for p, _, _ in seen]
        self.assertEqual(polls, sorted(polls), "the poll count went down")
        self.assertTrue(all(status == STATUS_UNKNOWN for p, status, _ in seen if p == 0), "a status before the first poll")
        view = JobView(job)
        self.assertEqual((view.result, view.error, view.task_status), (OK, None, STATUS_SUCCESS), view)
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(is_wav(data), data[:16])
        self.assertEqual(view.bytes, len(data))
        self.assertTrue(view.task_id)
        self.assertEqual((view.task.task_id, view.task.status, view.task.has_run_id), (view.task_id, STATUS_SUCCESS, True))
        self.assertGreaterEqual(view.polls, max(polls))
        self.assertEqual(os.listdir(self.dir), ["gen.wav"])
        bodies = create_requests()
        self.assertEqual([json.loads(b)["prompt"] for b in bodies], ["thunder [pending_ms:400]"])

    def test_generate_of_a_failing_task(self):
        job = self.run_job(
            lib.camb_client_job_generate,
            b"hiss [status:ERROR] [pending_ms:100]",
            None,
            byref(wait_options(initial_ms=40)),
            os.fsencode(os.path.join(self.dir, "x.wav")),
        )
        view = JobView(job)
        self.assertEqual((view.result, view.http_status, view.bytes, view.task_status), (TASK_FAILED, 0, 0, STATUS_ERROR))
        self.assertIn(b"ERROR", view.error)
        self.assertIn(b"PROCESSING_ERROR", view.error)
        # How it ended: the task, and its id.
        self.assertTrue(view.task_id)
        self.assertEqual(
            (view.task.task_id, view.task.status, view.task.exception_reason), (view.task_id, STATUS_ERROR, b"PROCESSING_ERROR")
        )
        self.assertEqual(os.listdir(self.dir), [], "a failed generation left a file")

    def test_failed_audio_jobs(self):
        for make, args in [
            (lib.camb_client_job_download_audio, (987654,)),
            (lib.camb_client_job_get_audio_url, (987654,)),
            (lib.camb_client_job_save_audio, (987654, os.fsencode(os.path.join(self.dir, "x.wav")))),
        ]:
            with self.subTest(make=make.__name__):
                view = JobView(self.run_job(make, *args))
                self.assertEqual((view.result, view.http_status), (NOT_FOUND, 404))
                self.assertIn(b"987654", view.error)
                self.assertEqual((view.audio, view.audio_url, view.bytes), (None, None, 0))
        view = JobView(self.run_job(lib.camb_client_job_download_audio, 4243))  # a run that did not succeed
        self.assertEqual((view.result, view.http_status, view.audio), (HTTP_STATUS, 400, None))
        self.assertEqual(os.listdir(self.dir), [])
        # Audio URLs of no run: an empty list, as the blocking call gives.
        view = JobView(self.run_job(lib.camb_client_job_get_audio_urls, None, 0))
        self.assertEqual((view.result, view.has_url_list), (OK, True))

    def test_free_of_a_job_in_flight_only_cancels_it(self):
        job = self.submit_wait(b"demo-pending", wait_options(initial_ms=15000, deadline_ms=30000))
        self.assertTrue(until(lambda: lib.camb_job_polls(job) >= 1))
        freed_at = time.monotonic()
        lib.camb_job_free(job)  # libcamb's: only cancelled, and handed back as usual
        self.assertEqual([address(j) for j in take_finished(self, self.queue, 1)], [address(job)])
        self.assertLess(time.monotonic() - freed_at, 5)
        self.assertEqual(lib.camb_job_result(job), CANCELLED)

    def test_client_freed_under_running_jobs(self):
        client = build_client(self, free=False)
        job = self.submit_wait(b"demo-pending", wait_options(initial_ms=15000, deadline_ms=30000), client=client)
        unsubmitted = make_job(self, lib.camb_client_job_get_task_status, client, b"demo-success", free=True)
        self.assertTrue(until(lambda: lib.camb_job_polls(job) >= 1))
        freed_at = time.monotonic()
        lib.camb_client_free(client)
        self.assertLess(time.monotonic() - freed_at, 5, "camb_client_free waited for the pause")
        self.assertEqual([address(j) for j in take_finished(self, self.queue, 1)], [address(job)])
        self.assertEqual(lib.camb_job_result(job), CANCELLED)
        # A job made and not submitted can no longer start; it is still the caller's.
        self.assertEqual(lib.camb_job_submit(unsubmitted, self.queue, None), INVALID_PARAMETER)
        self.assertIn(b"client", last_error())
        self.assertEqual(lib.camb_job_get_state(unsubmitted), JOB_STATE_NEW)

    def test_queue_freed_before_its_jobs(self):
        # A queue freed with one job handed to it and one in flight: libcamb
        # frees both (their pointers are not to be used again), and the rest goes on.
        queue = QueuePtr()
        self.assertEqual(lib.camb_queue_new(byref(queue)), OK)
        done = make_job(self, lib.camb_client_job_get_task_status, self.client, b"demo-success")
        submit(self, done, queue)
        self.assertTrue(readable(lib.camb_queue_fd(queue), 10))
        waiting = make_job(self, lib.camb_client_job_wait_for_task, self.client, b"demo-pending", byref(wait_options(initial_ms=200)))
        submit(self, waiting, queue)
        self.assertTrue(until(lambda: len(emulator_requests("/text-to-sound/demo-pending")) >= 1))
        lib.camb_queue_free(queue)
        time.sleep(0.5)  # the wait polls on, with nowhere to go
        self.assertEqual(get_status(self.client, b"demo-success")[0], OK, last_error())
        self.assertFalse(readable(self.fd, 0), "a job of the freed queue came to another")

    def test_submit_refusals(self):
        job = make_job(self, lib.camb_client_job_get_task_status, self.client, b"demo-success")
        self.assertEqual(lib.camb_job_submit(None, self.queue, None), NULL_PARAMETER)
        self.assertIn(b"job", last_error())
        self.assertEqual(lib.camb_job_submit(job, None, None), NULL_PARAMETER)
        self.assertIn(b"queue", last_error())
        # Still the caller's, still new: it can be submitted, once.
        self.assertEqual(lib.camb_job_get_state(job), JOB_STATE_NEW)
        submit(self, job, self.queue, 7)
        self.assertEqual(lib.camb_job_submit(job, self.queue, 8), INVALID_PARAMETER)
        self.assertIn(b"submitted already", last_error())
        self.assertEqual(lib.camb_job_user_data(job), 7)
        self.assertEqual(len(take_finished(self, self.queue, 1)), 1)
        # Handed back, it is done: not to be run again.
        self.assertEqual(lib.camb_job_submit(job, self.queue, None), INVALID_PARAMETER)
        self.assertFalse(readable(self.fd, 0.2))
        self.assertEqual(len(emulator_requests("/text-to-sound/")), 1)

    def test_refused_constructors(self):
        client = self.client
        status = lib.camb_client_job_get_task_status
        self.assertEqual(refused_make(self, status, None, b"demo-success"), NULL_PARAMETER)
        self.assertEqual(refused_make(self, status, client, None), NULL_PARAMETER)
        self.assertEqual(refused_make(self, status, client, b""), INVALID_PARAMETER)
        self.assertEqual(refused_make(self, status, client, b".."), INVALID_PARAMETER)
        self.assertEqual(status(client, b"demo-success", None), NULL_PARAMETER)
        self.assertIn(b"out_job", last_error())
        options = create_options_default()
        options.duration_s = 11
        options.audio_type = AUDIO_TYPE_SOUND
        create = lib.camb_client_job_create_task
        self.assertEqual(refused_make(self, create, client, b"x", byref(options)), INVALID_PARAMETER)
        self.assertEqual(refused_make(self, create, client, b"", None), INVALID_PARAMETER)
        bad_wait = wait_options(initial_ms=100)
        bad_wait.backoff_factor = 0.5
        wait = lib.camb_client_job_wait_for_task
        self.assertEqual(refused_make(self, wait, client, b"demo-pending", byref(bad_wait)), INVALID_PARAMETER)
        self.assertEqual(refused_make(self, lib.camb_client_job_download_audio, None, 4242), NULL_PARAMETER)
        save = lib.camb_client_job_save_audio
        self.assertEqual(refused_make(self, save, client, 4242, None), NULL_PARAMETER)
        self.assertEqual(refused_make(self, save, client, 4242, b""), INVALID_PARAMETER)
        # What cannot take the audio is refused now, as the blocking call would.
        self.assertEqual(refused_make(self, save, client, 4242, os.fsencode(os.path.join(self.dir, "no", "x.wav"))), IO)
        self.assertEqual(refused_make(self, save, client, 4242, os.fsencode(self.dir)), IO)
        self.assertEqual(refused_make(self, lib.camb_client_job_get_audio_url, None, 4242), NULL_PARAMETER)
        urls = lib.camb_client_job_get_audio_urls
        self.assertEqual(refused_make(self, urls, client, None, 2), NULL_PARAMETER)
        self.assertEqual(refused_make(self, urls, client, (c_int64 * 1001)(), 1001), INVALID_PARAMETER)
        batch = lib.camb_client_job_get_task_statuses
        self.assertEqual(refused_make(self, batch, client, None, 2, 0), NULL_PARAMETER)
        ids = (c_char_p * 1)(b"demo-success")
        self.assertEqual(refused_make(self, batch, client, ids, 1, 33), INVALID_PARAMETER)
        generate = lib.camb_client_job_generate
        self.assertEqual(refused_make(self, generate, client, b"x", None, None, None), NULL_PARAMETER)
        self.assertEqual(
            refused_make(self, generate, client, b"x", None, byref(bad_wait), os.fsencode(os.path.join(self.dir, "x.wav"))),
            INVALID_PARAMETER,
        )
        # The path is looked at now, with the words and code of a save.
        self.assertEqual(
            refused_make(self, generate, client, b"x", None, None, os.fsencode(os.path.join(self.dir, "no", "x.wav"))), IO
        )
        self.assertEqual(refused_make(self, generate, client, b"x", None, None, os.fsencode(self.dir)), IO)
        # Nothing was made: nothing arrives, nothing was sent.
        self.assertFalse(readable(self.fd, 0.2))
        self.assertEqual(control("/_emulator/stats")["requests"], [], "a refused job sent a request")

    def test_null_arguments(self):
        length = c_size_t(99)
        self.assertEqual(lib.camb_job_get_kind(None), JOB_KIND_NONE)
        self.assertEqual(lib.camb_job_get_state(None), JOB_STATE_DONE)
        self.assertEqual(lib.camb_job_result(None), NULL_PARAMETER)
        self.assertIsNone(lib.camb_job_error(None, byref(length)))
        self.assertEqual(length.value, 0)
        self.assertEqual(lib.camb_job_http_status(None), 0)
        self.assertIsNone(address(lib.camb_job_task(None)))
        self.assertIsNone(address(lib.camb_job_task_list(None)))
        self.assertIsNone(address(lib.camb_job_audio_url_list(None)))
        for accessor in (lib.camb_job_task_id, lib.camb_job_audio, lib.camb_job_audio_url):
            with self.subTest(accessor=accessor.__name__):
                length.value = 99
                self.assertIsNone(accessor(None, byref(length)))
                self.assertEqual(length.value, 0)
        self.assertEqual((lib.camb_job_bytes(None), lib.camb_job_polls(None)), (0, 0))
        self.assertEqual(lib.camb_job_task_status(None), STATUS_UNKNOWN)
        self.assertIsNone(lib.camb_job_user_data(None))
        self.assertEqual(lib.camb_job_cancel(None), NULL_PARAMETER)
        self.assertIn(b"job", last_error())
        self.assertEqual(lib.camb_queue_new(None), NULL_PARAMETER)
        self.assertEqual(lib.camb_queue_fd(None), -1)
        event, job = c_uint32(0xEEEE), sentinel(JobPtr)
        self.assertEqual(lib.camb_queue_pop(None, byref(event), byref(job)), NULL_PARAMETER)
        self.assertEqual(lib.camb_queue_pop(self.queue, None, byref(job)), NULL_PARAMETER)
        self.assertIn(b"out_event", last_error())
        self.assertEqual(lib.camb_queue_pop(self.queue, byref(event), None), NULL_PARAMETER)
        self.assertIn(b"out_job", last_error())
        self.assertEqual(lib.camb_queue_wait(None, 0, byref(event), byref(job)), NULL_PARAMETER)
        self.assertEqual(lib.camb_queue_wait(self.queue, 0, None, byref(job)), NULL_PARAMETER)
        self.assertEqual(lib.camb_queue_wait(self.queue, 0, byref(event), None), NULL_PARAMETER)
        self.assertEqual((event.value, address(job)), (0xEEEE, SENTINEL))

    def test_job_threads_setting(self):
        builder = new_builder(self)
        self.assertEqual(lib.camb_client_builder_set_job_threads(None, 4), NULL_PARAMETER)
        for threads in (0, 65):
            with self.subTest(threads=threads):
                self.assertEqual(lib.camb_client_builder_set_job_threads(builder, threads), INVALID_PARAMETER)
                self.assertIn(str(threads).encode(), last_error())
        # A refusal fails the build, as for every setter.
        self.assertEqual(build(builder, byref(ClientPtr())), INVALID_PARAMETER)
        builder = new_builder(self)
        for threads in (1, 64):
            self.assertEqual(lib.camb_client_builder_set_job_threads(builder, threads), OK, last_error())

    def test_a_thread_serving_the_queue_with_wait(self):
        # No event loop: a thread of the caller's takes the jobs with
        # camb_queue_wait, while this one submits them, for two clients at once.
        other = build_client(self)
        count = 12
        taken = []
        failures = []

        def serve():
            try:
                while len(taken) < count:
                    event, job = c_uint32(0), JobPtr()
                    result = lib.camb_queue_wait(self.queue, 10000, byref(event), byref(job))
                    if result != OK:
                        failures.append((result, last_error()))
                        return
                    taken.append((event.value, address(job), lib.camb_job_user_data(job), lib.camb_job_result(job)))
                    lib.camb_job_free(job)
            except BaseException as e:  # noqa: BLE001 - reported below
                failures.append(repr(e))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        made = {}
        for n in range(count):
            client = self.client if n % 2 else other
            task_id = b"demo-success" if n % 3 else f"no-such-task-w{n}".encode()
            job = make_job(self, lib.camb_client_job_get_task_status, client, task_id)
            made[address(job)] = (0x100 + n, OK if n % 3 else NOT_FOUND)
            submit(self, job, self.queue, 0x100 + n)
        thread.join(30)
        self.assertFalse(thread.is_alive(), "the serving thread did not get every job")
        self.assertEqual(failures, [])
        self.assertEqual(sorted((a, u, r) for _, a, u, r in taken), sorted((a, u, r) for a, (u, r) in made.items()))
        self.assertEqual({event for event, _, _, _ in taken}, {EVENT_JOB_DONE})

    def test_many_waits_on_few_threads(self):
        # Between polls a wait holds no thread: many waits on a pool of 2.
        builder = new_builder(self)
        for setter, value in [
            (lib.camb_client_builder_set_api_key, API_KEY.encode()),
            (lib.camb_client_builder_set_base_url, BASE_URL.encode()),
            (lib.camb_client_builder_set_job_threads, 2),
        ]:
            self.assertEqual(setter(builder, value), OK, last_error())
        client = ClientPtr()
        self.assertEqual(build(builder, byref(client)), OK, last_error())
        self.addCleanup(lib.camb_client_free, client)
        threads_before = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None
        jobs = [
            self.submit_wait(b"demo-pending", wait_options(initial_ms=15000, deadline_ms=30000), client=client)
            for _ in range(200)
        ]
        self.assertTrue(until(lambda: all(lib.camb_job_polls(j) >= 1 for j in jobs), timeout=20), "not every wait polled")
        self.assertTrue(all(lib.camb_job_get_state(j) == JOB_STATE_WAITING for j in jobs))
        if threads_before is not None:
            # The pool's 2 threads and its timer thread.
            self.assertLessEqual(len(os.listdir("/proc/self/task")) - threads_before, 3)
        for job in jobs:
            self.assertEqual(lib.camb_job_cancel(job), OK)
        back = take_finished(self, self.queue, len(jobs))
        self.assertEqual(sorted(address(j) for j in back), sorted(address(j) for j in jobs))
        self.assertEqual({lib.camb_job_result(j) for j in back}, {CANCELLED})


if __name__ == "__main__":
    unittest.main()
