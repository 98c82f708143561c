#!/usr/bin/env python3
"""libcamb through ctypes: the C ABI as a non-C caller sees it.

Every function, structure and callback type of camb.h is declared here and
checked against the header; the workflow (create, wait with progress and
cancellation, download through a callback, save, URLs) runs against the emulator.

Standard library only. Driven by tests/python_ctypes.rs (`cargo test --test
python_ctypes`), which starts the emulator and sets:

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
import tempfile
import threading
import time
import unittest
import urllib.request
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


class CambTaskInfo(Structure):
    """`camb_task_info`, field for field and in order.

    The string fields are c_void_p rather than c_char_p: c_char_p would copy up
    to the first NUL and throw the pointer away, while the header promises the
    text is read in full through its *_len (it may contain a NUL itself).
    """

    _fields_ = [
        ("status", c_uint32),
        ("has_run_id", c_bool),
        ("run_id", c_int64),
        ("status_text", c_void_p),
        ("status_text_len", c_size_t),
        ("exception_reason", c_void_p),
        ("exception_reason_len", c_size_t),
        ("message", c_void_p),
        ("message_len", c_size_t),
    ]


class CambCreateOptions(Structure):
    """`camb_create_options`, field for field and in order.

    Its strings go in, so they are c_char_p: assigning bytes to such a field
    keeps the bytes object alive in the structure (its `_objects`), and the
    header only borrows them for the call.
    """

    _fields_ = [
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
        ("initial_interval_ms", c_uint64),
        ("backoff_factor", c_double),
        ("max_interval_ms", c_uint64),
        ("deadline_ms", c_uint64),
    ]


class CambWaitProgress(Structure):
    """`camb_wait_progress`, field for field and in order; strings as in CambTaskInfo."""

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
    ]


class CambResultUrl(Structure):
    """`camb_result_url`, field for field and in order; the url as in CambTaskInfo."""

    _fields_ = [
        ("run_id", c_int64),
        ("url", c_void_p),
        ("url_len", c_size_t),
    ]


class CambTaskStatusEntry(Structure):
    """`camb_task_status_entry`, field for field and in order."""

    _fields_ = [
        ("result", c_uint32),
        ("http_status", c_uint16),
        ("info", CambTaskInfo),
        ("error_message", c_void_p),
        ("error_message_len", c_size_t),
    ]


ClientPtr = POINTER(CambClient)
BuilderPtr = POINTER(CambClientBuilder)
TokenPtr = POINTER(CambCancelToken)
TaskInfoPtr = POINTER(CambTaskInfo)
CreateOptionsPtr = POINTER(CambCreateOptions)
WaitOptionsPtr = POINTER(CambWaitOptions)
ResultUrlPtr = POINTER(CambResultUrl)

# The callback types. ctypes only keeps a CFUNCTYPE object's C thunk alive while
# the Python object lives: every test holds its callback in a local (or on self)
# until the C call that may invoke it has returned.
PROGRESS_FN = CFUNCTYPE(c_bool, POINTER(CambWaitProgress), c_void_p)
WRITE_FN = CFUNCTYPE(c_bool, POINTER(c_uint8), c_size_t, c_void_p)
# NULL function pointers: a CFUNCTYPE argument does not take None.
NO_PROGRESS = PROGRESS_FN()
NO_WRITE = WRITE_FN()

# camb_result and camb_status are uint32_t on the wire (the header's typedef
# when not C23/C++), so they are c_uint32 here.
camb_result = c_uint32

# Every function in camb.h: name -> (restype, argtypes). The header test below
# fails if camb.h declares a function missing here, or if the types disagree,
# so a new C function cannot ship without its Python declaration.
SIGNATURES = {
    "camb_client_builder_new": (BuilderPtr, []),
    "camb_client_builder_set_api_key": (camb_result, [BuilderPtr, c_char_p]),
    "camb_client_builder_set_base_url": (camb_result, [BuilderPtr, c_char_p]),
    "camb_client_builder_set_timeout_ms": (camb_result, [BuilderPtr, c_uint64]),
    "camb_client_builder_set_max_retries": (camb_result, [BuilderPtr, c_uint32]),
    "camb_client_builder_set_allow_insecure_http": (camb_result, [BuilderPtr, c_bool]),
    "camb_client_builder_set_ca_bundle_file": (camb_result, [BuilderPtr, c_char_p]),
    # Bytes, not a string: pass (c_uint8 * n).from_buffer_copy(pem).
    "camb_client_builder_set_ca_bundle_pem": (camb_result, [BuilderPtr, POINTER(c_uint8), c_size_t]),
    "camb_client_builder_set_proxy": (camb_result, [BuilderPtr, c_char_p]),
    "camb_client_builder_build": (camb_result, [BuilderPtr, POINTER(ClientPtr)]),
    "camb_client_builder_free": (None, [BuilderPtr]),
    "camb_client_new": (camb_result, [c_char_p, POINTER(ClientPtr)]),
    "camb_client_free": (None, [ClientPtr]),
    "camb_client_get_task_status": (camb_result, [ClientPtr, c_char_p, TaskInfoPtr]),
    "camb_cancel_token_new": (TokenPtr, []),
    "camb_cancel_token_cancel": (camb_result, [TokenPtr]),
    "camb_cancel_token_reset": (camb_result, [TokenPtr]),
    "camb_cancel_token_is_cancelled": (c_bool, [TokenPtr]),
    "camb_cancel_token_free": (None, [TokenPtr]),
    # Structures returned by value: ctypes handles the platform's convention.
    "camb_create_options_default": (CambCreateOptions, []),
    "camb_client_create_task": (
        camb_result,
        [ClientPtr, c_char_p, CreateOptionsPtr, POINTER(c_char), c_size_t],
    ),
    "camb_wait_options_default": (CambWaitOptions, []),
    "camb_client_wait_for_task": (
        camb_result,
        [ClientPtr, c_char_p, WaitOptionsPtr, TokenPtr, PROGRESS_FN, c_void_p, TaskInfoPtr],
    ),
    "camb_client_download_result": (
        camb_result,
        [ClientPtr, c_int64, TokenPtr, WRITE_FN, c_void_p, POINTER(c_uint64)],
    ),
    "camb_client_save_result": (camb_result, [ClientPtr, c_int64, c_char_p, TokenPtr, POINTER(c_uint64)]),
    "camb_client_get_result_url": (
        camb_result,
        [ClientPtr, c_int64, POINTER(c_char), c_size_t, POINTER(c_size_t)],
    ),
    "camb_client_get_result_urls": (camb_result, [ClientPtr, POINTER(c_int64), c_size_t, ResultUrlPtr]),
    "camb_client_get_task_statuses": (
        camb_result,
        [ClientPtr, POINTER(c_char_p), c_size_t, c_uint32, POINTER(CambTaskStatusEntry)],
    ),
    # Static or per-thread strings that are never NULL and never contain a NUL:
    # c_char_p's conversion to bytes is what the caller wants.
    "camb_last_error": (c_char_p, []),
    "camb_last_http_status": (c_uint16, []),
    "camb_result_name": (c_char_p, [c_uint32]),
    "camb_status_name": (c_char_p, [c_uint32]),
    "camb_status_is_final": (c_bool, [c_uint32]),
    "camb_version": (c_char_p, []),
}

# How each C type spelled in camb.h maps to ctypes; used to check SIGNATURES
# against the header. A type missing here fails the test with its spelling.
C_TYPES = {
    "void": None,
    "bool": c_bool,
    "uint16_t": c_uint16,
    "uint32_t": c_uint32,
    "uint64_t": c_uint64,
    "int64_t": c_int64,
    "size_t": c_size_t,
    "void *": c_void_p,
    "camb_result": c_uint32,
    "const char *": c_char_p,
    # A buffer libcamb writes into: a ctypes char array (create_string_buffer) or None.
    "char *": POINTER(c_char),
    "uint64_t *": POINTER(c_uint64),
    "size_t *": POINTER(c_size_t),
    "const int64_t *": POINTER(c_int64),
    "struct camb_client_builder *": BuilderPtr,
    "struct camb_client *": ClientPtr,
    "const struct camb_client *": ClientPtr,
    "struct camb_client **": POINTER(ClientPtr),
    "struct camb_task_info *": TaskInfoPtr,
    "struct camb_cancel_token *": TokenPtr,
    "const struct camb_cancel_token *": TokenPtr,
    "struct camb_create_options": CambCreateOptions,
    "const struct camb_create_options *": CreateOptionsPtr,
    "struct camb_wait_options": CambWaitOptions,
    "const struct camb_wait_options *": WaitOptionsPtr,
    "struct camb_result_url *": ResultUrlPtr,
    "const char *const *": POINTER(c_char_p),
    "struct camb_task_status_entry *": POINTER(CambTaskStatusEntry),
    "camb_progress_fn": PROGRESS_FN,
    "camb_write_fn": WRITE_FN,
    # Only in callback parameters.
    "const struct camb_wait_progress *": POINTER(CambWaitProgress),
    "const uint8_t *": POINTER(c_uint8),
}

# The same for structure fields, where strings libcamb hands out are c_void_p
# (see CambTaskInfo).
FIELD_TYPES = {
    "uint16_t": c_uint16,
    "struct camb_task_info": CambTaskInfo,
    "uint32_t": c_uint32,
    "uint64_t": c_uint64,
    "bool": c_bool,
    "int64_t": c_int64,
    "size_t": c_size_t,
    "double": c_double,
    "const char *": c_void_p,
}

# Every structure camb.h defines -> (its mirror, field types that differ from
# FIELD_TYPES). A structure missing here fails the layout test.
STRUCTS = {
    "camb_task_info": (CambTaskInfo, {}),
    # Strings the caller passes in (see CambCreateOptions).
    "camb_create_options": (CambCreateOptions, {"const char *": c_char_p}),
    "camb_wait_options": (CambWaitOptions, {}),
    "camb_wait_progress": (CambWaitProgress, {}),
    "camb_result_url": (CambResultUrl, {}),
    "camb_task_status_entry": (CambTaskStatusEntry, {}),
}

# Every function-pointer typedef camb.h defines -> its CFUNCTYPE.
CALLBACKS = {
    "camb_progress_fn": PROGRESS_FN,
    "camb_write_fn": WRITE_FN,
}

# Result and status values this file relies on; checked against the header.
OK = 0
NULL_PARAMETER = 1
INVALID_PARAMETER = 2
MISSING_API_KEY = 3
BUFFER_TOO_SMALL = 4
CANCELLED = 5
IO = 7
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

AUDIO_TYPE_DEFAULT = 0
AUDIO_TYPE_SOUND = 1
AUDIO_TYPE_MUSIC = 2

TASK_ID_BUFFER_SIZE = 1025

# --------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------

ENV_VARS = ("CAMB_LIB", "CAMB_TEST_BASE_URL", "CAMB_TEST_API_KEY", "CAMB_HEADER", "CAMB_CARGO_TOML")


def require_env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"environment variable {name} is not set; run this through "
            f"`cargo test --test python_ctypes`, or set all of {', '.join(ENV_VARS)}"
        )
    return value


lib = None
BASE_URL = None
API_KEY = None
HEADER_TEXT = None
CARGO_TOML_TEXT = None


def setUpModule():
    global lib, BASE_URL, API_KEY, HEADER_TEXT, CARGO_TOML_TEXT
    lib = ctypes.CDLL(require_env("CAMB_LIB"))
    for name, (restype, argtypes) in SIGNATURES.items():
        function = getattr(lib, name)  # AttributeError names a missing export
        function.restype = restype
        function.argtypes = argtypes
    BASE_URL = require_env("CAMB_TEST_BASE_URL").rstrip("/")
    API_KEY = require_env("CAMB_TEST_API_KEY")
    with open(require_env("CAMB_HEADER"), encoding="utf-8") as f:
        HEADER_TEXT = f.read()
    with open(require_env("CAMB_CARGO_TOML"), encoding="utf-8") as f:
        CARGO_TOML_TEXT = f.read()


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def strip_c_comments(text):
    """The header without comments, so names in doc comments are not taken for declarations."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_declarations(header):
    """{name: (return type, [parameter types])} for every function prototype in camb.h."""
    code = strip_c_comments(header)
    # Preprocessor lines (#define, #if ...) hold no prototypes.
    code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("#"))
    declarations = {}
    # Each prototype ends at a ";" and starts after the previous ";", "{" or "}".
    for statement in code.split(";"):
        statement = re.split(r"[{}]", statement)[-1]
        match = re.fullmatch(r"\s*([^()]*?)\b(camb_\w+)\s*\(([^()]*)\)\s*", statement)
        if match is None:
            continue
        return_type = normalize_c_type(match.group(1))
        params = [p for p in (p.strip() for p in match.group(3).split(",")) if p]
        if params == ["void"]:
            params = []
        # Each parameter is "<type> <name>": drop the trailing name.
        param_types = [normalize_c_type(re.sub(r"\w+$", "", p)) for p in params]
        declarations[match.group(2)] = (return_type, param_types)
    return declarations


def normalize_c_type(spelling):
    """'struct camb_client  * *' -> 'struct camb_client **', for lookup in C_TYPES."""
    spelling = " ".join(spelling.split())
    spelling = re.sub(r"\s*\*\s*", "*", spelling)
    return re.sub(r"(\w)\*", r"\1 *", spelling)


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
    """A camb_task_info string: its full bytes via the length, None for NULL.

    Also checks what the header promises of every such string: NUL-terminated
    right after `length` bytes, and a NULL pointer has length 0.
    """
    if ptr is None:
        assert length == 0, f"a NULL string field has length {length}, not 0"
        return None
    with_nul = ctypes.string_at(ptr, length + 1)
    assert with_nul[-1] == 0, "string field is not NUL-terminated at its length"
    return with_nul[:-1]


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


def new_builder(test):
    builder = lib.camb_client_builder_new()
    test.assertTrue(builder, "camb_client_builder_new returned NULL")
    # Freeing a builder that was built is documented as a no-op, so this
    # cleanup is safe whatever the test did with it.
    test.addCleanup(lib.camb_client_builder_free, builder)
    return builder


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
    test.assertEqual(lib.camb_client_builder_build(builder, byref(client)), OK, last_error())
    test.assertTrue(client, "build succeeded but wrote a NULL client")
    if free:
        test.addCleanup(lib.camb_client_free, client)
    return client


def get_status(client, task_id):
    """(result, info) for one status call; info is a fresh struct either way."""
    info = CambTaskInfo()
    result = lib.camb_client_get_task_status(client, task_id, byref(info))
    return result, info


# --------------------------------------------------------------------------
# The header and the declarations above
# --------------------------------------------------------------------------


class HeaderTests(unittest.TestCase):
    def test_every_header_function_has_a_declaration(self):
        names = set(re.findall(r"\b(camb_\w+)\s*\(", strip_c_comments(HEADER_TEXT)))
        self.assertGreaterEqual(len(names), 10, "found too few functions: is CAMB_HEADER camb.h?")
        missing = sorted(names - SIGNATURES.keys())
        self.assertEqual(missing, [], "functions in camb.h without argtypes/restype in SIGNATURES")

    def test_no_declaration_for_a_function_the_header_lacks(self):
        stale = sorted(SIGNATURES.keys() - header_declarations(HEADER_TEXT).keys())
        self.assertEqual(stale, [], "SIGNATURES declares functions that camb.h does not")

    def test_declarations_match_header_types(self):
        declarations = header_declarations(HEADER_TEXT)
        # The prototype parser must see every name the simple scan sees.
        names = set(re.findall(r"\b(camb_\w+)\s*\(", strip_c_comments(HEADER_TEXT)))
        self.assertEqual(set(declarations), names, "prototype parser missed a declaration")
        for name, (c_return, c_params) in declarations.items():
            with self.subTest(function=name):
                self.assertIn(name, SIGNATURES, "camb.h declares it; add it to SIGNATURES")
                for spelling in [c_return, *c_params]:
                    self.assertIn(spelling, C_TYPES, f"add C type {spelling!r} to C_TYPES")
                restype, argtypes = SIGNATURES[name]
                self.assertIs(restype, C_TYPES[c_return], f"restype of {name}")
                self.assertEqual(len(argtypes), len(c_params), f"parameter count of {name}")
                for i, (declared, spelling) in enumerate(zip(argtypes, c_params)):
                    self.assertIs(declared, C_TYPES[spelling], f"parameter {i} of {name} ({spelling})")

    def test_every_header_struct_has_a_mirror(self):
        defined = set(re.findall(r"typedef struct (\w+) \{", strip_c_comments(HEADER_TEXT)))
        self.assertIn("camb_task_info", defined, "found no structure definitions: is CAMB_HEADER camb.h?")
        self.assertEqual(sorted(defined - STRUCTS.keys()), [], "structures in camb.h without a mirror in STRUCTS")
        self.assertEqual(sorted(STRUCTS.keys() - defined), [], "STRUCTS mirrors structures camb.h does not define")

    def test_struct_fields_match_header(self):
        code = strip_c_comments(HEADER_TEXT)
        for struct_name, (mirror, overrides) in STRUCTS.items():
            with self.subTest(struct=struct_name):
                body = re.search(rf"typedef struct {struct_name} \{{(.*?)\}} {struct_name};", code, re.S)
                self.assertIsNotNone(body, f"camb.h has no {struct_name} definition")
                # [(C type, field name)] in declaration order.
                header_fields = [
                    (normalize_c_type(c_type), name)
                    for c_type, name in re.findall(r"([^;]*?)\b(\w+)\s*;", body.group(1))
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
                    self.assertIs(arg, C_TYPES[spelling], f"parameter {i} of {name} ({spelling})")

    def test_task_id_buffer_size_matches_header(self):
        match = re.search(r"#define\s+CAMB_TASK_ID_BUFFER_SIZE\s+(\d+)", HEADER_TEXT)
        self.assertIsNotNone(match, "camb.h has no CAMB_TASK_ID_BUFFER_SIZE")
        self.assertEqual(int(match.group(1)), TASK_ID_BUFFER_SIZE)

    def test_constants_match_header(self):
        results = header_enum(HEADER_TEXT, "CAMB_RESULT_")
        for name, value in [
            ("CAMB_RESULT_OK", OK),
            ("CAMB_RESULT_NULL_PARAMETER", NULL_PARAMETER),
            ("CAMB_RESULT_INVALID_PARAMETER", INVALID_PARAMETER),
            ("CAMB_RESULT_MISSING_API_KEY", MISSING_API_KEY),
            ("CAMB_RESULT_BUFFER_TOO_SMALL", BUFFER_TOO_SMALL),
            ("CAMB_RESULT_CANCELLED", CANCELLED),
            ("CAMB_RESULT_IO", IO),
            ("CAMB_RESULT_TIMEOUT", TIMEOUT),
            ("CAMB_RESULT_HTTP_STATUS", HTTP_STATUS),
            ("CAMB_RESULT_UNAUTHORIZED", UNAUTHORIZED),
            ("CAMB_RESULT_NOT_FOUND", NOT_FOUND),
            ("CAMB_RESULT_VALIDATION", VALIDATION),
        ]:
            self.assertEqual(results.get(name), value, name)
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
        for value in (8, 99, 405, 12345, 0xFFFFFFFF):
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
        lib.camb_client_free(None)
        lib.camb_client_builder_free(None)
        lib.camb_cancel_token_free(None)

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
        self.assertEqual(lib.camb_client_builder_build(builder, byref(client)), OK, last_error())
        self.assertTrue(client)
        self.addCleanup(lib.camb_client_free, client)

        result, info = get_status(client, b"demo-success")
        self.assertEqual(result, OK, last_error())
        self.assertEqual(info.status, STATUS_SUCCESS)
        self.assertIs(info.has_run_id, True)
        self.assertEqual(info.run_id, 4242)
        self.assertEqual(read_field(info.status_text, info.status_text_len), b"SUCCESS")
        self.assertIsNone(read_field(info.exception_reason, info.exception_reason_len))
        self.assertIsNone(read_field(info.message, info.message_len))

    def test_calls_on_a_built_builder_are_invalid(self):
        builder = lib.camb_client_builder_new()
        self.assertTrue(builder)
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, b"some-key"), OK)
        client = ClientPtr()
        self.assertEqual(lib.camb_client_builder_build(builder, byref(client)), OK, last_error())
        self.addCleanup(lib.camb_client_free, client)
        # The builder is consumed: every call on it now is refused, not a use-after-free.
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, b"other-key"), INVALID_PARAMETER)
        self.assertIn(b"already built or freed", last_error())
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, BASE_URL.encode()), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_builder_set_timeout_ms(builder, 1000), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_builder_set_max_retries(builder, 1), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_builder_set_allow_insecure_http(builder, True), INVALID_PARAMETER)
        second = ClientPtr()
        self.assertEqual(lib.camb_client_builder_build(builder, byref(second)), INVALID_PARAMETER)
        self.assertFalse(second, "a failed build wrote *out_client")
        lib.camb_client_builder_free(builder)  # documented as ignored

    def test_free_then_calls_are_invalid(self):
        builder = lib.camb_client_builder_new()
        self.assertTrue(builder)
        lib.camb_client_builder_free(builder)
        lib.camb_client_builder_free(builder)  # a second free is ignored
        self.assertEqual(lib.camb_client_builder_set_timeout_ms(builder, 1000), INVALID_PARAMETER)

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
        # None of that harmed the builder.
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, b"key"), OK)

    def test_build_with_null_out_consumes_the_builder(self):
        builder = lib.camb_client_builder_new()
        self.assertTrue(builder)
        self.assertEqual(lib.camb_client_builder_build(builder, None), NULL_PARAMETER)
        self.assertIn(b"out_client", last_error())
        self.assertEqual(lib.camb_client_builder_set_timeout_ms(builder, 1000), INVALID_PARAMETER)

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
        # None of the refusals harmed the builder.
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, b"key"), OK)

    def test_plain_http_to_other_hosts_needs_opt_in(self):
        builder = lib.camb_client_builder_new()
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, b"key"), OK)
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, b"http://example.com/apis"), OK)
        client = ClientPtr()
        self.assertEqual(lib.camb_client_builder_build(builder, byref(client)), INVALID_PARAMETER)
        self.assertFalse(client)

        builder = lib.camb_client_builder_new()
        self.assertEqual(lib.camb_client_builder_set_api_key(builder, b"key"), OK)
        self.assertEqual(lib.camb_client_builder_set_base_url(builder, b"http://example.com/apis"), OK)
        self.assertEqual(lib.camb_client_builder_set_allow_insecure_http(builder, True), OK)
        self.assertEqual(lib.camb_client_builder_build(builder, byref(client)), OK, last_error())
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
        self.assertEqual(lib.camb_client_builder_build(builder, byref(client)), MISSING_API_KEY)
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
            self.assertEqual(lib.camb_client_builder_build(builder, byref(client)), OK, last_error())
        finally:
            del os.environ["CAMB_API_KEY"]
        self.addCleanup(lib.camb_client_free, client)
        # The key was copied at build time: unsetting the variable changes nothing.
        result, info = get_status(client, b"demo-success")
        self.assertEqual(result, OK, last_error())
        self.assertEqual(info.run_id, 4242)


# --------------------------------------------------------------------------
# Status queries against the emulator
# --------------------------------------------------------------------------


class TaskStatusTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)

    def check_status(self, task_id, status, text, run_id=None, reason=None, message=None):
        result, info = get_status(self.client, task_id)
        self.assertEqual(result, OK, last_error())
        self.assertEqual(last_error(), b"")
        self.assertEqual(info.status, status, lib.camb_status_name(info.status))
        self.assertEqual(read_field(info.status_text, info.status_text_len), text)
        if run_id is None:
            self.assertIs(info.has_run_id, False)
        else:
            self.assertIs(info.has_run_id, True)
            self.assertEqual(info.run_id, run_id)
        self.assertEqual(read_field(info.exception_reason, info.exception_reason_len), reason)
        self.assertEqual(read_field(info.message, info.message_len), message)
        return info

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
        for task_id in (b"demo-success", b"demo-error", b"demo-unknown"):
            with self.subTest(task_id=task_id):
                result, info = get_status(self.client, task_id)
                self.assertEqual(result, OK, last_error())
                for field in ("status_text", "exception_reason", "message"):
                    ptr, length = getattr(info, field), getattr(info, field + "_len")
                    if ptr is not None:
                        self.assertEqual(length, len(ctypes.string_at(ptr)), field)

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
        info = self.check_status(
            b"py-unusual",
            STATUS_UNKNOWN,
            b"FAILED",
            reason="R\u00e9ASON".encode(),
            message=message.encode(),
        )
        self.assertEqual(info.exception_reason_len, len("R\u00e9ASON".encode()))
        self.assertEqual(info.message_len, len(message.encode()))
        self.assertLess(len(ctypes.string_at(info.message)), info.message_len, "the NUL is inside")

    def test_object_message_is_compact_json(self):
        control(
            "/_emulator/tasks",
            {"task_id": "py-object", "final_status": "ERROR", "omit_run_id": True, "message": {"code": 7, "detail": "x y"}},
        )
        result, info = get_status(self.client, b"py-object")
        self.assertEqual(result, OK, last_error())
        self.assertEqual(info.status, STATUS_ERROR)
        self.assertIs(info.has_run_id, False)
        message = read_field(info.message, info.message_len)
        self.assertEqual(json.loads(message), {"code": 7, "detail": "x y"})
        self.assertNotIn(b"\n", message)
        self.assertNotIn(b": ", message, "message JSON is not compact")

    def test_null_parameters(self):
        client = self.client
        cases = [
            ("client", lambda info: lib.camb_client_get_task_status(None, b"demo-success", info)),
            ("task_id", lambda info: lib.camb_client_get_task_status(client, None, info)),
            ("out_info", lambda info: lib.camb_client_get_task_status(client, b"demo-success", None)),
            (None, lambda info: lib.camb_client_get_task_status(None, None, None)),
        ]
        for parameter, call in cases:
            with self.subTest(parameter=parameter):
                info = CambTaskInfo(status=99)
                self.assertEqual(call(byref(info)), NULL_PARAMETER)
                error = last_error()
                self.assertIn(b"NULL", error)
                if parameter is not None:
                    self.assertIn(parameter.encode(), error)
                self.assertEqual(info.status, 99, "out_info was written on failure")
                self.assertEqual(lib.camb_last_http_status(), 0)

    def test_invalid_task_ids(self):
        for task_id in (b"\xff", b"ok-then-\xc3", b"", b".", b"..", b"x" * 1025):
            with self.subTest(task_id=task_id[:20]):
                info = CambTaskInfo(status=99)
                result = lib.camb_client_get_task_status(self.client, task_id, byref(info))
                self.assertEqual(result, INVALID_PARAMETER)
                # The message names the culprit, as "task_id" or "task id".
                self.assertRegex(last_error(), rb"task[ _]id")
                self.assertEqual(info.status, 99, "out_info was written on failure")
                self.assertEqual(lib.camb_last_http_status(), 0)

    def test_not_found(self):
        info = CambTaskInfo(status=99)
        result = lib.camb_client_get_task_status(self.client, b"no-such-task-1234", byref(info))
        self.assertEqual(result, NOT_FOUND)
        self.assertIn(b"no-such-task-1234", last_error())
        self.assertEqual(lib.camb_last_http_status(), 404)
        self.assertEqual(info.status, 99, "out_info was written on failure")

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
        info = CambTaskInfo(status=99)
        result = lib.camb_client_get_task_status(client, b"demo-success", byref(info))
        self.assertEqual(result, UNAUTHORIZED)
        self.assertEqual(lib.camb_last_http_status(), 401)
        error = last_error()
        self.assertNotEqual(error, b"")
        self.assertNotIn(secret.encode(), error)
        self.assertNotIn(b"Zq8xW31v", error)
        self.assertEqual(info.status, 99)

    def test_success_clears_the_error(self):
        self.assertEqual(get_status(self.client, b"no-such-task")[0], NOT_FOUND)
        self.assertEqual(lib.camb_last_http_status(), 404)
        self.assertEqual(get_status(self.client, b"demo-success")[0], OK)
        self.assertEqual(last_error(), b"")
        self.assertEqual(lib.camb_last_http_status(), 0)


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
                        result, info = get_status(client, b"demo-success")
                        if result != OK:
                            failures.append(f"thread {n} call {i}: {result} {last_error()!r}")
                        elif info.run_id != 4242 or read_field(info.status_text, info.status_text_len) != b"SUCCESS":
                            failures.append(f"thread {n} call {i}: wrong info run_id={info.run_id}")
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
    return CambWaitOptions(
        initial_interval_ms=initial_ms,
        backoff_factor=factor,
        max_interval_ms=initial_ms if max_ms is None else max_ms,
        deadline_ms=deadline_ms,
    )


def create_task(client, prompt, options=None):
    """(result, task id bytes or None) for one create call."""
    buffer = ctypes.create_string_buffer(TASK_ID_BUFFER_SIZE)
    result = lib.camb_client_create_task(
        client, prompt, None if options is None else byref(options), buffer, len(buffer)
    )
    return result, (buffer.value if result == OK else None)


def create_requests():
    """How many POST /text-to-sound the emulator has seen since its last reset."""
    return sum(1 for r in control("/_emulator/stats")["requests"] if r["path"] == "/text-to-sound")


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
        options = lib.camb_create_options_default()
        self.assertEqual(options.duration_s, 0.0)
        self.assertEqual(options.audio_type, AUDIO_TYPE_DEFAULT)
        self.assertIsNone(options.project_name)
        self.assertIsNone(options.project_description)
        self.assertIs(options.has_folder_id, False)
        self.assertIs(options.retry, False)

    def test_create_then_status(self):
        # NULL options are the defaults; the emulator here finishes tasks at once.
        result, task_id = create_task(self.client, b"waves on a beach")
        self.assertEqual(result, OK, last_error())
        self.assertEqual(last_error(), b"")
        self.assertTrue(task_id)
        self.assertLess(len(task_id), TASK_ID_BUFFER_SIZE)
        result, info = get_status(self.client, task_id)
        self.assertEqual(result, OK, last_error())
        self.assertEqual(info.status, STATUS_SUCCESS)
        self.assertIs(info.has_run_id, True)

    def test_create_with_every_option(self):
        options = lib.camb_create_options_default()
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
        self.assertEqual(create_requests(), 1)
        result, info = get_status(self.client, task_id)
        self.assertEqual(result, OK, last_error())
        self.assertEqual(info.status, STATUS_SUCCESS)

    def test_music_longer_than_sound(self):
        options = lib.camb_create_options_default()
        options.duration_s = 30
        options.audio_type = AUDIO_TYPE_MUSIC
        result, task_id = create_task(self.client, b"a slow waltz", options)
        self.assertEqual(result, OK, last_error())
        self.assertTrue(task_id)

    def test_refused_before_any_request(self):
        def options_with(**fields):
            options = lib.camb_create_options_default()
            for name, value in fields.items():
                setattr(options, name, value)
            return options

        cases = [
            ("empty prompt", b"", None, TASK_ID_BUFFER_SIZE),
            ("prompt not UTF-8", b"\xffwaves", None, TASK_ID_BUFFER_SIZE),
            ("11 s of sound", b"waves", options_with(duration_s=11.0, audio_type=AUDIO_TYPE_SOUND), TASK_ID_BUFFER_SIZE),
            ("negative duration", b"waves", options_with(duration_s=-1.0), TASK_ID_BUFFER_SIZE),
            ("unknown audio type", b"waves", options_with(audio_type=9), TASK_ID_BUFFER_SIZE),
            ("project name not UTF-8", b"waves", options_with(project_name=b"\xff"), TASK_ID_BUFFER_SIZE),
            ("small task id buffer", b"waves", None, TASK_ID_BUFFER_SIZE - 1),
            ("tiny task id buffer", b"waves", None, 1),
        ]
        control("/_emulator/reset", {})
        for what, prompt, options, size in cases:
            with self.subTest(what=what):
                buffer = ctypes.create_string_buffer(b"untouched", TASK_ID_BUFFER_SIZE)
                result = lib.camb_client_create_task(
                    self.client, prompt, None if options is None else byref(options), buffer, size
                )
                self.assertEqual(result, INVALID_PARAMETER, last_error())
                self.assertNotEqual(last_error(), b"")
                self.assertEqual(lib.camb_last_http_status(), 0)
                self.assertEqual(buffer.value, b"untouched", "out_task_id was written on failure")
        self.assertEqual(create_requests(), 0, "a refused create reached the server")

    def test_small_buffer_is_named(self):
        buffer = ctypes.create_string_buffer(16)
        self.assertEqual(lib.camb_client_create_task(self.client, b"waves", None, buffer, len(buffer)), INVALID_PARAMETER)
        self.assertIn(b"CAMB_TASK_ID_BUFFER_SIZE", last_error())

    def test_null_parameters(self):
        buffer = ctypes.create_string_buffer(TASK_ID_BUFFER_SIZE)
        size = len(buffer)
        control("/_emulator/reset", {})
        for parameter, call in [
            ("client", lambda: lib.camb_client_create_task(None, b"waves", None, buffer, size)),
            ("prompt", lambda: lib.camb_client_create_task(self.client, None, None, buffer, size)),
            ("out_task_id", lambda: lib.camb_client_create_task(self.client, b"waves", None, None, size)),
        ]:
            with self.subTest(parameter=parameter):
                self.assertEqual(call(), NULL_PARAMETER)
                self.assertIn(parameter.encode(), last_error())
        self.assertEqual(create_requests(), 0)

    def test_server_validation(self):
        # Longer than the emulator renders for music: refused by the server, with 422.
        options = lib.camb_create_options_default()
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

    def wait(self, task_id, options=None, token=None, progress=None):
        """(result, info, seconds) for one wait; `progress` is a CFUNCTYPE the caller holds."""
        info = CambTaskInfo(status=99)
        started = time.monotonic()
        result = lib.camb_client_wait_for_task(
            self.client,
            task_id,
            None if options is None else byref(options),
            token,
            NO_PROGRESS if progress is None else progress,
            None,
            byref(info),
        )
        return result, info, time.monotonic() - started

    def test_default_options(self):
        options = lib.camb_wait_options_default()
        self.assertEqual(options.initial_interval_ms, 2000)
        self.assertEqual(options.backoff_factor, 1.5)
        self.assertEqual(options.max_interval_ms, 15000)
        self.assertEqual(options.deadline_ms, 600000)

    def test_final_at_once_with_default_options(self):
        result, info, seconds = self.wait(b"demo-success")
        self.assertEqual(result, OK, last_error())
        self.assertEqual(info.status, STATUS_SUCCESS)
        self.assertEqual(info.run_id, 4242)
        self.assertEqual(read_field(info.status_text, info.status_text_len), b"SUCCESS")
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
                result, info, _ = self.wait(task_id, wait_options(initial_ms=50))
                self.assertEqual(result, OK, last_error())
                self.assertEqual(info.status, status)
                self.assertEqual(read_field(info.status_text, info.status_text_len), directive[8:-1])
        result, info, _ = self.wait(b"demo-error", wait_options())
        self.assertEqual(result, OK, last_error())
        self.assertEqual(read_field(info.exception_reason, info.exception_reason_len), b"PROCESSING_ERROR")

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
        info = CambTaskInfo()
        result = lib.camb_client_wait_for_task(
            self.client, task_id, byref(wait_options(initial_ms=100)), None, callback, c_void_p(1234), byref(info)
        )
        self.assertEqual(result, OK, last_error())
        self.assertEqual(info.status, STATUS_SUCCESS)
        self.assertIs(info.has_run_id, True)
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
        result, info, seconds = self.wait(b"demo-pending", wait_options(initial_ms=50), progress=callback)
        self.assertEqual(result, CANCELLED, last_error())
        self.assertEqual(calls, [1])
        self.assertEqual(info.status, 99, "out_info was written on failure")

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
        result, info, _ = self.wait(b"demo-pending", options, token=token, progress=callback)
        returned_at = time.monotonic()
        thread.join(timeout=10)
        self.assertEqual(result, CANCELLED, last_error())
        self.assertNotEqual(last_error(), b"")
        self.assertEqual(len(cancelled_at), 1, "the canceller did not run")
        self.assertLess(returned_at - cancelled_at[0], 2.0, "the sleeping wait was not woken at once")
        self.assertEqual(info.status, 99)
        # The token stays raised: a later wait stops before it starts...
        control("/_emulator/reset", {})
        result, _, _ = self.wait(b"demo-success", options, token=token)
        self.assertEqual(result, CANCELLED)
        self.assertEqual(control("/_emulator/stats")["requests"], [], "a cancelled wait polled")
        # ...until it is reset.
        self.assertEqual(lib.camb_cancel_token_reset(token), OK)
        result, info, _ = self.wait(b"demo-success", options, token=token)
        self.assertEqual(result, OK, last_error())
        self.assertEqual(info.run_id, 4242)

    def test_deadline(self):
        result, info, seconds = self.wait(b"demo-pending", wait_options(initial_ms=50, factor=1.5, max_ms=100, deadline_ms=400))
        self.assertEqual(result, TIMEOUT, last_error())
        self.assertIn(b"PENDING", last_error())
        self.assertEqual(info.status, 99)
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
        ]:
            with self.subTest(what=what):
                result, info, _ = self.wait(b"demo-success", options)
                self.assertEqual(result, INVALID_PARAMETER)
                self.assertNotEqual(last_error(), b"")
                self.assertEqual(info.status, 99)

    def test_null_parameters(self):
        info = CambTaskInfo()
        for parameter, call in [
            ("client", lambda: lib.camb_client_wait_for_task(None, b"demo-success", None, None, NO_PROGRESS, None, byref(info))),
            ("task_id", lambda: lib.camb_client_wait_for_task(self.client, None, None, None, NO_PROGRESS, None, byref(info))),
            ("out_info", lambda: lib.camb_client_wait_for_task(self.client, b"demo-success", None, None, NO_PROGRESS, None, None)),
        ]:
            with self.subTest(parameter=parameter):
                self.assertEqual(call(), NULL_PARAMETER)
                self.assertIn(parameter.encode(), last_error())


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
        result = lib.camb_client_download_result(self.client, 4242, None, callback, c_void_p(99), byref(total))
        self.assertEqual(result, OK, last_error())
        data = b"".join(chunk for chunk, _ in chunks)
        self.assertTrue(is_wav(data), data[:16])
        self.assertEqual(total.value, len(data))
        self.assertEqual(int.from_bytes(data[4:8], "little") + 8, len(data), "RIFF size")
        self.assertTrue(all(0 < len(chunk) <= 64 * 1024 for chunk, _ in chunks))
        self.assertTrue(all(user_data == 99 for _, user_data in chunks))
        # out_bytes may be NULL.
        self.assertEqual(lib.camb_client_download_result(self.client, 4242, None, callback, None, None), OK)

    def test_write_returning_false_stops_it(self):
        calls = []

        def write(data, length, user_data):
            calls.append(length)
            return False

        callback = WRITE_FN(write)
        total = c_uint64(12345)
        result = lib.camb_client_download_result(self.client, 4242, None, callback, None, byref(total))
        self.assertEqual(result, CANCELLED)
        self.assertNotEqual(last_error(), b"")
        self.assertEqual(len(calls), 1)
        self.assertEqual(total.value, 12345, "out_bytes was written on failure")

    def test_cancelled_token(self):
        token = new_token(self)
        lib.camb_cancel_token_cancel(token)
        calls = []
        callback = WRITE_FN(lambda data, length, user_data: calls.append(length) or True)
        self.assertEqual(lib.camb_client_download_result(self.client, 4242, token, callback, None, None), CANCELLED)
        self.assertEqual(calls, [])

    def test_errors(self):
        callback = WRITE_FN(lambda data, length, user_data: True)
        self.assertEqual(lib.camb_client_download_result(self.client, 987654, None, callback, None, None), NOT_FOUND)
        self.assertEqual(lib.camb_last_http_status(), 404)
        # demo-error's run did not succeed: HTTP 400.
        self.assertEqual(lib.camb_client_download_result(self.client, 4243, None, callback, None, None), HTTP_STATUS)
        self.assertEqual(lib.camb_last_http_status(), 400)
        self.assertEqual(lib.camb_client_download_result(self.client, 4242, None, NO_WRITE, None, None), NULL_PARAMETER)
        self.assertIn(b"write", last_error())
        self.assertEqual(lib.camb_client_download_result(None, 4242, None, callback, None, None), NULL_PARAMETER)


class SaveResultTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.dir = directory.name

    def test_save(self):
        path = os.path.join(self.dir, "out \u00e9.wav")
        total = c_uint64(0)
        result = lib.camb_client_save_result(self.client, 4242, os.fsencode(path), None, byref(total))
        self.assertEqual(result, OK, last_error())
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(is_wav(data), data[:16])
        self.assertEqual(total.value, len(data))
        self.assertEqual(os.listdir(self.dir), ["out \u00e9.wav"], "a temporary file was left behind")
        # Replacing an existing file.
        self.assertEqual(lib.camb_client_save_result(self.client, 4242, os.fsencode(path), None, None), OK)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_failed_save_leaves_no_file(self):
        path = os.path.join(self.dir, "missing.wav")
        total = c_uint64(12345)
        result = lib.camb_client_save_result(self.client, 987654, os.fsencode(path), None, byref(total))
        self.assertEqual(result, NOT_FOUND)
        self.assertEqual(os.listdir(self.dir), [])
        self.assertEqual(total.value, 12345)
        token = new_token(self)
        lib.camb_cancel_token_cancel(token)
        self.assertEqual(lib.camb_client_save_result(self.client, 4242, os.fsencode(path), token, None), CANCELLED)
        self.assertEqual(os.listdir(self.dir), [])

    def test_failed_save_keeps_an_existing_file(self):
        path = os.path.join(self.dir, "keep.wav")
        with open(path, "wb") as f:
            f.write(b"old contents")
        self.assertEqual(lib.camb_client_save_result(self.client, 4243, os.fsencode(path), None, None), HTTP_STATUS)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"old contents")
        self.assertEqual(os.listdir(self.dir), ["keep.wav"])

    def test_io_error(self):
        path = os.path.join(self.dir, "no-such-dir", "out.wav")
        self.assertEqual(lib.camb_client_save_result(self.client, 4242, os.fsencode(path), None, None), IO)
        self.assertNotEqual(last_error(), b"")
        self.assertEqual(os.listdir(self.dir), [])

    def test_bad_paths(self):
        self.assertEqual(lib.camb_client_save_result(self.client, 4242, b"", None, None), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_save_result(self.client, 4242, None, None, None), NULL_PARAMETER)
        self.assertIn(b"path", last_error())


class BatchStatusTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)

    def test_many_statuses_in_one_call(self):
        ids = [b"demo-success", b"no-such-task", None, b"\xff", b"demo-unknown"]
        array = (c_char_p * len(ids))(*ids)
        entries = (CambTaskStatusEntry * len(ids))()
        result = lib.camb_client_get_task_statuses(self.client, array, len(ids), 4, entries)
        self.assertEqual(result, OK, last_error())
        self.assertEqual([e.result for e in entries], [OK, NOT_FOUND, NULL_PARAMETER, INVALID_PARAMETER, OK])
        self.assertEqual(entries[0].info.run_id, 4242)
        self.assertEqual(read_field(entries[0].info.status_text, entries[0].info.status_text_len), b"SUCCESS")
        self.assertIsNone(entries[0].error_message)
        self.assertEqual(entries[1].http_status, 404)
        self.assertIn(b"no-such-task", read_field(entries[1].error_message, entries[1].error_message_len))
        self.assertEqual(read_field(entries[4].info.status_text, entries[4].info.status_text_len), b"QUEUED_FOR_GPU")

    def test_limits(self):
        entries = (CambTaskStatusEntry * 1)()
        array = (c_char_p * 1)(b"demo-success")
        self.assertEqual(lib.camb_client_get_task_statuses(self.client, None, 0, 0, None), OK)
        self.assertEqual(lib.camb_client_get_task_statuses(self.client, array, 1, 33, entries), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_get_task_statuses(self.client, None, 1, 0, entries), NULL_PARAMETER)


class ResultUrlTests(unittest.TestCase):
    def setUp(self):
        self.client = build_client(self)

    def test_grow_the_buffer(self):
        needed = c_size_t(0)
        # NULL and 0 ask for the length.
        self.assertEqual(lib.camb_client_get_result_url(self.client, 4242, None, 0, byref(needed)), BUFFER_TOO_SMALL)
        self.assertNotEqual(last_error(), b"")
        self.assertGreater(needed.value, 0)
        # Exactly the length is still too small: the NUL needs a byte too.
        small = ctypes.create_string_buffer(b"untouched", needed.value)
        length = c_size_t(0)
        self.assertEqual(lib.camb_client_get_result_url(self.client, 4242, small, len(small), byref(length)), BUFFER_TOO_SMALL)
        self.assertEqual(length.value, needed.value)
        self.assertEqual(small.value, b"untouched", "buffer written on BUFFER_TOO_SMALL")

        buffer = ctypes.create_string_buffer(needed.value + 1)
        length = c_size_t(0)
        self.assertEqual(lib.camb_client_get_result_url(self.client, 4242, buffer, len(buffer), byref(length)), OK, last_error())
        self.assertEqual(length.value, needed.value)
        url = buffer.value
        self.assertEqual(len(url), needed.value)
        self.assertTrue(url.startswith(BASE_URL.encode() + b"/_emulator/files/4242.wav?"), url)
        # A pre-signed URL: fetched without the key.
        with urllib.request.urlopen(url.decode(), timeout=10) as reply:
            self.assertTrue(is_wav(reply.read()))

    def test_errors(self):
        length = c_size_t(7)
        buffer = ctypes.create_string_buffer(4096)
        self.assertEqual(lib.camb_client_get_result_url(self.client, 987654, buffer, len(buffer), byref(length)), NOT_FOUND)
        self.assertEqual(length.value, 7)
        self.assertEqual(lib.camb_client_get_result_url(self.client, 4242, None, 10, None), NULL_PARAMETER)
        self.assertIn(b"buffer", last_error())

    def test_many_urls(self):
        run_ids = (c_int64 * 2)(4242, 987654)
        urls = (CambResultUrl * 2)()
        result = lib.camb_client_get_result_urls(self.client, run_ids, 2, urls)
        self.assertEqual(result, OK, last_error())
        self.assertEqual([entry.run_id for entry in urls], [4242, 987654])
        first = read_field(urls[0].url, urls[0].url_len)
        self.assertTrue(first.startswith(BASE_URL.encode() + b"/_emulator/files/4242.wav?"), first)
        self.assertIsNone(urls[1].url)
        self.assertEqual(urls[1].url_len, 0)
        with urllib.request.urlopen(first.decode(), timeout=10) as reply:
            self.assertTrue(is_wav(reply.read()))

    def test_many_urls_errors(self):
        run_ids = (c_int64 * 1001)(*range(1, 1002))
        urls = (CambResultUrl * 1001)()
        urls[0].run_id = -5
        self.assertEqual(lib.camb_client_get_result_urls(self.client, run_ids, 0, urls), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_get_result_urls(self.client, run_ids, 1001, urls), INVALID_PARAMETER)
        self.assertEqual(lib.camb_client_get_result_urls(self.client, None, 1, urls), NULL_PARAMETER)
        self.assertIn(b"run_ids", last_error())
        self.assertEqual(lib.camb_client_get_result_urls(self.client, run_ids, 1, None), NULL_PARAMETER)
        self.assertIn(b"out_urls", last_error())
        self.assertEqual(urls[0].run_id, -5, "out_urls was written on failure")
        # The limit itself is accepted.
        self.assertEqual(lib.camb_client_get_result_urls(self.client, run_ids, 1000, urls), OK, last_error())
        self.assertEqual(urls[999].run_id, 1000)



if __name__ == "__main__":
    unittest.main()
