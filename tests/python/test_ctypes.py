#!/usr/bin/env python3
"""libcamb through ctypes: the C ABI as a non-C caller sees it.

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
import threading
import unittest
import urllib.request
from ctypes import (
    POINTER,
    Structure,
    byref,
    c_bool,
    c_char_p,
    c_int64,
    c_size_t,
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


ClientPtr = POINTER(CambClient)
BuilderPtr = POINTER(CambClientBuilder)
TaskInfoPtr = POINTER(CambTaskInfo)

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
    "camb_client_builder_build": (camb_result, [BuilderPtr, POINTER(ClientPtr)]),
    "camb_client_builder_free": (None, [BuilderPtr]),
    "camb_client_new": (camb_result, [c_char_p, POINTER(ClientPtr)]),
    "camb_client_free": (None, [ClientPtr]),
    "camb_client_get_task_status": (camb_result, [ClientPtr, c_char_p, TaskInfoPtr]),
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
    "camb_result": c_uint32,
    "const char *": c_char_p,
    "struct camb_client_builder *": BuilderPtr,
    "struct camb_client *": ClientPtr,
    "const struct camb_client *": ClientPtr,
    "struct camb_client **": POINTER(ClientPtr),
    "struct camb_task_info *": TaskInfoPtr,
}

# The same for camb_task_info's fields, where strings are c_void_p (see CambTaskInfo).
FIELD_TYPES = {
    "uint32_t": c_uint32,
    "bool": c_bool,
    "int64_t": c_int64,
    "size_t": c_size_t,
    "const char *": c_void_p,
}

# Result and status values this file relies on; checked against the header.
OK = 0
NULL_PARAMETER = 1
INVALID_PARAMETER = 2
MISSING_API_KEY = 3
UNAUTHORIZED = 401
NOT_FOUND = 404

STATUS_UNKNOWN = 0
STATUS_PENDING = 1
STATUS_SUCCESS = 2
STATUS_TIMEOUT = 3
STATUS_ERROR = 4
STATUS_PAYMENT_REQUIRED = 5

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

    def test_task_info_fields_match_header(self):
        body = re.search(r"typedef struct camb_task_info \{(.*?)\} camb_task_info;", strip_c_comments(HEADER_TEXT), re.S)
        self.assertIsNotNone(body, "camb.h has no camb_task_info definition")
        # [(C type, field name)] in declaration order.
        header_fields = [
            (normalize_c_type(c_type), name) for c_type, name in re.findall(r"([^;]*?)\b(\w+)\s*;", body.group(1))
        ]
        self.assertEqual([name for _, name in header_fields], [name for name, _ in CambTaskInfo._fields_])
        for (c_type, name), (_, declared) in zip(header_fields, CambTaskInfo._fields_):
            with self.subTest(field=name):
                self.assertIn(c_type, FIELD_TYPES, f"add C type {c_type!r} to FIELD_TYPES")
                self.assertIs(declared, FIELD_TYPES[c_type], f"type of camb_task_info.{name} ({c_type})")

    def test_constants_match_header(self):
        results = header_enum(HEADER_TEXT, "CAMB_RESULT_")
        for name, value in [
            ("CAMB_RESULT_OK", OK),
            ("CAMB_RESULT_NULL_PARAMETER", NULL_PARAMETER),
            ("CAMB_RESULT_INVALID_PARAMETER", INVALID_PARAMETER),
            ("CAMB_RESULT_MISSING_API_KEY", MISSING_API_KEY),
            ("CAMB_RESULT_UNAUTHORIZED", UNAUTHORIZED),
            ("CAMB_RESULT_NOT_FOUND", NOT_FOUND),
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
        for value in (7, 99, 405, 12345, 0xFFFFFFFF):
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


if __name__ == "__main__":
    unittest.main()
