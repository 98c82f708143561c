#!/usr/bin/env python3
"""Tests of the installed package ``libcamb`` against the emulator.

The package under test is the one installed (from the wheel) into the Python
that runs this file, never bindings/python/libcamb in the source tree: the
first test fails if ``import libcamb`` found the source tree. No CAMB_LIB is
needed: the library is the one in the package.

The asyncio API (AsyncTests) is checked through libcamb's own functions: every
job made is submitted to the loop's queue, comes back through it and is then
freed exactly once (never freed while libcamb has it), each event loop uses one
queue, and the process gains no thread per call.

Driven by tests/python.rs (`cargo test -p camb-ffi --test python`), which builds
the wheel, installs it into a fresh virtualenv, starts the emulator and sets:

  CAMB_TEST_BASE_URL  the emulator's base URL, e.g. http://127.0.0.1:PORT
  CAMB_TEST_API_KEY   a key the emulator accepts

By hand, with `camb-emulator --pending-ms 0` running, those variables set and
the wheel installed (`pip install dist/libcamb-*.whl`):
  python -m unittest discover -s bindings/python/tests -v
or
  python bindings/python/tests/test_libcamb.py -v

TypingTests installs mypy (MYPY_VERSION, from PyPI) into that Python if it
lacks it, and runs `mypy --strict` on a file using the package; set
CAMB_TEST_SKIP_MYPY=1 to skip it where PyPI cannot be reached.
"""

import asyncio
import contextlib
import dataclasses
import gc
import importlib.util
import inspect
import io
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import threading
import time
import unittest
import urllib.request
import warnings
import wave
import weakref
from pathlib import Path

import libcamb
import libcamb._aio
import libcamb._convert
import libcamb._library
import libcamb._log
import libcamb._speech
from libcamb.camb import ffi

ENV_VARS = ("CAMB_TEST_BASE_URL", "CAMB_TEST_API_KEY")
BASE_URL = None
API_KEY = None
# mypy 2 runs on Python 3.10 or later; 1.19.1 is the last that runs on 3.9.
MYPY_VERSION = "2.4.1" if sys.version_info >= (3, 10) else "1.19.1"

HERE = Path(__file__).resolve().parent
SOURCE_PACKAGE = HERE.parent / "libcamb"  # bindings/python/libcamb: must not be the one imported
HEADER = HERE.parents[2] / "include" / "camb.h"  # in the source tree, when the suite runs from it
PACKAGE_DIR = Path(libcamb.__file__).resolve().parent
BUNDLED_LIBRARY = PACKAGE_DIR / "camb" / "libcamb.so"


def setUpModule():
    global BASE_URL, API_KEY
    missing = [name for name in ENV_VARS if not os.environ.get(name)]
    if missing:
        raise RuntimeError(
            f"environment variables {', '.join(missing)} are not set; run this through "
            f"`cargo test -p camb-ffi --test python`, or set all of {', '.join(ENV_VARS)}"
        )
    BASE_URL = os.environ["CAMB_TEST_BASE_URL"].rstrip("/")
    API_KEY = os.environ["CAMB_TEST_API_KEY"]


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


def fault(status, body='{"detail":"planted"}', path_prefix="/text-to-sound/", times=1):
    control(
        "/_emulator/faults",
        {
            "path_prefix": path_prefix,
            "times": times,
            "respond": {"status": status, "headers": [], "body": body, "content_type": "application/json"},
        },
    )


def client(**settings):
    settings.setdefault("api_key", API_KEY)
    settings.setdefault("base_url", BASE_URL)
    settings.setdefault("timeout_ms", 10000)
    settings.setdefault("max_retries", 0)
    return libcamb.Client(**settings)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def address(ptr):
    """A C pointer (cffi cdata) as an int; None for NULL."""
    return None if ptr == ffi.NULL else int(ffi.cast("uintptr_t", ptr))


def count_frees(handle_owner):
    """Wraps the C free function of a Client or CancelToken; returns the call list."""
    frees = []
    handle = handle_owner._handle
    free = handle._free

    def counting_free(ptr):
        frees.append(ptr)
        free(ptr)

    handle._free = counting_free
    return frees


@contextlib.contextmanager
def environment(**values):
    """Sets (a str) or unsets (None) environment variables for a block."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_python(code, env=None, cwd=None, timeout=60):
    """Runs `code` in a child of this Python; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def child_env(**values):
    """This process's environment without CAMB_* variables, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMB_")}
    env.update(values)
    return env


def package_sources():
    """{module file name: source} of the installed package (not the generated camb/)."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(PACKAGE_DIR.glob("*.py"))}


FAST = dict(initial_interval_ms=50, backoff_factor=1.0, max_interval_ms=50, deadline_ms=10000)

# Text-to-speech: the voice CAMB's docs use (the emulator lists it), and a text
# of under a second of speech (the emulator speaks in real time, as the API does).
VOICE = 147320
HELLO = "Hello there"


def wav_header(audio):
    """(channels, rate, bits, RIFF size, offset of the data, data size) of a WAV."""
    if audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        raise AssertionError(f"not a WAV: {audio[:12]!r}")
    riff_size = struct.unpack_from("<I", audio, 4)[0]
    fmt, position = None, 12
    while position + 8 <= len(audio):
        chunk_id, size = audio[position : position + 4], struct.unpack_from("<I", audio, position + 4)[0]
        if chunk_id == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", audio, position + 8)
            fmt = (channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise AssertionError("a data chunk before the fmt chunk")
            return fmt + (riff_size, position + 8, size)
        position += 8 + size + (size & 1)
    raise AssertionError("a WAV without a data chunk")


def tts_streams():
    """The emulator's /tts-stream replies, oldest first: format, bytes_sent, completed..."""
    return control("/_emulator/stats")["tts_streams"]


def tts_bodies():
    """The JSON bodies of the /tts-stream requests the emulator received, in order."""
    return [json.loads(r["body"]) for r in recorded_requests("/tts-stream")]


def watch(test, name):
    """Wraps lib.<name> for the test; returns the addresses (None for NULL) of
    its calls' first arguments."""
    lib = libcamb.load()
    original = getattr(lib, name)
    calls = []

    def replacement(*args):
        calls.append(address(args[0]) if args else None)
        return original(*args)

    setattr(lib, name, replacement)
    test.addCleanup(setattr, lib, name, original)
    return calls


class EmulatorTestCase(unittest.TestCase):
    def setUp(self):
        control("/_emulator/reset", {})  # no fault left over from another test
        self.client = client()
        self.addCleanup(self.client.close)


# --------------------------------------------------------------------------
# The package as installed, and where its library comes from
# --------------------------------------------------------------------------


class InstalledPackageTests(unittest.TestCase):
    def test_the_installed_package_is_the_one_tested(self):
        # Imported from this Python's site-packages (the wheel installed there),
        # never from bindings/python in the source tree.
        imported = Path(libcamb.__file__).resolve()
        site_dirs = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
        self.assertTrue(
            any(site in imported.parents for site in site_dirs),
            f"libcamb was imported from {imported}, not from this Python's site-packages {sorted(map(str, site_dirs))}",
        )
        self.assertNotEqual(imported.parent, SOURCE_PACKAGE.resolve(), "libcamb was imported from the source tree")
        for module in (libcamb._aio, libcamb._library, libcamb._log, libcamb._speech):
            self.assertEqual(Path(module.__file__).resolve().parent, PACKAGE_DIR)

    def test_the_wheel_ships_the_library_its_declarations_and_py_typed(self):
        self.assertTrue(BUNDLED_LIBRARY.is_file(), BUNDLED_LIBRARY)
        self.assertTrue((PACKAGE_DIR / "camb" / "ffi.py").is_file())
        self.assertTrue((PACKAGE_DIR / "py.typed").is_file(), "py.typed is not shipped: type checkers would ignore the types")
        import libcamb.camb

        self.assertIs(libcamb.camb.ffi, ffi)
        self.assertEqual(Path(libcamb.camb.__file__).resolve().parent, PACKAGE_DIR / "camb")

    def test_no_hand_written_copy_of_the_abi(self):
        # Every C declaration comes from cffi's ffi, generated from camb.h when
        # the wheel was built: no ctypes, no signature table, no struct mirrors.
        for name, source in package_sources().items():
            with self.subTest(module=name):
                self.assertEqual(re.findall(r"(?m)^\s*(?:import ctypes|from ctypes)", source), [], "ctypes is used")
                self.assertEqual(re.findall(r"argtypes|restype|_fields_", source), [])
                self.assertEqual(re.findall(r"ffi\.cdef\(", source), [], "a declaration written by hand")

    def test_the_environment_is_read_by_libcamb_not_the_binding(self):
        # CAMB_API_KEY and CAMB_BASE_URL are libcamb's to read (its builder,
        # under set_api_key's and set_base_url's rules), not this package's.
        for name, source in package_sources().items():
            with self.subTest(module=name):
                self.assertEqual(re.findall(r"(?:os\.environ|getenv)\W[^\n]*CAMB_(?:API_KEY|BASE_URL)", source), [])
                self.assertIn("os.environ", package_sources()["_library.py"], "the check above looks for nothing")


class ModuleTests(unittest.TestCase):
    def test_library_from_the_package(self):
        with environment(CAMB_LIB=None):
            lib = libcamb.load()
            self.assertIs(libcamb.load(), lib, "loaded once")
            self.assertEqual(Path(lib.path).resolve(), BUNDLED_LIBRARY.resolve())
            self.assertRegex(libcamb.library_version(), r"^0\.3\.\d+")
            self.assertEqual(ffi.string(lib.camb_version()).decode(), libcamb.library_version())

    def test_missing_library(self):
        with environment(CAMB_LIB="/nonexistent/libcamb.so"):
            for attempt in (libcamb.load, lambda: libcamb.Client(api_key="k"), libcamb.CancelToken):
                with self.assertRaises(OSError) as caught:
                    attempt()
                # The error names the path tried and where it came from.
                self.assertIn("/nonexistent/libcamb.so", str(caught.exception))
                self.assertIn("CAMB_LIB", str(caught.exception))
        with self.assertRaises(OSError) as caught:
            libcamb.load("/nonexistent/other/libcamb.so")
        self.assertIn("/nonexistent/other/libcamb.so", str(caught.exception))
        self.assertIn("CAMB_LIB", str(caught.exception))

    def test_library_from_a_path_argument_and_from_camb_lib(self):
        with tempfile.TemporaryDirectory() as directory, environment(CAMB_LIB=None):
            copy = os.path.join(directory, "libcamb-copy.so")
            shutil.copyfile(BUNDLED_LIBRARY, copy)
            lib = libcamb.load(copy)
            self.assertIs(libcamb.load(copy), lib, "loaded once")
            self.assertIsNot(lib, libcamb.load())
            self.assertEqual(lib.path, copy)
            with libcamb.Client(api_key=API_KEY, base_url=BASE_URL, library=copy) as c:
                self.assertFalse(c.closed)
                self.assertIs(c._lib, lib)
                # A token is of the library that made it: one of another is refused.
                with libcamb.CancelToken() as other, libcamb.CancelToken(library=copy) as own:
                    with self.assertRaisesRegex(ValueError, "same library="):
                        c.get_task_status("demo-success", cancel=other)
                    self.assertEqual(c.get_task_status("demo-success", cancel=own).run_id, 4242)
            # CAMB_LIB wins over the package's library and over a path.
            with environment(CAMB_LIB=copy):
                self.assertIs(libcamb.load(), lib)
                self.assertIs(libcamb.load("/nonexistent/libcamb.so"), lib)
                with libcamb.Client(api_key="k") as c:
                    self.assertIs(c._lib, lib)

    def test_camb_lib_rescues_a_package_whose_library_does_not_load(self):
        # A copy of the installed package whose libcamb.so is not a library:
        # importing it still works (the declarations load without it), a client
        # fails naming the path and CAMB_LIB, and CAMB_LIB names one that works.
        with tempfile.TemporaryDirectory() as directory:
            shutil.copytree(PACKAGE_DIR, os.path.join(directory, "libcamb"))
            broken = Path(directory, "libcamb", "camb", "libcamb.so")
            broken.write_bytes(b"not a shared library")
            code = """
                import libcamb
                print(libcamb.__file__)
                try:
                    libcamb.Client(api_key="k")
                except OSError as e:
                    print("refused:", e)
                else:
                    print("built")
            """
            env = child_env(PYTHONPATH=directory)
            refused = run_python(code, env=env)
            self.assertEqual(refused.returncode, 0, refused.stderr)
            self.assertTrue(refused.stdout.startswith(os.path.join(directory, "libcamb")), refused.stdout)
            self.assertIn("refused:", refused.stdout)
            self.assertIn(str(broken), refused.stdout)
            self.assertIn("CAMB_LIB", refused.stdout)
            rescued = run_python(code, env=dict(env, CAMB_LIB=str(BUNDLED_LIBRARY)))
            self.assertEqual(rescued.returncode, 0, rescued.stderr)
            self.assertIn("built", rescued.stdout)

    def test_values(self):
        self.assertTrue(libcamb.Status.SUCCESS.is_final)
        self.assertFalse(libcamb.Status.PENDING.is_final)
        self.assertTrue(libcamb.Status.UNKNOWN.is_final)
        self.assertEqual(libcamb.Status._from_c(99), libcamb.Status.UNKNOWN)
        info = libcamb.TaskInfo(libcamb.Status.SUCCESS, "SUCCESS", 1)
        with self.assertRaises(dataclasses.FrozenInstanceError):
            info.run_id = 2
        self.assertEqual(int(libcamb.AudioType.MUSIC), 2)
        ok = libcamb.TaskResult("t1", info=info)
        self.assertTrue(ok.ok)
        self.assertIs(ok.unwrap(), info)
        error = libcamb.NotFound(404, "no such task", 404)
        failed = libcamb.TaskResult("t2", error=error)
        self.assertFalse(failed.ok)
        with self.assertRaises(libcamb.NotFound) as caught:
            failed.unwrap()
        self.assertIs(caught.exception, error)
        self.assertIs(libcamb.JobProgress, libcamb.Progress, "one Progress for the blocking and the async forms")
        for value in (
            libcamb.SpeechInfo("wav", 22050, 1, 1.0, 44),
            libcamb.Voice(147320, "Alice"),
            libcamb.Language(1, "English (United States)", "en-us"),
        ):
            with self.assertRaises(dataclasses.FrozenInstanceError):
                value.id = 2
        self.assertEqual(libcamb.Voice(1, "v"), libcamb.Voice(1, "v", None, None, None, None, None, None, None))

    def test_enums_are_camb_hs(self):
        # Each enum has exactly camb.h's values, under camb.h's names.
        for enum_class, c_type, prefix in (
            (libcamb.Status, "enum camb_status", "CAMB_STATUS_"),
            (libcamb.AudioType, "enum camb_audio_type", "CAMB_AUDIO_TYPE_"),
            (libcamb.LogLevel, "enum camb_log_level", "CAMB_LOG_LEVEL_"),
        ):
            with self.subTest(enum=enum_class.__name__):
                declared = {name[len(prefix) :]: value for name, value in ffi.typeof(c_type).relements.items()}
                self.assertEqual({m.name: m.value for m in enum_class}, declared)

    def test_declarations_are_camb_hs(self):
        # cffi declared every function of camb.h (the header in the source tree,
        # when the suite runs from it) with its C name, and the options structs
        # as camb.h has them: the library takes them at that size.
        lib = libcamb.load()
        if HEADER.is_file():
            header = HEADER.read_text(encoding="utf-8")
            functions = set(re.findall(r"(?m)^[a-z_][a-z0-9_ ]*?[ *]\**(camb_[a-z0-9_]+)\(", header))
            # static inline
            functions -= {"camb_create_options_default", "camb_wait_options_default", "camb_speech_options_default"}
            self.assertGreater(len(functions), 80)
            for name in sorted(functions):
                with self.subTest(function=name):
                    self.assertTrue(callable(getattr(lib, name)), name)
        for c_type, init in (
            ("camb_create_options", lib.camb_create_options_init),
            ("camb_wait_options", lib.camb_wait_options_init),
            ("camb_speech_options", lib.camb_speech_options_init),
        ):
            options = ffi.new(f"{c_type} *")
            self.assertEqual(init(options, ffi.sizeof(c_type)), 0)
            self.assertEqual(options.struct_size, ffi.sizeof(c_type))
            self.assertEqual(ffi.offsetof(c_type, "struct_size"), 0)
        for name in (
            "camb_progress_fn",
            "camb_write_fn",
            "camb_log_fn",
            "camb_finalizer_fn",
            "camb_wait_progress",
            "camb_speech_fn",
            "camb_speech_info",
        ):
            self.assertTrue(ffi.typeof(name), name)

    def test_refuses_a_library_of_another_series(self):
        real = libcamb.load()

        class OtherLibrary:
            def __init__(self, version):
                self.version = ffi.new("char[]", version)

            def camb_version(self):
                return self.version

            def __getattr__(self, name):
                return getattr(real, name)

        for version in (b"0.2.0", b"0.4.0", b"1.3.0", b"garbage"):
            with self.subTest(version=version):
                with self.assertRaisesRegex(OSError, "written for libcamb 0.3.x"):
                    libcamb._library._check_library(OtherLibrary(version), "libcamb.so")
        libcamb._library._check_library(OtherLibrary(b"0.3.7"), "libcamb.so")  # a later patch is fine

    def test_client_from_the_environment_alone(self):
        # libcamb.Client() with just CAMB_API_KEY and CAMB_BASE_URL set: libcamb
        # reads both (in a child, so that this process's environment stays as is).
        code = """
            import libcamb
            with libcamb.Client() as client:
                print(client.get_task_status("demo-success").run_id)
        """
        ran = run_python(code, env=child_env(CAMB_API_KEY=API_KEY, CAMB_BASE_URL=BASE_URL))
        self.assertEqual((ran.returncode, ran.stdout.strip()), (0, "4242"), ran.stderr)
        # Under set_base_url's rules: refused by libcamb, in its words.
        code = """
            import libcamb
            try:
                libcamb.Client()
            except libcamb.InvalidArgument as e:
                print(e.code, e.message)
        """
        ran = run_python(code, env=child_env(CAMB_API_KEY=API_KEY, CAMB_BASE_URL="ftp://127.0.0.1/"))
        self.assertEqual(ran.returncode, 0, ran.stderr)
        self.assertTrue(ran.stdout.startswith("2 "), ran.stdout)
        self.assertIn("CAMB_BASE_URL", ran.stdout)
        # An argument wins over the variable.
        with environment(CAMB_BASE_URL="ftp://127.0.0.1/"), client() as c:
            self.assertEqual(c.get_task_status("demo-success").run_id, 4242)


# --------------------------------------------------------------------------
# Typing: what a type checker makes of the installed package
# --------------------------------------------------------------------------

USAGE = '''
import asyncio
from typing import Dict, List, Optional

import libcamb


def show(progress: libcamb.Progress) -> Optional[bool]:
    print(progress.polls, progress.status, progress.status_text, progress.done)
    return progress.polls < 100


def log(level: libcamb.LogLevel, line: str) -> None:
    print(f"[{level}] {line}")


async def main(client: libcamb.Client, task_id: str) -> List[libcamb.TaskInfo]:
    info: libcamb.TaskInfo = await client.get_task_status_async(task_id)
    made: libcamb.Generation = await client.generate_async("rain", "rain.wav", on_progress=show)
    audio: bytes = await client.download_audio_async(made.info.run_id or 0)

    async def slow(progress: libcamb.Progress) -> None:
        await asyncio.sleep(0)

    await client.wait_for_task_async(task_id, on_progress=slow)
    async with client.speak_async("Hello there", "en-us", 147320, format="pcm_s16le", temperature=0.5) as speech:
        async for part in speech:
            print(len(part))
        told: libcamb.SpeechInfo = speech.info
    saved: libcamb.SpeechInfo = await client.speak_to_file_async("Hello there", "en-us", 147320, "hello.wav")
    voices: List[libcamb.Voice] = await client.list_voices_async()
    languages: List[libcamb.Language] = await client.source_languages_async() + await client.target_languages_async()
    print(info, audio[:4], told, saved, voices, languages)
    return list(await asyncio.gather(*(client.get_task_status_async(task_id) for _ in range(20))))


with libcamb.Client(log=log, log_level="debug", headers={"traceparent": "00-x"}, secret_headers={b"x-k": b"v"}) as client:
    info: libcamb.TaskInfo = client.get_task_status("demo-success")
    status: libcamb.Status = info.status
    run_id: Optional[int] = info.run_id
    made: libcamb.Generation = client.generate("rain", "rain.wav", duration=5, audio_type="sound", on_progress=show)
    results: List[libcamb.TaskResult] = client.get_task_statuses(["a", b"b"], max_connections=4)
    first: libcamb.TaskInfo = results[0].unwrap()
    urls: Dict[int, Optional[str]] = client.get_audio_urls([4242])
    size: int = client.download_audio(4242, lambda chunk: None)
    stream: libcamb.SpeechStream = client.speak("Hello there", "en-us", 147320, speech_model="mars-flash", speaking_rate=1.1)
    with stream:
        for chunk in stream:
            piece: bytes = chunk
        speech: libcamb.SpeechInfo = stream.info
        rate: int = speech.sample_rate
        credits: Optional[float] = speech.credits
    spoken: libcamb.SpeechInfo = client.speak_to_file("Hi there", "en-us", 147320, "hi.wav", apply_enhancement=True)
    voice: libcamb.Voice = client.list_voices()[0]
    gender: Optional[int] = voice.gender
    locales: List[str] = [language.short_name for language in client.target_languages()]
    with libcamb.CancelToken() as token:
        client.wait_for_task("t", cancel=token, on_progress=lambda p: p.polls < 3)
    infos: List[libcamb.TaskInfo] = asyncio.run(main(client, "demo-success"))
    try:
        client.get_task_status("x")
    except libcamb.TaskFailed as e:
        final: Optional[libcamb.Status] = e.status
    except libcamb.CambError as e:
        code: int = e.code
        http_status: int = e.http_status
        words: str = e.message
'''

MISUSE = '''
import libcamb

with libcamb.Client() as client:
    wrong: int = client.get_task_status("demo-success")
    client.generate("rain", 5)
    pending = client.get_task_status_async(42)
    client.speak("Hello there", "en-us", 147320, speaking_rate="fast")
'''


class TypingTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.environ.get("CAMB_TEST_SKIP_MYPY") == "1":
            raise unittest.SkipTest("CAMB_TEST_SKIP_MYPY=1")
        if importlib.util.find_spec("mypy") is None:
            installed = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"mypy=={MYPY_VERSION}"],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if installed.returncode != 0:
                raise RuntimeError(f"pip could not install mypy=={MYPY_VERSION} (set CAMB_TEST_SKIP_MYPY=1 offline):\n{installed.stderr}")

    def mypy(self, source):
        # In a directory of its own, so that mypy finds libcamb where this
        # Python does (site-packages), through py.typed.
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "usage.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(source)
            return subprocess.run(
                [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-executable", sys.executable, "usage.py"],
                cwd=directory,
                env=child_env(),
                capture_output=True,
                text=True,
                timeout=300,
            )

    def test_mypy_strict_accepts_a_usage_of_the_package(self):
        checked = self.mypy(USAGE)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        self.assertIn("Success", checked.stdout)

    def test_mypy_sees_the_packages_types(self):
        # Not Any: each misuse is reported, with the package's own types.
        checked = self.mypy(MISUSE)
        self.assertEqual(checked.returncode, 1, checked.stdout + checked.stderr)
        self.assertIn('expression has type "TaskInfo", variable has type "int"', checked.stdout)
        self.assertIn('Argument 2 to "generate" of "Client" has incompatible type "int"', checked.stdout)
        self.assertIn('Argument 1 to "get_task_status_async" of "Client" has incompatible type "int"', checked.stdout)
        self.assertIn('Argument "speaking_rate" to "speak" of "Client" has incompatible type "str"', checked.stdout)
        self.assertIn("Found 4 errors", checked.stdout)


# --------------------------------------------------------------------------
# One exception class per result code
# --------------------------------------------------------------------------


class ErrorMappingTests(EmulatorTestCase):
    def assert_error(self, cls, code, http_status, call):
        with self.assertRaises(cls) as caught:
            call()
        e = caught.exception
        self.assertIs(type(e), cls)
        self.assertIsInstance(e, libcamb.CambError)
        self.assertEqual(e.code, code)
        self.assertEqual(e.http_status, http_status)
        self.assertTrue(e.message, "no message from camb_last_error()")
        self.assertEqual(str(e), e.message)
        return e

    def test_every_library_code_has_its_class(self):
        lib = libcamb.load()

        def name(code):
            return ffi.string(lib.camb_result_name(code)).decode()

        codes = [c for c in range(1, 1000) if name(c) != "CAMB_RESULT_UNKNOWN_VALUE"]
        self.assertIn(404, codes)
        # The library's codes are camb.h's (but OK).
        declared = ffi.typeof("enum camb_result").relements
        self.assertEqual(sorted(codes), sorted(v for v in declared.values() if v != 0))
        for code in codes:
            with self.subTest(code=code, name=name(code)):
                e = libcamb.error_for(code, "words", 0)
                self.assertIsNot(type(e), libcamb.CambError, "no class of its own")
                self.assertEqual(e.code, code)
        self.assertIs(type(libcamb.error_for(12345, "new")), libcamb.CambError)
        self.assertIs(type(libcamb.error_for(1, "null")), libcamb.InvalidArgument)

    def test_not_found(self):
        e = self.assert_error(libcamb.NotFound, 404, 404, lambda: self.client.get_task_status("no-such-task-77"))
        self.assertIn("no-such-task-77", e.message)

    def test_unauthorized(self):
        secret = "wrong-key-Kx81qPz"
        with client(api_key=secret) as c:
            e = self.assert_error(libcamb.Unauthorized, 401, 401, lambda: c.get_task_status("demo-success"))
        self.assertNotIn(secret, e.message)

    def test_invalid_argument(self):
        e = self.assert_error(libcamb.InvalidArgument, 2, 0, lambda: self.client.get_task_status(""))
        self.assertIsInstance(e, ValueError)
        self.assert_error(
            libcamb.InvalidArgument, 2, 0, lambda: self.client.create_task("waves", duration=11, audio_type="sound")
        )
        self.assert_error(libcamb.InvalidArgument, 2, 0, lambda: client(base_url="ftp://127.0.0.1/"))
        self.assert_error(libcamb.InvalidArgument, 2, 0, lambda: client(timeout_ms=0))
        self.assert_error(
            libcamb.InvalidArgument, 2, 0, lambda: self.client.wait_for_task("demo-success", backoff_factor=0.5)
        )
        # Refused by the package itself, before C.
        with self.assertRaises(libcamb.InvalidArgument):
            self.client.get_task_status("a\0b")
        with self.assertRaises(libcamb.InvalidArgument):
            self.client.create_task("waves", duration=0)
        with self.assertRaises(libcamb.InvalidArgument):
            self.client.create_task("waves", audio_type="noise")
        with self.assertRaises(libcamb.InvalidArgument):
            self.client.get_audio_url(2**63)
        with self.assertRaises(TypeError):
            self.client.get_task_status(42)

    @unittest.skipIf("CAMB_API_KEY" in os.environ, "CAMB_API_KEY is set in this environment")
    def test_missing_api_key(self):
        self.assert_error(libcamb.MissingApiKey, 3, 0, lambda: libcamb.Client(base_url=BASE_URL))

    def test_validation_error(self):
        e = self.assert_error(
            libcamb.ValidationError,
            422,
            422,
            lambda: self.client.create_task("a long symphony", duration=100000, audio_type=libcamb.AudioType.MUSIC),
        )
        self.assertIn("duration", e.message)
        self.assertIsInstance(e, ValueError)

    def test_timeout(self):
        # The client's own timeout, against a server that answers late...
        control("/_emulator/faults", {"path_prefix": "/text-to-sound/", "times": 1, "delay_ms": 2000})
        with client(timeout_ms=300) as c:
            self.assert_error(libcamb.Timeout, 101, 0, lambda: c.get_task_status("demo-success"))
        # ...and a wait's deadline.
        e = self.assert_error(
            libcamb.Timeout, 101, 0, lambda: self.client.wait_for_task("demo-pending", **dict(FAST, deadline_ms=300))
        )
        self.assertIn("PENDING", e.message)

    def test_cancelled(self):
        self.assert_error(
            libcamb.Cancelled, 5, 0, lambda: self.client.wait_for_task("demo-pending", on_progress=lambda p: False, **FAST)
        )
        self.assert_error(libcamb.Cancelled, 5, 0, lambda: self.client.download_audio(4242, lambda chunk: False))

    def test_connection_failed(self):
        with client(base_url=f"http://127.0.0.1:{closed_port()}") as c:
            self.assert_error(libcamb.ConnectionFailed, 100, 0, lambda: c.get_task_status("demo-success"))

    def test_bad_response(self):
        fault(200, body="this is not JSON")
        self.assert_error(libcamb.BadResponse, 102, 0, lambda: self.client.get_task_status("demo-success"))

    def test_http_statuses(self):
        for status, cls, code in [
            (400, libcamb.HttpError, 103),
            (402, libcamb.PaymentRequired, 402),
            (403, libcamb.Forbidden, 403),
            (429, libcamb.RateLimited, 429),
            (500, libcamb.ServerError, 500),
            (503, libcamb.ServerError, 500),
        ]:
            with self.subTest(status=status):
                fault(status, body='{"detail":"planted failure"}')
                e = self.assert_error(cls, code, status, lambda: self.client.get_task_status("demo-success"))
                self.assertIn("planted failure", e.message)
        # A run that did not succeed: HTTP 400 behind HttpError.
        self.assert_error(libcamb.HttpError, 103, 400, lambda: self.client.download_audio(4243, lambda chunk: None))

    def test_file_error(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "no-such-dir", "out.wav")
            self.assert_error(libcamb.FileError, 7, 0, lambda: self.client.save_audio(4242, path))

    def test_message_is_this_threads(self):
        # Two threads failing at once each get their own words.
        results = {}

        def fail(n):
            try:
                self.client.get_task_status(f"missing-from-thread-{n}")
            except libcamb.NotFound as e:
                results[n] = e.message

        threads = [threading.Thread(target=fail, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        self.assertEqual(sorted(results), [0, 1, 2, 3])
        for n, message in results.items():
            self.assertIn(f"missing-from-thread-{n}", message)


# --------------------------------------------------------------------------
# Lifetimes
# --------------------------------------------------------------------------


class FreeTests(EmulatorTestCase):
    """Every object libcamb hands over is freed once: after a success, after a
    failure (the _free of NULL), and when copying it out raises."""

    def watch(self, name, fail=False):
        """Replaces lib.<name> for this test; returns the list of its calls'
        first arguments as addresses (None for NULL). With fail=True the
        replacement raises instead of calling libcamb."""
        lib = libcamb.load()
        original = getattr(lib, name)
        calls = []

        def replacement(*args):
            calls.append(address(args[0]) if args else None)
            if fail:
                raise RuntimeError(f"planted failure in {name}")
            return original(*args)

        setattr(lib, name, replacement)
        self.addCleanup(setattr, lib, name, original)
        return calls

    def test_task_of_a_status_call(self):
        frees = self.watch("camb_task_free")
        self.assertEqual(self.client.get_task_status("demo-success").run_id, 4242)
        self.assertEqual(len(frees), 1)
        self.assertIsNotNone(frees[0], "the task was not freed")
        with self.assertRaises(libcamb.NotFound):
            self.client.get_task_status("no-such-task")
        self.assertEqual(frees[1:], [None], "a failed call frees nothing but NULL")

    def test_task_freed_when_reading_it_raises(self):
        frees = self.watch("camb_task_free")
        reads = self.watch("camb_task_status_text", fail=True)
        with self.assertRaisesRegex(RuntimeError, "planted failure"):
            self.client.get_task_status("demo-success")
        self.assertEqual(len(reads), 1)
        self.assertEqual(frees, [reads[0]], "the task read was not the one freed")
        self.assertIsNotNone(frees[0])
        with self.assertRaisesRegex(RuntimeError, "planted failure"):
            self.client.wait_for_task("demo-success", **FAST)
        self.assertEqual(len(frees), 2)
        self.assertEqual(frees[1], reads[1])

    def test_task_of_a_wait(self):
        frees = self.watch("camb_task_free")
        self.assertIs(self.client.wait_for_task("demo-error", **FAST).status, libcamb.Status.ERROR)
        self.assertEqual(len(frees), 1)
        self.assertIsNotNone(frees[0])
        with self.assertRaises(libcamb.Cancelled):
            self.client.wait_for_task("demo-pending", on_progress=lambda p: False, **FAST)
        self.assertEqual(frees[1:], [None])

    def test_task_of_a_generation(self):
        frees = self.watch("camb_task_free")
        with tempfile.TemporaryDirectory() as directory:
            result = self.client.generate("chimes", os.path.join(directory, "c.wav"), **FAST)
            self.assertEqual(result.size, os.path.getsize(os.path.join(directory, "c.wav")))
            self.assertEqual(len(frees), 1)
            self.assertIsNotNone(frees[0])
            with self.assertRaises(libcamb.TaskFailed):
                self.client.generate("chimes [status:ERROR]", os.path.join(directory, "d.wav"), **FAST)
            self.assertEqual(frees[1:], [None])

    def test_strings_handed_over(self):
        frees = self.watch("camb_string_free")
        task_id = self.client.create_task("drips")
        url = self.client.get_audio_url(4242)
        self.assertTrue(task_id)
        self.assertTrue(url.startswith(BASE_URL))
        self.assertEqual(len(frees), 2)
        self.assertTrue(all(frees), frees)
        with self.assertRaises(libcamb.NotFound):
            self.client.get_audio_url(987654)
        self.assertEqual(frees[2:], [None])

    def test_batch_list_freed_once_and_its_tasks_never(self):
        list_frees = self.watch("camb_task_list_free")
        task_frees = self.watch("camb_task_free")
        results = self.client.get_task_statuses(["demo-success", "demo-error"])
        self.assertEqual([r.info.run_id for r in results], [4242, 4243])
        self.assertEqual(len(list_frees), 1)
        self.assertIsNotNone(list_frees[0])
        self.watch("camb_task_message", fail=True)
        with self.assertRaisesRegex(RuntimeError, "planted failure"):
            self.client.get_task_statuses(["demo-success"])
        self.assertEqual(len(list_frees), 2, "the list was not freed after the exception")
        self.assertIsNotNone(list_frees[1])
        self.assertEqual(task_frees, [], "a task owned by its list was freed on its own")

    def test_url_list_freed_when_reading_it_raises(self):
        frees = self.watch("camb_audio_url_list_free")
        self.assertEqual(len(self.client.get_audio_urls([4242, 1])), 2)
        self.assertEqual(len(frees), 1)
        self.assertIsNotNone(frees[0])
        self.watch("camb_audio_url_list_get", fail=True)
        with self.assertRaisesRegex(RuntimeError, "planted failure"):
            self.client.get_audio_urls([4242])
        self.assertEqual(len(frees), 2)
        self.assertIsNotNone(frees[1])


class LifetimeTests(unittest.TestCase):
    def setUp(self):
        control("/_emulator/reset", {})

    def test_context_manager_closes_once(self):
        with client() as c:
            frees = count_frees(c)
            self.assertFalse(c.closed)
            self.assertEqual(c.get_task_status("demo-success").run_id, 4242)
        self.assertTrue(c.closed)
        self.assertEqual(len(frees), 1)
        c.close()
        c.close()
        self.assertEqual(len(frees), 1, "close() freed twice")
        with self.assertRaises(ValueError):
            c.get_task_status("demo-success")
        del c
        gc.collect()
        self.assertEqual(len(frees), 1, "__del__ freed a closed client")

    def test_context_manager_closes_on_exception(self):
        with self.assertRaises(libcamb.NotFound):
            with client() as c:
                frees = count_frees(c)
                c.get_task_status("no-such-task")
        self.assertTrue(c.closed)
        self.assertEqual(len(frees), 1)

    def test_garbage_collection_frees(self):
        c = client()
        frees = count_frees(c)
        c.get_task_status("demo-success")
        del c
        gc.collect()
        self.assertEqual(len(frees), 1)

    def test_close_during_a_wait_in_another_thread(self):
        c = client()
        frees = count_frees(c)
        polled = threading.Event()
        outcome = []

        def waiter():
            try:
                c.wait_for_task("demo-pending", on_progress=lambda p: polled.set(), **dict(FAST, deadline_ms=800))
            except libcamb.CambError as e:
                outcome.append(e)

        thread = threading.Thread(target=waiter)
        thread.start()
        self.assertTrue(polled.wait(10))
        c.close()  # returns at once; the wait still holds the handle
        self.assertTrue(c.closed)
        self.assertEqual(frees, [], "freed while a wait was using it")
        thread.join(timeout=10)
        self.assertEqual([type(e) for e in outcome], [libcamb.Timeout])
        self.assertEqual(len(frees), 1, "not freed when the wait ended")

    def test_cancel_token_lifetime(self):
        with libcamb.CancelToken() as token:
            frees = count_frees(token)
            self.assertFalse(token.cancelled)
            token.cancel()
            self.assertTrue(token.cancelled)
            token.reset()
            self.assertFalse(token.cancelled)
        self.assertTrue(token.closed)
        token.close()
        self.assertEqual(len(frees), 1)
        with self.assertRaises(ValueError):
            token.cancel()
        token = libcamb.CancelToken()
        frees = count_frees(token)
        del token
        gc.collect()
        self.assertEqual(len(frees), 1)

    def test_failed_construction_does_not_leak_or_crash(self):
        for settings in ({"base_url": "not a url"}, {"max_retries": 11}, {"proxy": "ftp://127.0.0.1:21"}):
            with self.subTest(settings=settings):
                with self.assertRaises(libcamb.InvalidArgument):
                    client(**settings)
        gc.collect()


# --------------------------------------------------------------------------
# The workflow
# --------------------------------------------------------------------------


class WorkflowTests(EmulatorTestCase):
    def test_create_wait_save_valid_wav(self):
        task_id = self.client.create_task(
            "rain on a tin roof [pending_ms:400]",
            duration=2,
            audio_type="sound",
            project_name="caf\u00e9",
            project_description="from test_libcamb.py",
            folder_id=12,
        )
        self.assertIsInstance(task_id, str)
        self.assertTrue(task_id)
        steps = []
        info = self.client.wait_for_task(task_id, on_progress=steps.append, **FAST)
        self.assertIsInstance(info, libcamb.TaskInfo)
        self.assertIs(info.status, libcamb.Status.SUCCESS)
        self.assertEqual(info.status_text, "SUCCESS")
        self.assertIsInstance(info.run_id, int)
        self.assertIsNone(info.exception_reason)
        self.assertTrue(all(isinstance(s, libcamb.Progress) for s in steps))
        self.assertEqual([s.status for s in steps if s.status_changed], [libcamb.Status.PENDING, libcamb.Status.SUCCESS])
        self.assertEqual([s.polls for s in steps], list(range(1, len(steps) + 1)))
        self.assertTrue(steps[-1].done)
        self.assertEqual(steps[-1].next_poll_in_ms, 0)
        self.assertFalse(any(s.done for s in steps[:-1]))
        self.assertFalse(any(s.poll_failed for s in steps))

        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "rain.wav")
            size = self.client.save_audio(info.run_id, path)
            self.assertEqual(os.path.getsize(path), size)
            with wave.open(path, "rb") as w:
                self.assertEqual(w.getnchannels(), 1)
                self.assertEqual(w.getframerate(), 22050)
                self.assertEqual(w.getsampwidth(), 2)
                self.assertGreater(w.getnframes(), 0)
                self.assertAlmostEqual(w.getnframes() / w.getframerate(), 2.0, delta=0.1)
            with open(path, "rb") as f:
                saved = f.read()
            self.assertEqual(os.listdir(directory), ["rain.wav"])

        # The same bytes streamed to a file's write method, and from the URLs.
        buffer = io.BytesIO()
        self.assertEqual(self.client.download_audio(info.run_id, buffer.write), len(saved))
        self.assertEqual(buffer.getvalue(), saved)
        url = self.client.get_audio_url(info.run_id)
        self.assertTrue(url.startswith(BASE_URL + "/_emulator/files/"), url)
        with urllib.request.urlopen(url, timeout=10) as reply:
            self.assertEqual(reply.read(), saved)
        urls = self.client.get_audio_urls([info.run_id, 987654])
        self.assertEqual(set(urls), {info.run_id, 987654})
        self.assertIsNone(urls[987654])
        self.assertTrue(urls[info.run_id].startswith(BASE_URL + "/_emulator/files/"))

    def test_generate_in_one_call(self):
        steps = []
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "rain.wav")
            result = self.client.generate(
                "rain on a tin roof [pending_ms:300]",
                path,
                duration=2,
                audio_type="sound",
                project_name="caf\u00e9",
                on_progress=steps.append,
                **FAST,
            )
            self.assertIsInstance(result, libcamb.Generation)
            self.assertEqual((result.path, result.size), (path, os.path.getsize(path)))
            self.assertIs(result.info.status, libcamb.Status.SUCCESS)
            self.assertEqual(result.info, self.client.get_task_status(result.task_id))
            with wave.open(path, "rb") as w:
                self.assertEqual((w.getnchannels(), w.getframerate(), w.getsampwidth()), (1, 22050, 2))
                self.assertAlmostEqual(w.getnframes() / w.getframerate(), 2.0, delta=0.1)
            self.assertEqual(os.listdir(directory), ["rain.wav"])
        # Progress as for wait_for_task: every poll, on this thread.
        self.assertTrue(all(isinstance(s, libcamb.Progress) for s in steps))
        self.assertEqual([s.polls for s in steps], list(range(1, len(steps) + 1)))
        self.assertEqual([s.status for s in steps if s.status_changed], [libcamb.Status.PENDING, libcamb.Status.SUCCESS])
        self.assertTrue(steps[-1].done)
        self.assertEqual(json.loads(recorded_requests("/text-to-sound")[0]["body"])["project_name"], "caf\u00e9")

    def test_generate_of_failing_tasks(self):
        with tempfile.TemporaryDirectory() as directory:
            for directive, status in [
                ("ERROR", libcamb.Status.ERROR),
                ("TIMEOUT", libcamb.Status.TIMEOUT),
                ("PAYMENT_REQUIRED", libcamb.Status.PAYMENT_REQUIRED),
                ("QUEUED_FOR_GPU", libcamb.Status.UNKNOWN),
            ]:
                with self.subTest(status=directive):
                    path = os.path.join(directory, f"{directive}.wav")
                    with self.assertRaises(libcamb.TaskFailed) as caught:
                        self.client.generate(f"hiss [status:{directive}] [pending_ms:100]", path, **FAST)
                    e = caught.exception
                    self.assertEqual((e.code, e.http_status, e.status), (9, 0, status))
                    self.assertIn(directive, e.message)
            self.assertEqual(os.listdir(directory), [], "a failed generation left a file")
            # on_progress stops it, or raises through it, as for wait_for_task.
            with self.assertRaises(libcamb.Cancelled):
                self.client.generate("hiss [pending_ms:60000]", os.path.join(directory, "x.wav"), on_progress=lambda p: False, **FAST)
            with self.assertRaises(KeyError):
                self.client.generate("hiss [pending_ms:60000]", os.path.join(directory, "x.wav"), on_progress={}.__getitem__, **FAST)
            self.assertEqual(os.listdir(directory), [])

    def test_generate_refuses_before_creating_a_task(self):
        with tempfile.TemporaryDirectory() as directory:
            with self.assertRaises(libcamb.FileError):
                self.client.generate("waves", os.path.join(directory, "no-such-dir", "w.wav"))
            with self.assertRaises(libcamb.FileError):
                self.client.generate("waves", directory)  # a directory
            with self.assertRaises(libcamb.InvalidArgument):
                self.client.generate("waves", os.path.join(directory, "w.wav"), duration=11, audio_type="sound")
            with self.assertRaises(libcamb.InvalidArgument):
                self.client.generate("", os.path.join(directory, "w.wav"))
            with self.assertRaises(libcamb.InvalidArgument):
                self.client.generate("waves", os.path.join(directory, "w.wav"), backoff_factor=0.5)
            with self.assertRaises(TypeError):
                self.client.generate("waves", os.path.join(directory, "w.wav"), on_progress=3)
        self.assertEqual(recorded_requests(), [], "a refused generation reached the server")

    def test_many_urls_in_batches(self):
        run_ids = [4242] + list(range(1, 1200))
        urls = self.client.get_audio_urls(run_ids)
        self.assertEqual(len(urls), 1200)
        self.assertIsNotNone(urls[4242])
        self.assertEqual(self.client.get_audio_urls([]), {})

    def test_failed_save_leaves_nothing(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "out.wav")
            with self.assertRaises(libcamb.NotFound):
                self.client.save_audio(987654, path)
            self.assertEqual(os.listdir(directory), [])

    def test_each_terminal_status(self):
        for directive, status, run_id, reason in [
            ("SUCCESS", libcamb.Status.SUCCESS, True, None),
            ("ERROR", libcamb.Status.ERROR, True, "PROCESSING_ERROR"),
            ("TIMEOUT", libcamb.Status.TIMEOUT, False, None),
            ("PAYMENT_REQUIRED", libcamb.Status.PAYMENT_REQUIRED, False, "PAYMENT_REQUIRED"),
            ("QUEUED_FOR_GPU", libcamb.Status.UNKNOWN, False, None),
        ]:
            with self.subTest(status=directive):
                task_id = self.client.create_task(f"bells [status:{directive}] [pending_ms:150]")
                pending = self.client.get_task_status(task_id)
                self.assertIs(pending.status, libcamb.Status.PENDING)
                self.assertFalse(pending.is_final)
                self.assertIsNone(pending.run_id)
                info = self.client.wait_for_task(task_id, **FAST)
                self.assertIs(info.status, status)
                self.assertEqual(info.status_text, directive)
                self.assertTrue(info.is_final)
                self.assertEqual(info.run_id is not None, run_id)
                self.assertEqual(info.exception_reason, reason)
                if reason is not None:
                    self.assertTrue(info.message)

    def test_many_statuses_at_once(self):
        ids = ["demo-success", "no-such-task-55", "", "a\0b", "demo-error", b"demo-pending"]
        results = self.client.get_task_statuses(ids, max_connections=2)
        self.assertTrue(all(isinstance(r, libcamb.TaskResult) for r in results))
        self.assertEqual(
            [r.task_id for r in results],
            ["demo-success", "no-such-task-55", "", "a\0b", "demo-error", "demo-pending"],
        )
        self.assertEqual([r.ok for r in results], [True, False, False, False, True, True])
        for r in results:
            self.assertEqual(r.info is None, r.error is not None, r)

        self.assertEqual(results[0].info, libcamb.TaskInfo(libcamb.Status.SUCCESS, "SUCCESS", 4242))
        # Each failure is its own, with its code, words and HTTP status.
        not_found = results[1].error
        self.assertIs(type(not_found), libcamb.NotFound)
        self.assertEqual((not_found.code, not_found.http_status), (404, 404))
        self.assertIn("no-such-task-55", not_found.message)
        with self.assertRaises(libcamb.NotFound):
            results[1].unwrap()
        empty = results[2].error  # refused by libcamb, for this entry only
        self.assertIs(type(empty), libcamb.InvalidArgument)
        self.assertEqual((empty.code, empty.http_status), (2, 0))
        self.assertRegex(empty.message, "task[ _]id")
        with_nul = results[3].error  # refused by the package, for this entry only
        self.assertIs(type(with_nul), libcamb.InvalidArgument)
        self.assertIn("NUL", with_nul.message)
        self.assertEqual(
            (results[4].info.status, results[4].info.run_id, results[4].info.exception_reason),
            (libcamb.Status.ERROR, 4243, "PROCESSING_ERROR"),
        )
        self.assertEqual(results[4].unwrap().message, "The audio model failed to render this prompt")
        self.assertEqual((results[5].info.status, results[5].info.run_id), (libcamb.Status.PENDING, None))

    def test_many_statuses_edge_cases(self):
        self.assertEqual(self.client.get_task_statuses([]), [])
        self.assertEqual(
            [r.info.run_id for r in self.client.get_task_statuses(iter(["demo-success"] * 40), max_connections=32)],
            [4242] * 40,
        )
        with self.assertRaises(libcamb.InvalidArgument):
            self.client.get_task_statuses(["demo-success"], max_connections=33)
        with self.assertRaises(TypeError):
            self.client.get_task_statuses([42])
        # An id that is not UTF-8 fails on its own and keeps the id as given
        # (libcamb's camb_task_id() would say "").
        not_utf8, ok = self.client.get_task_statuses([b"\xffbad", "demo-success"])
        self.assertEqual((not_utf8.task_id, type(not_utf8.error), not_utf8.error.code), ("\ufffdbad", libcamb.InvalidArgument, 2))
        self.assertEqual(ok.info.run_id, 4242)
        # A failure of the whole transport is each task's own failure.
        with client(base_url=f"http://127.0.0.1:{closed_port()}") as c:
            results = c.get_task_statuses(["demo-success", "demo-error"])
        self.assertEqual([type(r.error) for r in results], [libcamb.ConnectionFailed] * 2)
        self.assertTrue(all(r.error.message for r in results))

    def test_urls_of_a_run_asked_for_twice(self):
        urls = self.client.get_audio_urls([4242, 987654, 4242])
        self.assertEqual(set(urls), {4242, 987654})
        self.assertTrue(urls[4242].startswith(BASE_URL + "/_emulator/files/4242.wav"), urls)
        self.assertIsNone(urls[987654])

    def test_demo_tasks(self):
        info = self.client.get_task_status("demo-error")
        self.assertEqual(
            (info.status, info.run_id, info.exception_reason, info.message),
            (libcamb.Status.ERROR, 4243, "PROCESSING_ERROR", "The audio model failed to render this prompt"),
        )
        self.assertIs(self.client.get_task_status("demo-pending").status, libcamb.Status.PENDING)


# --------------------------------------------------------------------------
# Threads, cancellation, callbacks
# --------------------------------------------------------------------------


class ThreadTests(EmulatorTestCase):
    THREADS = 8
    ROUNDS = 6

    def test_eight_threads_share_one_client(self):
        start = threading.Barrier(self.THREADS)
        failures = []
        finished = []

        def worker(n):
            try:
                start.wait(timeout=30)
                me = threading.get_ident()
                for i in range(self.ROUNDS):
                    info = self.client.get_task_status("demo-success")
                    if info.run_id != 4242 or info.status is not libcamb.Status.SUCCESS:
                        failures.append(f"thread {n}: {info}")
                    task_id = f"missing-t{n}-r{i}"
                    try:
                        self.client.get_task_status(task_id)
                        failures.append(f"thread {n}: {task_id} was found")
                    except libcamb.NotFound as e:
                        if task_id not in e.message or e.http_status != 404:
                            failures.append(f"thread {n}: foreign error {e!r}")
                    if i % 3 == 0:
                        seen = []
                        created = self.client.create_task(f"thread {n} round {i} [pending_ms:100]")
                        done = self.client.wait_for_task(
                            created, on_progress=lambda p: seen.append(threading.get_ident()), **FAST
                        )
                        if done.status is not libcamb.Status.SUCCESS:
                            failures.append(f"thread {n}: wait gave {done}")
                        if not seen or set(seen) != {me}:
                            failures.append(f"thread {n}: progress ran on other threads {set(seen)}")
                finished.append(n)
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(f"thread {n}: {e!r}")

        threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(self.THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual([t.name for t in threads if t.is_alive()], [], "threads still running after 60 s")
        self.assertEqual(failures, [])
        self.assertEqual(sorted(finished), list(range(self.THREADS)))


class CancelTests(EmulatorTestCase):
    def test_wait_cancelled_from_another_thread(self):
        polled = threading.Event()
        cancelled_at = []
        with libcamb.CancelToken() as token:

            def canceller():
                if polled.wait(timeout=10):
                    time.sleep(0.3)  # the waiter is asleep in a 15 s pause by now
                    cancelled_at.append(time.monotonic())
                    token.cancel()

            thread = threading.Thread(target=canceller, daemon=True)
            thread.start()
            started = time.monotonic()
            with self.assertRaises(libcamb.Cancelled) as caught:
                self.client.wait_for_task(
                    "demo-pending",
                    initial_interval_ms=15000,
                    max_interval_ms=15000,
                    deadline_ms=20000,
                    cancel=token,
                    on_progress=lambda p: polled.set(),
                )
            returned = time.monotonic()
            thread.join(timeout=10)
            self.assertEqual(caught.exception.code, 5)
            self.assertEqual(len(cancelled_at), 1)
            self.assertLess(returned - cancelled_at[0], 2.0, "the sleeping wait was not woken at once")
            self.assertLess(returned - started, 5.0)
            self.assertTrue(token.cancelled)
            # Raised until reset: a download with it stops before it starts.
            with self.assertRaises(libcamb.Cancelled):
                self.client.download_audio(4242, lambda chunk: None, cancel=token)
            token.reset()
            self.assertGreater(self.client.download_audio(4242, lambda chunk: None, cancel=token), 44)

    def test_save_cancelled(self):
        with libcamb.CancelToken() as token, tempfile.TemporaryDirectory() as directory:
            token.cancel()
            with self.assertRaises(libcamb.Cancelled):
                self.client.save_audio(4242, os.path.join(directory, "x.wav"), cancel=token)
            self.assertEqual(os.listdir(directory), [])

    def test_wrong_cancel_type(self):
        with self.assertRaises(TypeError):
            self.client.wait_for_task("demo-success", cancel=object())
        with self.assertRaises(TypeError):
            self.client.get_task_status("demo-success", cancel="token")

    def test_every_blocking_call_takes_a_token(self):
        # A cancelled token stops each call before its request is sent.
        with libcamb.CancelToken() as token, tempfile.TemporaryDirectory() as directory:
            token.cancel()
            calls = {
                "get_task_status": lambda: self.client.get_task_status("demo-success", cancel=token),
                "create_task": lambda: self.client.create_task("a bell", cancel=token),
                "wait_for_task": lambda: self.client.wait_for_task("demo-success", cancel=token),
                "download_audio": lambda: self.client.download_audio(4242, lambda chunk: None, cancel=token),
                "save_audio": lambda: self.client.save_audio(4242, os.path.join(directory, "s.wav"), cancel=token),
                "get_audio_url": lambda: self.client.get_audio_url(4242, cancel=token),
                "get_audio_urls": lambda: self.client.get_audio_urls([4242], cancel=token),
                "generate": lambda: self.client.generate("a bell", os.path.join(directory, "g.wav"), cancel=token),
                "speak_to_file": lambda: self.client.speak_to_file(
                    "a bell", "en-us", VOICE, os.path.join(directory, "t.wav"), cancel=token
                ),
                "list_voices": lambda: self.client.list_voices(cancel=token),
                "source_languages": lambda: self.client.source_languages(cancel=token),
                "target_languages": lambda: self.client.target_languages(cancel=token),
            }
            for name, call in calls.items():
                with self.subTest(call=name):
                    with self.assertRaises(libcamb.Cancelled) as caught:
                        call()
                    self.assertEqual(caught.exception.code, 5)
                    self.assertTrue(caught.exception.message)
            # A batch with a token cancelled before it starts does not start.
            with self.assertRaises(libcamb.Cancelled):
                self.client.get_task_statuses(["demo-success", "demo-error"], cancel=token)
            self.assertEqual(recorded_requests(), [], "a cancelled call sent a request")
            self.assertEqual(os.listdir(directory), [])
            # Reset, the same token lets each call run.
            token.reset()
            self.assertEqual(self.client.get_task_status("demo-success", cancel=token).run_id, 4242)
            self.assertTrue(self.client.create_task("a bell", cancel=token))
            self.assertTrue(self.client.get_audio_url(4242, cancel=token))
            self.assertIsNotNone(self.client.get_audio_urls([4242], cancel=token)[4242])
            self.assertEqual(self.client.get_task_statuses(["demo-success"], cancel=token)[0].info.run_id, 4242)
            self.assertTrue(self.client.list_voices(cancel=token))
            self.assertTrue(self.client.target_languages(cancel=token))

    def test_generation_cancelled_from_another_thread(self):
        polled = threading.Event()
        with libcamb.CancelToken() as token, tempfile.TemporaryDirectory() as directory:

            def canceller():
                if polled.wait(timeout=10):
                    time.sleep(0.3)  # asleep in a 15 s pause by now
                    token.cancel()

            thread = threading.Thread(target=canceller, daemon=True)
            thread.start()
            started = time.monotonic()
            with self.assertRaises(libcamb.Cancelled):
                self.client.generate(
                    "storm [pending_ms:60000]",
                    os.path.join(directory, "never.wav"),
                    initial_interval_ms=15000,
                    deadline_ms=30000,
                    cancel=token,
                    on_progress=lambda p: polled.set(),
                )
            thread.join(timeout=10)
            self.assertLess(time.monotonic() - started, 5, "the sleeping generation was not woken at once")
            self.assertEqual(os.listdir(directory), [])


class CallbackTests(EmulatorTestCase):
    def test_exception_in_on_progress_is_reraised(self):
        class Boom(Exception):
            pass

        boom = Boom("from on_progress")
        calls = []

        def on_progress(progress):
            calls.append(progress.polls)
            raise boom

        started = time.monotonic()
        with self.assertRaises(Boom) as caught:
            self.client.wait_for_task("demo-pending", on_progress=on_progress, **FAST)
        self.assertIs(caught.exception, boom)
        self.assertEqual(calls, [1], "the wait went on after the exception")
        self.assertLess(time.monotonic() - started, 5)
        # The client is fine afterwards.
        self.assertEqual(self.client.get_task_status("demo-success").run_id, 4242)

    def test_exception_in_write_is_reraised(self):
        calls = []

        def write(chunk):
            calls.append(len(chunk))
            raise KeyError("from write")

        with self.assertRaises(KeyError):
            self.client.download_audio(4242, write)
        self.assertEqual(len(calls), 1)

    def test_on_progress_returning_none_continues(self):
        steps = []
        task_id = self.client.create_task("hum [pending_ms:200]")
        info = self.client.wait_for_task(task_id, on_progress=lambda p: steps.append(p), **FAST)
        self.assertIs(info.status, libcamb.Status.SUCCESS)
        self.assertGreater(len(steps), 1)

    def test_progress_reports_a_transient_failure(self):
        # One poll answered 503 (not retried with max_retries=0): the wait rides it out.
        task_id = self.client.create_task("surf [pending_ms:300]")
        fault(503, body='{"detail":"try later"}', path_prefix="/text-to-sound/" + task_id)
        steps = []
        info = self.client.wait_for_task(task_id, on_progress=steps.append, **FAST)
        self.assertIs(info.status, libcamb.Status.SUCCESS)
        failed = [s for s in steps if s.poll_failed]
        self.assertEqual(len(failed), 1, steps)
        self.assertEqual(failed[0].poll_result, libcamb.ServerError.code)
        self.assertIsNone(failed[0].status)
        self.assertIsNone(failed[0].status_text)
        self.assertIn("try later", failed[0].error_message)
        self.assertFalse(failed[0].done)

    def test_callbacks_survive_garbage_collection(self):
        collected = []

        def on_progress(progress):
            collected.append(gc.collect())
            return True

        task_id = self.client.create_task("wind [pending_ms:500]")
        info = self.client.wait_for_task(task_id, on_progress=on_progress, **FAST)
        self.assertIs(info.status, libcamb.Status.SUCCESS)
        self.assertGreaterEqual(len(collected), 3, "too few polls to have tested anything")

        chunks = []

        def write(chunk):
            gc.collect()
            chunks.append(chunk)

        total = self.client.download_audio(4242, write)
        self.assertEqual(total, sum(map(len, chunks)))
        self.assertEqual(b"".join(chunks)[:4], b"RIFF")

    def test_on_progress_may_call_the_client(self):
        seen = []

        def on_progress(progress):
            seen.append((progress.status, self.client.get_task_status("demo-success").run_id))

        task_id = self.client.create_task("birds [pending_ms:200]")
        info = self.client.wait_for_task(task_id, on_progress=on_progress, **FAST)
        self.assertIs(info.status, libcamb.Status.SUCCESS)
        self.assertTrue(all(run_id == 4242 for _, run_id in seen))
        self.assertEqual(seen[-1][0], libcamb.Status.SUCCESS)


# --------------------------------------------------------------------------
# The log callable, and headers of the caller's own
# --------------------------------------------------------------------------


class LogRecorder:
    """A log callable that keeps (level, line, thread id) of every call."""

    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()

    def __call__(self, level, line):
        with self.lock:
            self.lines.append((level, line, threading.get_ident()))

    def texts(self):
        with self.lock:
            return [line for _, line, _ in self.lines]

    def levels(self):
        with self.lock:
            return {level for level, _, _ in self.lines}


def recorded_requests(path_prefix="/"):
    return [r for r in control("/_emulator/stats")["requests"] if r["path"].startswith(path_prefix)]


def header_values(request, name):
    """Every value the emulator received for `name` (lower case), in order."""
    return [value for n, value in request["headers"] if n == name]


class LogTests(EmulatorTestCase):
    # Two 503s with one retry: a debug line per request, an info line per reply
    # (an error status), a warn line for the retry, an error line for giving up.
    def failing_call(self, c):
        fault(503, body='{"detail":"planted outage"}', times=2)
        with self.assertRaises(libcamb.ServerError):
            c.get_task_status("demo-success")

    def test_debug_lines_of_a_call(self):
        log = LogRecorder()
        with client(log=log, log_level="debug") as c:
            self.assertEqual(c.get_task_status("demo-success").run_id, 4242)
        texts = log.texts()
        url = f"{BASE_URL}/text-to-sound/demo-success"
        self.assertTrue(any(t.startswith(f"GET {url} sent (attempt 1)") for t in texts), texts)
        self.assertTrue(any(t.startswith(f"GET {url} replied 200") for t in texts), texts)
        self.assertEqual(log.levels(), {libcamb.LogLevel.DEBUG}, "a successful status call has only debug lines")
        for level, line, thread in log.lines:
            self.assertIs(type(level), libcamb.LogLevel)
            self.assertIs(type(line), str)
            self.assertNotIn("\n", line)
            self.assertEqual(thread, threading.get_ident(), "a blocking call logs on its own thread")
        self.assertEqual(str(libcamb.LogLevel.DEBUG), "debug")
        self.assertEqual(f"[{libcamb.LogLevel.WARN}]", "[warn]")

    def test_each_level_gets_the_lines_up_to_it(self):
        expected = {
            "error": {libcamb.LogLevel.ERROR},
            "warn": {libcamb.LogLevel.ERROR, libcamb.LogLevel.WARN},
            "info": {libcamb.LogLevel.ERROR, libcamb.LogLevel.WARN, libcamb.LogLevel.INFO},
            "debug": set(libcamb.LogLevel),
        }
        for name, levels in expected.items():
            # Each spelling of the level: its name (any case), the enum, its number.
            for spelling in (name.upper(), libcamb.LogLevel[name.upper()], int(libcamb.LogLevel[name.upper()])):
                with self.subTest(log_level=spelling):
                    log = LogRecorder()
                    with client(log=log, log_level=spelling, max_retries=1) as c:
                        self.failing_call(c)
                    self.assertEqual(log.levels(), levels, log.lines)
        # An error-level run: the one line saying the call was given up, and why.
        log = LogRecorder()
        with client(log=log, log_level="error", max_retries=1) as c:
            self.failing_call(c)
        self.assertEqual(len(log.lines), 1, log.lines)
        self.assertIn("failed", log.texts()[0])
        self.assertIn("planted outage", log.texts()[0])
        # Without log_level: info.
        log = LogRecorder()
        with client(log=log, max_retries=1) as c:
            self.failing_call(c)
        self.assertEqual(log.levels(), expected["info"])

    def test_no_line_holds_the_key_or_a_secret_header(self):
        # A server that echoes the key and the secret header back, in a retried
        # 503 and then in a 401: both words are in warn, info and error lines.
        secret = "gw-secret-Qz7hW2"
        echo = json.dumps({"detail": f"got key {API_KEY} and gateway key {secret}"})
        log = LogRecorder()
        with client(log=log, log_level="debug", max_retries=1, secret_headers={"x-gateway-key": secret}) as c:
            for status, times in ((503, 2), (401, 1)):
                fault(status, body=echo, times=times)
                with self.assertRaises(libcamb.CambError) as caught:
                    c.get_task_status("demo-success")
                self.assertNotIn(API_KEY, caught.exception.message)
                self.assertNotIn(secret, caught.exception.message)
            # Lines about a URL that holds them (a task id pasted wrongly).
            for word in (API_KEY, secret):
                with self.assertRaises(libcamb.NotFound):
                    c.get_task_status(word)
        texts = log.texts()
        echoed = [t for t in texts if "got key" in t]
        self.assertGreaterEqual(len(echoed), 3, f"the echo never reached a line: {texts}")
        for line in texts:
            self.assertNotIn(API_KEY, line)
            self.assertNotIn(secret, line)
        for line in echoed:
            self.assertEqual(line.count("[redacted]"), 2, line)
        sent = [t for t in texts if t.startswith(f"GET {BASE_URL}/text-to-sound/[redacted] sent")]
        self.assertEqual(len(sent), 2, texts)
        # The secret was sent all the same.
        self.assertEqual(header_values(recorded_requests("/text-to-sound/")[0], "x-gateway-key"), [secret])

    def test_job_lines_come_from_the_job_threads(self):
        log = LogRecorder()
        with client(log=log, log_level="debug", job_threads=2) as c:

            async def calls():
                return await asyncio.gather(*(c.get_task_status_async("demo-success") for _ in range(4)))

            self.assertEqual([i.run_id for i in asyncio.run(calls())], [4242] * 4)
        texts = log.texts()
        self.assertEqual(sum(" sent (attempt 1)" in t for t in texts), 4, texts)
        self.assertEqual(sum(" replied 200" in t for t in texts), 4, texts)
        self.assertTrue(any(t.startswith("job ") and t.endswith(" started") for t in texts), texts)
        senders = {thread for _, line, thread in log.lines if "sent (attempt" in line}
        self.assertNotIn(threading.get_ident(), senders, "a job's request was logged on the loop's thread")

    def test_the_callable_lives_as_long_as_the_client(self):
        # The client holds the only reference to the callable.
        texts = []

        def make_client():
            return client(log=lambda level, line: texts.append(line), log_level="debug")

        c = make_client()
        self.addCleanup(c.close)
        for _ in range(3):
            gc.collect()
            c.get_task_status("demo-success")
        self.assertEqual(sum("replied 200" in t for t in texts), 3, texts)

    def test_no_line_after_close(self):
        # A job whose request is out when the client is closed: camb_client_free
        # interrupts it, joins the client's threads and then runs the log
        # function's finalizer, once; no line may come after that, and the
        # callable is let go of.
        if os.environ.get("CAMB_TEST_CHILD") != "1":
            # Once more in a child under Python's debug allocator, which fills
            # freed memory: a call into a freed thunk then crashes every time,
            # where with the usual allocator it may pass by chance.
            child = subprocess.run(
                [sys.executable, os.path.abspath(__file__), f"{type(self).__name__}.{self._testMethodName}"],
                env={**os.environ, "PYTHONMALLOC": "debug", "CAMB_TEST_CHILD": "1"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            self.assertEqual(child.returncode, 0, f"the child run failed:\n{child.stderr[-3000:]}")
        control("/_emulator/faults", {"path_prefix": "/text-to-sound/", "times": 1, "delay_ms": 400})
        log = LogRecorder()

        def relay(level, line):  # held by the client only
            log(level, line)

        c = client(log=relay, log_level="debug")
        relay_ref = weakref.ref(relay)
        del relay

        async def abandon():
            call = asyncio.ensure_future(c.get_task_status_async("demo-success"))
            for _ in range(100):
                await asyncio.sleep(0.01)
                if any("sent (attempt 1)" in t for t in log.texts()):
                    break
            call.cancel()  # cancels the job; the request is out all the same
            with contextlib.suppress(asyncio.CancelledError):
                await call
            c.close()
            # The job comes back through the loop's queue, and is freed there.
            for _ in range(100):
                if not libcamb._aio._loop_queues:
                    break
                await asyncio.sleep(0.01)

        asyncio.run(abandon())
        self.assertEqual(len(libcamb._aio._loop_queues), 0, "the loop's queue was not freed")
        hook = c._log_hook
        self.assertEqual(hook.finalized, 1, "the log function's finalizer did not run once")
        self.assertIsNone(hook.callback)
        self.assertNotIn(hook, libcamb._log._held, "libcamb's user_data still held after its finalizer")
        gc.collect()
        self.assertIsNone(relay_ref(), "the closed client still holds its log callable")
        seen = len(log.lines)
        time.sleep(0.8)  # when the delayed reply would have arrived
        self.assertEqual(len(log.lines), seen, "a line came after close()")
        self.assertTrue(any("sent (attempt 1)" in t for t in log.texts()))
        self.assertEqual(hook.finalized, 1)
        # The process is fine, and so is a new client with a log.
        with client(log=log, log_level="debug") as c:
            self.assertEqual(c.get_task_status("demo-success").run_id, 4242)

    def test_finalizer_runs_once(self):
        made = []

        class Recorded(libcamb._log._LogHook):
            __slots__ = ()

            def __init__(self, callback):
                super().__init__(callback)
                made.append(self)

        self.addCleanup(setattr, libcamb._log, "_LogHook", libcamb._log._LogHook)
        libcamb._log._LogHook = Recorded
        # Closed, or collected unclosed: freed, and the finalizer runs then.
        c = client(log=LogRecorder())
        c.get_task_status("demo-success")
        self.assertEqual(made[0].finalized, 0)
        # Held by the package (its cffi handle is libcamb's user_data) until finalized.
        self.assertIn(made[0], libcamb._log._held)
        c.close()
        self.assertNotIn(made[0], libcamb._log._held)
        c.close()
        self.assertEqual(made[0].finalized, 1)
        client(log=LogRecorder())
        gc.collect()
        self.assertEqual(made[1].finalized, 1)
        # A build that fails after the log was set: libcamb is done with it then.
        with self.assertRaises(libcamb.InvalidArgument):
            client(log=LogRecorder(), base_url="http://example.com/apis")
        self.assertEqual(made[2].finalized, 1)
        self.assertIsNone(made[2].callback)
        self.assertEqual([hook for hook in made if hook in libcamb._log._held], [])
        # A level libcamb refuses: the finalizer never runs, and the hook is let go of.
        with self.assertRaises(libcamb.InvalidArgument):
            client(log=LogRecorder(), log_level=9)
        self.assertEqual(len(made), 3, "a refused level made a hook")

    def test_a_client_collected_in_its_own_log_line(self):
        # The garbage collector may run on a libcamb thread, in a log line; a
        # client collected there is freed on a thread of its own, since
        # camb_client_free must not be called from the client's log callback.
        finalized_in_a_line = []

        class Recorded(libcamb._log._LogHook):
            __slots__ = ()

            def _finalize(self):
                finalized_in_a_line.append(libcamb._log.in_log_line())
                super()._finalize()

        self.addCleanup(setattr, libcamb._log, "_LogHook", libcamb._log._LogHook)
        libcamb._log._LogHook = Recorded
        control("/_emulator/faults", {"path_prefix": "/text-to-sound/", "times": 1, "delay_ms": 400})
        collect = threading.Event()

        def log(level, line):
            if collect.is_set() and "replied" in line:
                collect.clear()
                gc.collect()

        c = client(log=log, log_level="debug")
        c.itself = c  # a cycle: only the collector frees it

        async def abandon():
            call = asyncio.ensure_future(c.get_task_status_async("demo-success"))
            await asyncio.sleep(0.1)
            call.cancel()  # the request is out: the job logs its reply later
            with contextlib.suppress(asyncio.CancelledError):
                await call

        asyncio.run(abandon())
        hook = c._log_hook
        gc.disable()
        self.addCleanup(gc.enable)
        del c
        collect.set()
        for _ in range(100):
            if hook.finalized:
                break
            time.sleep(0.02)
        self.assertEqual(hook.finalized, 1, "the collected client was not freed")
        self.assertEqual(finalized_in_a_line, [False], "the client was freed inside its own log line")

    def test_exception_in_the_callable_is_ignored_and_warned_once(self):
        class Boom(Exception):
            pass

        calls = []

        def log(level, line):
            calls.append(line)
            raise Boom(f"log failure {len(calls)}")

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with client(log=log, log_level="debug") as c:
                # The call's outcome stands: a status, and the failure of its own.
                self.assertEqual(c.get_task_status("demo-success").run_id, 4242)
                with self.assertRaises(libcamb.NotFound):
                    c.get_task_status("no-such-task-log")
                task_id = c.create_task("a bell")
                self.assertTrue(task_id)
        self.assertGreaterEqual(len(calls), 6, "lines stopped after the first exception")
        runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
        self.assertEqual(len(runtime), 1, [str(w.message) for w in caught])
        self.assertIn("Boom('log failure 1')", str(runtime[0].message))
        self.assertIn("log callable", str(runtime[0].message))

    def test_ctrl_c_in_the_callable_is_raised_after_the_call(self):
        self.addCleanup(setattr, libcamb._log, "_held_interrupt", False)  # none left for later tests, if this one fails
        calls = []

        def log(level, line):
            calls.append(line)
            if len(calls) == 1:
                raise KeyboardInterrupt  # as Python raises Ctrl-C in the first code it runs

        with client(log=log, log_level="debug") as c:
            with self.assertRaises(KeyboardInterrupt):
                c.get_task_status("demo-success")
            self.assertEqual(len(calls), 2, "the call did not run to its end")
            self.assertEqual(len(recorded_requests("/text-to-sound/")), 1)
            # Raised once: the next call is a plain call.
            self.assertEqual(c.get_task_status("demo-success").run_id, 4242)

    def test_arguments_checked(self):
        with self.assertRaisesRegex(libcamb.InvalidArgument, "verbose"):
            client(log=print, log_level="verbose")
        with self.assertRaises(libcamb.InvalidArgument):
            client(log=print, log_level=5)
        with self.assertRaises(libcamb.InvalidArgument):
            client(log=print, log_level=0)
        with self.assertRaises(TypeError):
            client(log=print, log_level=True)
        with self.assertRaisesRegex(TypeError, "callable"):
            client(log="stderr")
        with self.assertRaisesRegex(TypeError, "pass log too"):
            client(log_level="debug")
        with self.assertRaisesRegex(TypeError, "mapping"):
            client(headers=[("traceparent", "x")])
        with self.assertRaises(TypeError):
            client(headers={"x-count": 3})
        self.assertIs(libcamb.LogLevel._parse("Warning"), libcamb.LogLevel.WARN)
        self.assertEqual(recorded_requests(), [], "a refused argument sent something")


class HeaderTests(EmulatorTestCase):
    TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    def test_headers_reach_the_server_exactly(self):
        headers = {"traceparent": self.TRACEPARENT, "X-Tenant": "acme corp;\tregion=eu-west \u00e9"}
        secret = {"x-gateway-key": "gw-secret-8Hn2"}
        with client(headers=headers, secret_headers=secret) as c:
            c.get_task_status("demo-success")
            task_id = c.create_task("a gong")

            async def status():
                return await c.get_task_status_async(task_id)

            asyncio.run(status())  # sent from a job thread
        requests = recorded_requests()
        self.assertEqual([r["method"] for r in requests], ["GET", "POST", "GET"])
        sent = {
            "traceparent": self.TRACEPARENT,
            "x-tenant": headers["X-Tenant"],
            "x-gateway-key": secret["x-gateway-key"],
        }
        for request in requests:
            with self.subTest(method=request["method"], path=request["path"]):
                for name, value in sent.items():
                    self.assertEqual(header_values(request, name), [value], name)
                self.assertEqual(header_values(request, "x-api-key"), [API_KEY])
                names = sorted(n for n, _ in request["headers"])
                own = ["accept", "host", "user-agent", "x-api-key"]
                if request["method"] == "POST":
                    own += ["content-length", "content-type"]
                self.assertEqual(names, sorted(own + list(sent)), "a header missing, doubled or unexpected")

    def test_refused_headers_raise_before_anything_is_sent(self):
        cases = [
            # (headers, secret_headers, words saying why)
            ({"x-api-key": "other"}, None, "libcamb's own"),
            ({"Host": "evil.example"}, None, "libcamb's own"),
            (None, {"Content-Type": "text/plain"}, "libcamb's own"),
            ({"Content-Length": "0"}, None, "libcamb's own"),
            ({"bad name": "v"}, None, "not an HTTP token"),
            ({"x-trace:id": "v"}, None, "not an HTTP token"),
            ({"": "v"}, None, "not an HTTP token"),
            ({"x-trace": "a\r\nx-injected: 1"}, None, "a CR"),
            (None, {"x-trace": "a\nb"}, "a LF"),
            ({"x-trace": "a\x00b"}, None, "NUL"),
            (None, {"x-trace": "a\x01b"}, "control character"),
            ({"x-trace": "a\x7fb"}, None, "control character"),
            ({"x-trace": "x" * 8193}, None, "8192"),
            ({f"x-h{i}": "v" for i in range(65)}, None, "at most 64"),
            ({"x-trace": "a"}, {"X-Trace": "abcd"}, "already added"),
            (None, {"x-gateway-key": "abc"}, "under 4 bytes"),
        ]
        for headers, secret_headers, why in cases:
            with self.subTest(why=why, headers=str(headers or secret_headers)[:60]):
                with self.assertRaises(libcamb.InvalidArgument) as caught:
                    client(headers=headers, secret_headers=secret_headers)
                self.assertIn(why, caught.exception.message)
                self.assertIsInstance(caught.exception, ValueError)
        self.assertEqual(recorded_requests(), [], "a refused header let a request out")
        # A refused secret's value is not repeated.
        secret = "gw-secret-\r\nQ4"
        with self.assertRaises(libcamb.InvalidArgument) as caught:
            client(secret_headers={"x-gateway-key": secret})
        self.assertNotIn("gw-secret", caught.exception.message)
        self.assertIn("x-gateway-key", caught.exception.message)
        # The limits themselves are accepted.
        limits = {f"x-h{i}": "v" for i in range(64)}
        limits["x-h0"] = "v" * 8192
        with client(headers=limits) as c:
            c.get_task_status("demo-success")
        (request,) = recorded_requests()
        self.assertEqual(header_values(request, "x-h0"), ["v" * 8192])
        self.assertEqual(header_values(request, "x-h63"), ["v"])


# --------------------------------------------------------------------------
# Text-to-speech: streams, files, voices and languages
# --------------------------------------------------------------------------


class SpeechTests(EmulatorTestCase):
    def assert_stream_stopped(self):
        """The emulator's last speech stream stopped before its end: its reply
        was dropped (bytes no longer sent)."""
        time.sleep(0.2)  # a chunk already on its way may still land
        before = tts_streams()[-1]
        time.sleep(0.3)
        after = tts_streams()[-1]
        self.assertFalse(after["completed"], after)
        self.assertEqual(after["bytes_sent"], before["bytes_sent"], "the stream went on after it was left")

    def test_speak_streams_a_wav_as_it_arrives(self):
        chunks = []
        with self.client.speak(HELLO, "en-us", VOICE, speech_model="mars-flash") as stream:
            self.assertIsInstance(stream, libcamb.SpeechStream)
            for chunk in stream:
                if not chunks:
                    at_first_chunk = tts_streams()[-1]
                chunks.append(chunk)
            info = stream.info
        self.assertTrue(stream.closed)
        with self.assertRaises(StopIteration):
            next(stream)
        # As it came, in pieces: the server was still speaking when the first
        # one was read (the emulator speaks in real time).
        self.assertGreater(len(chunks), 1)
        self.assertTrue(all(type(c) is bytes and 0 < len(c) <= libcamb._speech.CHUNK_BYTES for c in chunks))
        self.assertFalse(at_first_chunk["completed"], at_first_chunk)
        audio = b"".join(chunks)
        channels, rate, bits, _, offset, _ = wav_header(audio)  # its sizes are a stream's placeholders
        self.assertEqual((channels, rate, bits), (1, 22050, 16))
        self.assertGreater(len(audio) - offset, 0)
        self.assertEqual((len(audio) - offset) % 2, 0)
        self.assertEqual(info, libcamb.SpeechInfo("wav", 22050, 1, info.credits, len(audio)))
        self.assertIsInstance(info.credits, float)
        self.assertGreater(info.credits, 0)  # X-Credits-Required
        served = tts_streams()[-1]
        self.assertEqual((served["bytes_sent"], served["completed"]), (len(audio), True))

    def test_speak_raw_pcm(self):
        with self.client.speak(HELLO, "en-us", VOICE, format="pcm_s16le", speech_model="mars-flash") as stream:
            audio = b"".join(stream)
        self.assertGreater(len(audio), 0)
        self.assertEqual(len(audio) % 2, 0, "16-bit samples")
        self.assertNotEqual(audio[:4], b"RIFF", "raw PCM has no header")
        info = stream.info
        self.assertEqual(info, libcamb.SpeechInfo("pcm_s16le", 22050, 1, info.credits, len(audio)))
        # A rate and a length asked for: half a second of 16 kHz 16-bit mono.
        with self.client.speak(HELLO, "en-us", VOICE, format="pcm_s16le", sample_rate=16000, duration=0.5) as stream:
            audio = b"".join(stream)
        self.assertEqual((stream.info.sample_rate, stream.info.bytes), (16000, len(audio)))
        self.assertEqual(len(audio) % 2, 0)
        self.assertAlmostEqual(len(audio), 16000, delta=64)

    def test_speak_to_file_writes_a_valid_wav(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "hello.wav")
            info = self.client.speak_to_file(HELLO, "en-us", VOICE, path, speech_model="mars-flash")
            with open(path, "rb") as f:
                saved = f.read()
            self.assertEqual(os.listdir(directory), ["hello.wav"])
        self.assertIsInstance(info, libcamb.SpeechInfo)
        self.assertEqual(info, libcamb.SpeechInfo("wav", 22050, 1, info.credits, len(saved)))
        self.assertGreater(info.credits, 0)
        channels, rate, bits, riff_size, offset, data_size = wav_header(saved)
        self.assertEqual((channels, rate, bits), (1, 22050, 16))
        # The real sizes, where the stream had placeholders.
        self.assertEqual(riff_size, len(saved) - 8)
        self.assertEqual(data_size, len(saved) - offset)
        with wave.open(io.BytesIO(saved), "rb") as w:
            self.assertEqual((w.getnchannels(), w.getframerate(), w.getsampwidth()), (1, 22050, 2))
            self.assertEqual(w.getnframes() * 2, data_size)
        # The very audio the stream gives.
        streamed = b"".join(self.client.speak(HELLO, "en-us", VOICE, speech_model="mars-flash"))
        self.assertEqual(streamed[offset:], saved[offset:])

    def test_a_422_names_the_locales_the_model_speaks(self):
        stream = self.client.speak(HELLO, "zh-tw", VOICE, speech_model="mars-flash")
        with self.assertRaises(libcamb.ValidationError) as caught:
            next(stream)
        e = caught.exception
        self.assertEqual((e.code, e.http_status), (422, 422))
        self.assertIsInstance(e, ValueError)
        self.assertIn("zh-tw", e.message)
        self.assertIn("en-us", e.message)  # the allowed locales, in the server's words
        self.assertTrue(stream.closed)
        with self.assertRaises(StopIteration):
            next(stream)
        with tempfile.TemporaryDirectory() as directory:
            with self.assertRaises(libcamb.ValidationError) as caught:
                self.client.speak_to_file(HELLO, "zh-tw", VOICE, os.path.join(directory, "x.wav"), speech_model="mars-flash")
            self.assertIn("en-us", caught.exception.message)
            self.assertEqual(os.listdir(directory), [])
        # A voice the server does not know.
        with self.assertRaises(libcamb.NotFound) as caught:
            b"".join(self.client.speak(HELLO, "en-us", 1))
        self.assertEqual(caught.exception.http_status, 404)

    def test_a_cut_stream_raises_after_its_audio(self):
        for declare_length in (False, True):  # chunked, or shorter than its Content-Length
            with self.subTest(declare_length=declare_length):
                control(
                    "/_emulator/faults",
                    {"path_prefix": "/tts-stream", "cut_after_bytes": 5000, "declare_length": declare_length},
                )
                received = []
                with self.assertRaises(libcamb.ConnectionFailed) as caught:
                    with self.client.speak(HELLO, "en-us", VOICE) as stream:
                        for chunk in stream:
                            received.append(chunk)
                self.assertEqual(len(b"".join(received)), 5000, "the audio before the cut is given first")
                self.assertIn("5000", caught.exception.message)
                self.assertEqual(stream.info.bytes, 5000)
                self.assertTrue(stream.closed)
        # Saved, it leaves the file that was there as it was.
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "kept.wav")
            with open(path, "wb") as f:
                f.write(b"the file that was there")
            control("/_emulator/faults", {"path_prefix": "/tts-stream", "cut_after_bytes": 5000})
            with self.assertRaises(libcamb.ConnectionFailed):
                self.client.speak_to_file(HELLO, "en-us", VOICE, path)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), b"the file that was there")
            self.assertEqual(os.listdir(directory), ["kept.wav"])

    def test_a_slow_reader_gets_every_byte(self):
        # 2 s of 32-bit 48 kHz audio, 384000 bytes: more than the 256 KiB that
        # libcamb holds for a reader, who here starts when the server is done
        # speaking, then reads slowly.
        chunks = []
        with self.client.speak(HELLO, "en-us", VOICE, format="pcm_s32le", sample_rate=48000, duration=2) as stream:
            time.sleep(2.3)
            for chunk in stream:
                chunks.append(chunk)
                time.sleep(0.005)
        audio = b"".join(chunks)
        self.assertEqual(len(audio), 2 * 48000 * 4)
        self.assertEqual(stream.info.bytes, len(audio))
        served = tts_streams()[-1]
        self.assertEqual((served["bytes_sent"], served["completed"]), (len(audio), True))
        self.assertTrue(all(len(c) <= libcamb._speech.CHUNK_BYTES for c in chunks))

    def test_leaving_a_stream_cancels_it_and_frees_its_job(self):
        cancels = watch(self, "camb_job_cancel")
        job_frees = watch(self, "camb_job_free")
        queue_frees = watch(self, "camb_queue_free")
        # close() after the first chunk of 30 s of speech: the job is cancelled,
        # comes back at once, and is freed with its queue.
        started = time.monotonic()
        stream = self.client.speak(HELLO, "en-us", VOICE, duration=30)
        self.assertTrue(next(stream))
        stream.close()
        self.assertLess(time.monotonic() - started, 2)
        self.assertTrue(stream.closed)
        self.assertEqual((len(cancels), len(job_frees), len(queue_frees)), (1, 1, 1))
        self.assertEqual(job_frees, cancels, "the job cancelled is the one freed")
        self.assertGreater(stream.info.bytes, 0)
        stream.close()
        self.assertEqual((len(job_frees), len(queue_frees)), (1, 1), "close() freed twice")
        with self.assertRaises(libcamb.Cancelled):  # never taken for a complete stream
            next(stream)
        self.assert_stream_stopped()
        # A break out of a with block.
        with self.client.speak(HELLO, "en-us", VOICE, duration=30) as stream:
            for chunk in stream:
                break
        self.assertEqual((len(cancels), len(job_frees), len(queue_frees)), (2, 2, 2))
        self.assert_stream_stopped()
        # An exception out of one.
        with self.assertRaises(KeyError):
            with self.client.speak(HELLO, "en-us", VOICE, duration=30) as stream:
                for chunk in stream:
                    raise KeyError("planted")
        self.assertEqual((len(cancels), len(job_frees), len(queue_frees)), (3, 3, 3))
        self.assert_stream_stopped()
        # Let go of: garbage collection cancels the job and frees its queue;
        # libcamb frees the job when it stops.
        for chunk in self.client.speak(HELLO, "en-us", VOICE, duration=30):
            break
        gc.collect()
        self.assertEqual((len(cancels), len(queue_frees)), (4, 4))
        self.assert_stream_stopped()
        # The client is fine afterwards.
        self.assertTrue(b"".join(self.client.speak(HELLO, "en-us", VOICE, duration=0.2)))

    @unittest.skipIf(threading.current_thread() is not threading.main_thread(), "Ctrl-C is the main thread's")
    def test_ctrl_c_leaves_no_running_job(self):
        cancels = watch(self, "camb_job_cancel")
        queue_frees = watch(self, "camb_queue_free")
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        self.addCleanup(signal.signal, signal.SIGINT, previous)
        # The reply is late: the iteration is waiting for it when Ctrl-C comes.
        control("/_emulator/faults", {"path_prefix": "/tts-stream", "delay_ms": 1000})
        stream = self.client.speak(HELLO, "en-us", VOICE, duration=30)
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        self.addCleanup(timer.cancel)
        started = time.monotonic()
        timer.start()
        with self.assertRaises(KeyboardInterrupt):
            for chunk in stream:
                pass
        self.assertLess(time.monotonic() - started, 1.0, "Ctrl-C was not seen while waiting")
        # Cancelled, its queue freed: libcamb frees the job when it stops, at
        # the reply's first chunk.
        self.assertTrue(stream.closed)
        self.assertEqual((len(cancels), len(queue_frees)), (1, 1))
        with self.assertRaises(libcamb.Cancelled):
            next(stream)
        time.sleep(1.0)
        self.assert_stream_stopped()

    def test_close_from_another_thread_ends_the_iteration(self):
        stream = self.client.speak(HELLO, "en-us", VOICE, duration=30)
        self.assertTrue(next(stream))
        closer = threading.Timer(0.2, stream.close)
        closer.start()
        started = time.monotonic()
        with self.assertRaises(libcamb.Cancelled):
            for chunk in stream:
                pass
        closer.join(timeout=10)
        self.assertLess(time.monotonic() - started, 2)
        self.assertTrue(stream.closed)
        self.assert_stream_stopped()

    def test_closing_the_client_cancels_its_streams(self):
        c = client()
        stream = c.speak(HELLO, "en-us", VOICE, duration=30)
        self.assertTrue(next(stream))
        c.close()
        with self.assertRaises(libcamb.Cancelled):
            for chunk in stream:
                pass
        self.assertTrue(stream.closed)
        with self.assertRaises(ValueError):
            c.speak(HELLO, "en-us", VOICE)

    def test_options_are_sent_as_given_and_only_then(self):
        # The defaults send the text, the language, the voice and the format.
        b"".join(self.client.speak(HELLO, "en-us", VOICE))
        with tempfile.TemporaryDirectory() as directory:
            self.client.speak_to_file(HELLO, "en-us", VOICE, os.path.join(directory, "x.wav"))
        default = {"text": HELLO, "language": "en-us", "voice_id": VOICE, "output_configuration": {"format": "wav"}}
        self.assertEqual(tts_bodies(), [default, default])
        # Every option, at its place in the request.
        control("/_emulator/reset", {})
        options = dict(
            format="pcm_s16le",
            sample_rate=24000,
            duration=0.25,
            apply_enhancement=False,
            speech_model="mars-instruct",
            user_instructions="calmly",
            enhance_named_entities=True,
            enhance_reference_audio_quality=True,
            maintain_source_accent=False,
            apply_ref_loudness_norm=True,
            speaking_rate=1.25,
            stability=0.5,
            temperature=0.7,
            inference_steps=20,
            speaker_similarity=0.75,
            localize_speaker_weight=0.25,
            acoustic_quality_boost=True,
        )
        self.assertEqual(sorted(options), sorted(libcamb._convert.SPEECH_OPTIONS), "every option is tried")
        with self.client.speak(HELLO, "en-us", VOICE, **options) as stream:
            audio = b"".join(stream)
        self.assertEqual((stream.info.format, stream.info.sample_rate, len(audio)), ("pcm_s16le", 24000, 12000))
        self.assertEqual(
            tts_bodies(),
            [
                {
                    "text": HELLO,
                    "language": "en-us",
                    "voice_id": VOICE,
                    "speech_model": "mars-instruct",
                    "user_instructions": "calmly",
                    "enhance_named_entities_pronunciation": True,
                    "output_configuration": {
                        "format": "pcm_s16le",
                        "sample_rate": 24000,
                        "duration": 0.25,
                        "apply_enhancement": False,
                    },
                    "voice_settings": {
                        "enhance_reference_audio_quality": True,
                        "maintain_source_accent": False,
                        "apply_ref_loudness_norm": True,
                        "speaking_rate": 1.25,
                    },
                    "inference_options": {
                        "stability": 0.5,
                        "temperature": 0.7,
                        "inference_steps": 20,
                        "speaker_similarity": 0.75,
                        "localize_speaker_weight": 0.25,
                        "acoustic_quality_boost": True,
                    },
                }
            ],
        )

    def test_one_set_of_options_for_every_speech_call(self):
        names = list(libcamb._convert.SPEECH_OPTIONS)
        for method in (
            libcamb.Client.speak,
            libcamb.Client.speak_async,
            libcamb.Client.speak_to_file,
            libcamb.Client.speak_to_file_async,
        ):
            with self.subTest(method=method.__name__):
                keyword_only = [p for p in inspect.signature(method).parameters.values() if p.kind is p.KEYWORD_ONLY]
                self.assertEqual([p.name for p in keyword_only if p.name != "cancel"], names)
                self.assertTrue(all(p.default is None for p in keyword_only))

    def test_arguments_refused_before_anything_is_sent(self):
        refused = {
            # By libcamb, with its words.
            "empty text": (libcamb.InvalidArgument, dict(text="")),
            "empty language": (libcamb.InvalidArgument, dict(language="")),
            "a format that is no name": (libcamb.InvalidArgument, dict(format="x" * 40)),
            "an infinite number": (libcamb.InvalidArgument, dict(speaking_rate=math.inf)),
            # By the package: what C cannot hold, or would take as unset.
            "NUL in the text": (libcamb.InvalidArgument, dict(text="a\0b")),
            "sample_rate 0": (libcamb.InvalidArgument, dict(sample_rate=0)),
            "inference_steps 0": (libcamb.InvalidArgument, dict(inference_steps=0)),
            "a negative rate": (libcamb.InvalidArgument, dict(sample_rate=-1)),
            "NaN": (libcamb.InvalidArgument, dict(duration=math.nan)),
            "a voice beyond 64 bits": (libcamb.InvalidArgument, dict(voice_id=2**63)),
            "a flag that is no bool": (TypeError, dict(apply_enhancement=1)),
            "a number that is text": (TypeError, dict(temperature="hot")),
            "a voice that is text": (TypeError, dict(voice_id="147320")),
            "a format that is no text": (TypeError, dict(format=3)),
        }
        with tempfile.TemporaryDirectory() as directory:
            for name, (error, arguments) in refused.items():
                arguments = dict(dict(text=HELLO, language="en-us", voice_id=VOICE), **arguments)
                with self.subTest(name):
                    with self.assertRaises(error):
                        self.client.speak(**arguments)
                    with self.assertRaises(error):
                        self.client.speak_to_file(path=os.path.join(directory, "x.wav"), **arguments)
            with self.assertRaises(libcamb.FileError):
                self.client.speak_to_file(HELLO, "en-us", VOICE, os.path.join(directory, "no-such-dir", "x.wav"))
            self.assertEqual(os.listdir(directory), [])
        self.assertEqual(recorded_requests(), [], "a refused speech reached the server")
        with self.assertRaises(RuntimeError):  # its async form needs a running loop
            self.client.speak_async(HELLO, "en-us", VOICE)

    def test_voices_and_languages(self):
        voice_list_frees = watch(self, "camb_voice_list_free")
        language_list_frees = watch(self, "camb_language_list_free")
        voices = self.client.list_voices()
        source = self.client.source_languages()
        target = self.client.target_languages()
        self.assertEqual([r["path"] for r in recorded_requests()], ["/list-voices", "/source-languages", "/target-languages"])
        # Copied out, and each list freed once.
        self.assertEqual(len(voice_list_frees), 1)
        self.assertEqual(len(language_list_frees), 2)
        self.assertTrue(all(voice_list_frees + language_list_frees))
        self.assertTrue(voices)
        for voice in voices:
            self.assertIs(type(voice), libcamb.Voice)
            self.assertIsInstance(voice.id, int)
            self.assertIsInstance(voice.name, str)
            for field in ("gender", "age", "language"):
                self.assertIsInstance(getattr(voice, field), (int, type(None)), field)
            for field in ("transcript", "description", "signed_url"):
                self.assertIsInstance(getattr(voice, field), (str, type(None)), field)
            self.assertIn(voice.is_published, (True, False, None))
        alice = next(v for v in voices if v.id == VOICE)
        self.assertEqual((alice.name, alice.gender, alice.is_published), ("Alice", 2, True))
        self.assertIsInstance(alice.language, int)
        self.assertTrue(alice.transcript)
        # What the server does not say of a voice is None.
        self.assertTrue(any(v.gender is None and v.is_published is None and v.transcript is None for v in voices))
        for languages in (source, target):
            self.assertTrue(languages)
            self.assertTrue(all(type(language) is libcamb.Language for language in languages))
            self.assertTrue(all(isinstance(language.id, int) and language.name for language in languages))
            self.assertTrue(all(language.short_name == language.short_name.lower() for language in languages))
            self.assertIn(libcamb.Language(1, "English (United States)", "en-us"), languages)
        self.assertNotEqual(source, target)
        # A voice's language is a language id.
        self.assertIn(alice.language, {language.id for language in source})
        # Errors map as for any call.
        fault(503, body='{"detail":"planted outage"}', path_prefix="/source-languages")
        with self.assertRaises(libcamb.ServerError) as caught:
            self.client.source_languages()
        self.assertIn("planted outage", caught.exception.message)
        fault(200, body='[{"voice_name": "a voice without an id"}]', path_prefix="/list-voices")
        with self.assertRaises(libcamb.BadResponse):
            self.client.list_voices()
        self.assertEqual(voice_list_frees[1:], [None])
        self.assertEqual(language_list_frees[2:], [None])


# --------------------------------------------------------------------------
# asyncio: libcamb jobs on one queue per event loop
# --------------------------------------------------------------------------


def thread_count():
    """The threads of this process now, as the kernel counts them."""
    return len(os.listdir("/proc/self/task"))


class JobLedger:
    """Watches, for one test, every job this package makes, submits, gets back
    from its queue and frees (through the library's functions), and the queues
    it makes and frees. A job freed twice, freed without having been made, or
    freed while libcamb has it (submitted, not handed back), fails the test."""

    MAKES = (
        "camb_client_job_get_task_status",
        "camb_client_job_create_task",
        "camb_client_job_wait_for_task",
        "camb_client_job_download_audio",
        "camb_client_job_save_audio",
        "camb_client_job_get_audio_url",
        "camb_client_job_get_audio_urls",
        "camb_client_job_get_task_statuses",
        "camb_client_job_generate",
        "camb_client_job_speak",
        "camb_client_job_speak_to_file",
        "camb_client_job_list_voices",
        "camb_client_job_list_languages",
    )

    def __init__(self, test):
        self.test = test
        self.lock = threading.Lock()  # two loops on two threads share it
        self.live = set()  # made, not freed
        self.in_flight = set()  # submitted, not handed back
        self.made = 0
        self.kinds = []
        self.submitted = 0
        self.handed_back = 0
        self.freed = 0
        self.bad_frees = []
        self.queues_made = 0
        self.queues_freed = 0
        lib = libcamb.load()
        for name in self.MAKES:
            self._patch(lib, name, self._on_make)
        self._patch(lib, "camb_job_submit", self._on_submit)
        self._patch(lib, "camb_queue_pop", self._on_pop)
        self._patch(lib, "camb_job_free", self._on_free)
        self._patch(lib, "camb_queue_new", self._on_queue_new)
        self._patch(lib, "camb_queue_free", self._on_queue_free)
        self.lib = lib

    def _patch(self, lib, name, hook):
        original = getattr(lib, name)

        def replacement(*args):
            return hook(original, *args)

        setattr(lib, name, replacement)
        self.test.addCleanup(setattr, lib, name, original)

    def _on_make(self, original, *args):
        code = original(*args)
        if code == 0:
            job = address(args[-1][0])
            with self.lock:
                self.test.assertNotIn(job, self.live, "a live job's address was handed out again")
                self.live.add(job)
                self.made += 1
                self.kinds.append(self.lib.camb_job_get_kind(args[-1][0]))
        return code

    def _on_submit(self, original, job, queue, user_data):
        code = original(job, queue, user_data)
        if code == 0:
            with self.lock:
                self.in_flight.add(address(job))
                self.submitted += 1
        return code

    def _on_pop(self, original, queue, out_event, out_job):
        code = original(queue, out_event, out_job)
        if code == 0 and out_event[0] == self.lib.CAMB_EVENT_JOB_DONE:  # the caller's again
            with self.lock:
                self.in_flight.discard(address(out_job[0]))
                self.handed_back += 1
        return code

    def _on_free(self, original, job):
        freed = address(job)
        with self.lock:
            if freed not in self.live or freed in self.in_flight:
                # Recorded and not passed on: libcamb would touch freed memory,
                # or only cancel a job the package thinks it freed.
                self.bad_frees.append(freed)
                return None
            self.live.remove(freed)
            self.freed += 1
        return original(job)

    def _on_queue_new(self, original, out_queue):
        code = original(out_queue)
        with self.lock:
            self.queues_made += code == 0
        return code

    def _on_queue_free(self, original, queue):
        with self.lock:
            self.queues_freed += 1
        return original(queue)

    async def settled(self, timeout=10):
        """Lets the loop take back the jobs still in flight (a cancelled job comes
        back through its queue, soon after its caller stopped waiting)."""
        deadline = time.monotonic() + timeout
        while (self.live or libcamb._aio._loop_queues) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    def assert_all_freed_once(self, made=None):
        self.test.assertEqual(self.bad_frees, [], "a job freed twice, never made, or freed while libcamb had it")
        self.test.assertEqual(self.live, set(), "jobs left unfreed")
        self.test.assertEqual(self.in_flight, set(), "jobs submitted and never handed back")
        if made is not None:
            self.test.assertEqual(self.made, made, "jobs made")
        self.test.assertEqual(self.submitted, self.made, "a job made and not submitted")
        self.test.assertEqual(self.handed_back, self.submitted)
        self.test.assertEqual(self.freed, self.made)
        self.test.assertEqual(self.queues_freed, self.queues_made, "queues left unfreed")
        self.test.assertEqual(len(libcamb._aio._loop_queues), 0, "a loop still has a queue")

    async def assert_settled(self, made=None):
        await self.settled()
        self.assert_all_freed_once(made)


class AsyncTests(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        control("/_emulator/reset", {})
        self.client = client()
        self.addCleanup(self.client.close)
        self.jobs = JobLedger(self)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.dir = directory.name

    async def test_status_equals_the_sync_calls(self):
        ids = ["demo-success", "demo-error", "demo-timeout", "demo-payment-required", "demo-unknown", "demo-pending"]
        for task_id in ids:
            with self.subTest(task_id=task_id):
                info = await self.client.get_task_status_async(task_id)
                self.assertIsInstance(info, libcamb.TaskInfo)
                self.assertEqual(info, self.client.get_task_status(task_id))
        info = await self.client.get_task_status_async(b"demo-error")
        self.assertEqual(
            (info.status, info.run_id, info.exception_reason, info.message),
            (libcamb.Status.ERROR, 4243, "PROCESSING_ERROR", "The audio model failed to render this prompt"),
        )
        await self.jobs.assert_settled(made=len(ids) + 1)

    async def test_many_concurrent_calls_on_few_threads(self):
        threads = 2
        before = thread_count()
        with client(job_threads=threads) as c:
            ids = ["demo-success" if n % 3 else f"no-such-task-a{n}" for n in range(300)]
            seen = [thread_count()]
            done = asyncio.Event()

            async def sample():
                while not done.is_set():
                    seen.append(thread_count())
                    await asyncio.sleep(0.005)

            sampler = asyncio.ensure_future(sample())
            try:
                results = await asyncio.gather(*(c.get_task_status_async(i) for i in ids), return_exceptions=True)
            finally:
                done.set()
                await sampler
            seen.append(thread_count())
        for task_id, result in zip(ids, results):
            if task_id == "demo-success":
                self.assertEqual((result.status, result.run_id), (libcamb.Status.SUCCESS, 4242))
            else:
                self.assertIs(type(result), libcamb.NotFound, result)
                self.assertIn(task_id, result.message)
                self.assertEqual(result.http_status, 404)
        self.assertGreater(len(seen), 2)
        # The client's job threads and its timer thread; not a thread per call.
        self.assertLessEqual(max(seen) - before, threads + 1, f"threads: {before} before, then {seen}")
        # One queue served the whole loop, and every job was freed once.
        self.assertEqual(self.jobs.queues_made, 1)
        await self.jobs.assert_settled(made=len(ids))

    async def test_generate_writes_a_valid_wav(self):
        path = os.path.join(self.dir, "rain.wav")
        steps = []
        loop_thread = threading.get_ident()

        def on_progress(progress):
            steps.append((progress, threading.get_ident()))

        result = await self.client.generate_async(
            "rain on a tin roof [pending_ms:400]",
            path,
            duration=2,
            audio_type="sound",
            project_name="caf\u00e9",
            initial_interval_ms=40,
            max_interval_ms=40,
            on_progress=on_progress,
            progress_interval=0.01,
        )
        self.assertIsInstance(result, libcamb.Generation)
        self.assertEqual(result.path, path)
        self.assertIs(result.info.status, libcamb.Status.SUCCESS)
        self.assertIsInstance(result.info.run_id, int)
        self.assertEqual(result.info, self.client.get_task_status(result.task_id))
        self.assertEqual(result.size, os.path.getsize(path))
        with wave.open(path, "rb") as w:
            self.assertEqual((w.getnchannels(), w.getframerate(), w.getsampwidth()), (1, 22050, 2))
            self.assertAlmostEqual(w.getnframes() / w.getframerate(), 2.0, delta=0.1)
        self.assertEqual(os.listdir(self.dir), ["rain.wav"])
        # Progress, told on the loop's own thread as the polls went.
        self.assertTrue(steps, "on_progress was never called")
        self.assertEqual({thread for _, thread in steps}, {loop_thread})
        polls = [p.polls for p, _ in steps]
        self.assertEqual(polls, sorted(set(polls)), "told twice for one poll count, or out of order")
        self.assertIn(libcamb.Status.PENDING, [p.status for p, _ in steps])
        self.assertIs(steps[-1][0].status, libcamb.Status.SUCCESS, "the last report is not the final status")
        self.assertGreaterEqual(polls[-1], 2)
        # While pending, then once done; with what a job can tell.
        self.assertEqual([p.done for p, _ in steps], [False] * (len(steps) - 1) + [True])
        self.assertEqual({p.status for p, _ in steps[:-1]}, {libcamb.Status.PENDING})
        self.assertEqual([p.status_changed for p, _ in steps], [True] + [False] * (len(steps) - 2) + [True])
        last = steps[-1][0]
        self.assertEqual((last.status_text, last.next_poll_in_ms, last.poll_result), ("SUCCESS", 0, None))
        await self.jobs.assert_settled(made=1)
        self.assertEqual(self.jobs.kinds, [9])  # CAMB_JOB_KIND_GENERATE

    async def test_progress_has_one_shape(self):
        # The blocking and the async forms tell the same class, with the same
        # meaning: polls so far, the status, whether it changed, and a last
        # report marked done; the async forms leave what only a single poll
        # knows (its result, its failure's words, the next pause) as None.
        task_id = await self.client.create_task_async("chimes [pending_ms:300]")
        blocking = []
        waited = await asyncio.get_running_loop().run_in_executor(
            None, lambda: self.client.wait_for_task(task_id, on_progress=blocking.append, **FAST)
        )
        task_id = await self.client.create_task_async("chimes [pending_ms:300]")
        awaited = []
        info = await self.client.wait_for_task_async(task_id, on_progress=awaited.append, progress_interval=0.01, **FAST)
        self.assertEqual((waited.status, info.status), (libcamb.Status.SUCCESS, libcamb.Status.SUCCESS))
        self.assertIs(libcamb.JobProgress, libcamb.Progress)
        fields = [f.name for f in dataclasses.fields(libcamb.Progress)]
        for form, reports in (("blocking", blocking), ("async", awaited)):
            with self.subTest(form=form):
                self.assertGreaterEqual(len(reports), 2, reports)
                self.assertTrue(all(type(p) is libcamb.Progress for p in reports))
                first, last = reports[0], reports[-1]
                self.assertEqual((first.status, first.status_text), (libcamb.Status.PENDING, "PENDING"))
                self.assertGreaterEqual(first.polls, 1)  # async: the first sample after a poll
                self.assertTrue(first.status_changed)
                self.assertEqual((last.status, last.status_text, last.done), (libcamb.Status.SUCCESS, "SUCCESS", True))
                self.assertTrue(last.status_changed)
                self.assertEqual(last.next_poll_in_ms, 0)
                self.assertFalse(any(p.done for p in reports[:-1]))
                self.assertFalse(any(p.poll_failed for p in reports))
                polls = [p.polls for p in reports]
                self.assertEqual(polls, sorted(set(polls)))
                self.assertEqual(sorted(dataclasses.asdict(last)), sorted(fields))
        self.assertEqual([p.polls for p in blocking], list(range(1, len(blocking) + 1)), "blocking: every poll")
        self.assertEqual({p.poll_result for p in blocking}, {0})
        self.assertEqual({(p.poll_result, p.error_message) for p in awaited}, {(None, None)})
        self.assertEqual({p.next_poll_in_ms for p in awaited[:-1]}, {None})
        self.assertTrue(all(p.next_poll_in_ms > 0 for p in blocking[:-1]))
        await self.jobs.assert_settled(made=3)

    async def test_async_progress_at_the_end_of_a_wait(self):
        # A task that fails: the last report is its final status.
        reports = []
        with self.assertRaises(libcamb.TaskFailed):
            await self.client.generate_async(
                "hiss [status:ERROR] [pending_ms:200]",
                os.path.join(self.dir, "e.wav"),
                on_progress=reports.append,
                progress_interval=0.01,
                **FAST,
            )
        self.assertEqual((reports[-1].done, reports[-1].status, reports[-1].status_text), (True, libcamb.Status.ERROR, "ERROR"))
        # A task this version does not know the status of: told as sent.
        reports = []
        info = await self.client.wait_for_task_async("demo-unknown", on_progress=reports.append, **FAST)
        self.assertEqual(info.status_text, "QUEUED_FOR_GPU")
        self.assertEqual((reports[-1].done, reports[-1].status, reports[-1].status_text), (True, libcamb.Status.UNKNOWN, "QUEUED_FOR_GPU"))
        self.assertEqual({p.status for p in reports[:-1]}, set() if len(reports) == 1 else {libcamb.Status.PENDING})
        # The deadline: the wait ended by itself, still pending.
        reports = []
        with self.assertRaises(libcamb.Timeout):
            await self.client.wait_for_task_async(
                "demo-pending", on_progress=reports.append, progress_interval=0.01, **dict(FAST, deadline_ms=300)
            )
        self.assertTrue(reports[-1].done)
        self.assertIs(reports[-1].status, libcamb.Status.PENDING)
        # Stopped by on_progress, or cancelled: no report marked done.
        reports = []

        def stop(progress):
            reports.append(progress)
            return False

        with self.assertRaises(libcamb.Cancelled):
            await self.client.wait_for_task_async("demo-pending", on_progress=stop, progress_interval=0.01, **FAST)
        self.assertEqual([p.done for p in reports], [False])
        await self.jobs.assert_settled(made=4)

    async def test_failing_task(self):
        for directive, status in [("ERROR", libcamb.Status.ERROR), ("TIMEOUT", libcamb.Status.TIMEOUT)]:
            with self.subTest(status=directive):
                path = os.path.join(self.dir, f"{directive}.wav")
                with self.assertRaises(libcamb.TaskFailed) as caught:
                    await self.client.generate_async(f"hiss [status:{directive}] [pending_ms:100]", path, initial_interval_ms=40)
                e = caught.exception
                self.assertEqual((e.code, e.http_status, e.status), (9, 0, status))
                self.assertIn(f"ended {directive}", e.message)
                self.assertEqual(str(e), e.message)
                self.assertFalse(os.path.exists(path), "a failed generation left a file")
                if status is libcamb.Status.ERROR:
                    self.assertIn("PROCESSING_ERROR", e.message)  # the server's reason
        # A wait reports a final status, as the blocking one does: it does not raise.
        task_id = await self.client.create_task_async("hiss [status:ERROR] [pending_ms:100]")
        info = await self.client.wait_for_task_async(task_id, **FAST)
        self.assertEqual((info.status, info.exception_reason), (libcamb.Status.ERROR, "PROCESSING_ERROR"))
        await self.jobs.assert_settled(made=4)

    async def test_timeout_of_an_awaiting_wait_cancels_its_job(self):
        task_id = await self.client.create_task_async("long hum [pending_ms:60000]")
        polls_before = len(control("/_emulator/stats")["requests"])
        started = time.monotonic()
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(
                self.client.wait_for_task_async(task_id, initial_interval_ms=100, backoff_factor=1.0, deadline_ms=30000),
                timeout=0.5,
            )
        self.assertLess(time.monotonic() - started, 5, "the timeout was not delivered promptly")
        # The job was cancelled, came back through the queue and was freed there.
        await self.jobs.assert_settled(made=2)
        # Cancelled for real: libcamb polls no more (it polled every 100 ms before;
        # a poll already on its way when the job was cancelled may still land).
        await asyncio.sleep(0.2)
        polled = len(control("/_emulator/stats")["requests"])
        self.assertGreater(polled, polls_before, "the wait never polled")
        await asyncio.sleep(0.6)
        self.assertEqual(len(control("/_emulator/stats")["requests"]), polled, "the wait went on polling")

    async def test_cancelling_a_generation(self):
        path = os.path.join(self.dir, "never.wav")
        polled = asyncio.Event()
        task = asyncio.ensure_future(
            self.client.generate_async(
                "storm [pending_ms:60000]",
                path,
                initial_interval_ms=15000,
                on_progress=lambda p: polled.set(),
                progress_interval=0.01,
            )
        )
        await asyncio.wait_for(polled.wait(), 10)
        task.cancel()
        started = time.monotonic()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertLess(time.monotonic() - started, 2)
        self.assertEqual(os.listdir(self.dir), [])
        await self.jobs.assert_settled(made=1)

    async def test_errors_have_their_types(self):
        async def raises(cls, code, http_status, call):
            with self.assertRaises(cls) as caught:
                await call
            e = caught.exception
            self.assertIs(type(e), cls)
            self.assertEqual((e.code, e.http_status), (code, http_status))
            self.assertTrue(e.message)
            return e

        e = await raises(libcamb.NotFound, 404, 404, self.client.get_task_status_async("no-such-task-a1"))
        self.assertIn("no-such-task-a1", e.message)
        await raises(
            libcamb.ValidationError,
            422,
            422,
            self.client.create_task_async("a long symphony", duration=100000, audio_type=libcamb.AudioType.MUSIC),
        )
        e = await raises(
            libcamb.Timeout, 101, 0, self.client.wait_for_task_async("demo-pending", **dict(FAST, deadline_ms=300))
        )
        self.assertIn("PENDING", e.message)
        await raises(
            libcamb.Cancelled,
            5,
            0,
            self.client.wait_for_task_async("demo-pending", on_progress=lambda p: False, progress_interval=0.01, **FAST),
        )
        fault(503, body='{"detail":"planted failure"}')
        e = await raises(libcamb.ServerError, 500, 503, self.client.get_task_status_async("demo-success"))
        self.assertIn("planted failure", e.message)
        with client(base_url=f"http://127.0.0.1:{closed_port()}") as c:
            await raises(libcamb.ConnectionFailed, 100, 0, c.get_task_status_async("demo-success"))
        with client(api_key="wrong-key-Lq2") as c:
            e = await raises(libcamb.Unauthorized, 401, 401, c.get_task_status_async("demo-success"))
            self.assertNotIn("wrong-key-Lq2", e.message)
        made = self.jobs.made
        self.assertEqual(made, 7)
        # Refused when made: no job, no queue left behind.
        await raises(libcamb.FileError, 7, 0, self.client.save_audio_async(4242, os.path.join(self.dir, "no", "x.wav")))
        await raises(libcamb.InvalidArgument, 2, 0, self.client.get_task_status_async(""))
        await raises(libcamb.InvalidArgument, 2, 0, self.client.wait_for_task_async("demo-pending", backoff_factor=0.5))
        await raises(
            libcamb.InvalidArgument,
            2,
            0,
            self.client.generate_async("waves", os.path.join(self.dir, "w.wav"), duration=11, audio_type="sound"),
        )
        await raises(libcamb.FileError, 7, 0, self.client.generate_async("waves", os.path.join(self.dir, "no", "w.wav"))
        )
        with self.assertRaises(libcamb.InvalidArgument):  # by the package, before C
            await self.client.get_task_status_async("a\0b")
        with self.assertRaises(TypeError):
            await self.client.get_task_status_async(42)
        with self.assertRaises(libcamb.InvalidArgument):
            await self.client.wait_for_task_async("demo-success", on_progress=print, progress_interval=0)
        with self.assertRaises(libcamb.InvalidArgument):
            client(job_threads=0)
        closed = client()
        closed.close()
        with self.assertRaises(ValueError):
            await closed.get_task_status_async("demo-success")
        await self.jobs.assert_settled(made=made)

    async def test_exception_in_on_progress(self):
        class Boom(Exception):
            pass

        boom = Boom("from on_progress")
        calls = []

        def on_progress(progress):
            calls.append(progress.polls)
            raise boom

        with self.assertRaises(Boom) as caught:
            await self.client.wait_for_task_async("demo-pending", on_progress=on_progress, progress_interval=0.01, **FAST)
        self.assertIs(caught.exception, boom)
        self.assertEqual(len(calls), 1)
        await self.jobs.assert_settled(made=1)

    async def test_async_on_progress(self):
        seen = []

        async def on_progress(progress):
            await asyncio.sleep(0)
            seen.append(progress.status)

        task_id = await self.client.create_task_async("hum [pending_ms:200]")
        info = await self.client.wait_for_task_async(task_id, on_progress=on_progress, progress_interval=0.01, **FAST)
        self.assertIs(info.status, libcamb.Status.SUCCESS)
        self.assertEqual(seen[-1], libcamb.Status.SUCCESS)
        await self.jobs.assert_settled(made=2)

    async def test_closing_the_client_fails_its_calls(self):
        c = client()
        polled = asyncio.Event()
        call = asyncio.ensure_future(
            c.wait_for_task_async(
                "demo-pending",
                initial_interval_ms=15000,
                deadline_ms=30000,
                on_progress=lambda p: polled.set(),
                progress_interval=0.01,
            )
        )
        await asyncio.wait_for(polled.wait(), 10)
        c.close()
        started = time.monotonic()
        with self.assertRaises(libcamb.Cancelled):
            await asyncio.wait_for(call, 5)
        self.assertLess(time.monotonic() - started, 5)
        await self.jobs.assert_settled(made=1)

    async def test_batch_create_and_save(self):
        ids = ["demo-success", "no-such-task-a2", "", "a\0b"]
        results = await self.client.get_task_statuses_async(ids, 2)

        def summary(results):
            return [(r.task_id, r.info, type(r.error), r.error and (r.error.code, r.error.message)) for r in results]

        self.assertEqual(summary(results), summary(self.client.get_task_statuses(ids, 2)))
        self.assertEqual([r.ok for r in results], [True, False, False, False])
        self.assertEqual(results[0].info.run_id, 4242)
        self.assertEqual([type(r.error) for r in results[1:]], [libcamb.NotFound, libcamb.InvalidArgument, libcamb.InvalidArgument])
        self.assertEqual([r.task_id for r in results], ["demo-success", "no-such-task-a2", "", "a\0b"])
        self.assertEqual(await self.client.get_task_statuses_async([]), [])
        task_id = await self.client.create_task_async("drips", duration=3, audio_type="sound")
        self.assertEqual(self.client.get_task_status(task_id).status, libcamb.Status.SUCCESS)
        path = os.path.join(self.dir, "drips.wav")
        size = await self.client.save_audio_async(4242, path)
        self.assertEqual(size, os.path.getsize(path))
        self.assertEqual(size, self.client.download_audio(4242, lambda chunk: None))
        await self.jobs.assert_settled(made=4)

    async def test_job_freed_once_when_reading_it_raises(self):
        lib = libcamb.load()
        original = lib.camb_task_status_text
        reads = []

        def failing(*args):
            reads.append(args)
            raise RuntimeError("planted failure")

        lib.camb_task_status_text = failing
        self.addCleanup(setattr, lib, "camb_task_status_text", original)
        with self.assertRaisesRegex(RuntimeError, "planted failure"):
            await self.client.get_task_status_async("demo-success")
        self.assertEqual(len(reads), 1)
        await self.jobs.assert_settled(made=1)

    def test_two_loops_on_two_threads(self):
        # Each thread's loop has its own queue; one client serves both.
        failures = []

        def run(n):
            async def calls():
                ids = ["demo-success"] * 20 + [f"no-such-task-l{n}"]
                return await asyncio.gather(*(self.client.get_task_status_async(i) for i in ids), return_exceptions=True)

            try:
                results = asyncio.run(calls())
                if [r.run_id for r in results[:-1]] != [4242] * 20 or f"-l{n}" not in results[-1].message:
                    failures.append(f"thread {n}: {results}")
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(f"thread {n}: {e!r}")

        threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        self.assertFalse(any(t.is_alive() for t in threads))
        self.assertEqual(failures, [])
        self.assertEqual(self.jobs.queues_made, 2)
        self.jobs.assert_all_freed_once(made=42)

    def test_a_loop_closed_with_a_job_in_flight(self):
        # asyncio.run cancels the call it left running, whose request is out
        # (answered late), and closes the loop: the job cannot come back there.
        # The queue goes with the loop, and libcamb frees the job when it ends.
        control("/_emulator/faults", {"path_prefix": "/text-to-sound/", "times": 1, "delay_ms": 1500})

        async def leave_running():
            asyncio.ensure_future(self.client.get_task_status_async("demo-success"))
            for _ in range(100):
                await asyncio.sleep(0.01)
                if recorded_requests("/text-to-sound/"):
                    break

        asyncio.run(leave_running())
        gc.collect()
        self.assertEqual((self.jobs.made, self.jobs.submitted, self.jobs.handed_back), (1, 1, 0))
        self.assertEqual((self.jobs.queues_made, self.jobs.queues_freed), (1, 1), "the closed loop's queue was not freed")
        self.assertEqual(len(libcamb._aio._loop_queues), 0)
        time.sleep(1.7)  # the reply comes, the job ends, and libcamb frees it
        self.assertEqual(self.jobs.bad_frees, [])
        self.assertEqual(self.jobs.freed, 0, "the package freed a job its freed queue had")
        self.assertEqual(self.client.get_task_status("demo-success").run_id, 4242)

    async def test_every_operation_as_a_job(self):
        path = os.path.join(self.dir, "saved.wav")
        info = await self.client.get_task_status_async("demo-success")
        task_id = await self.client.create_task_async("a bell")
        waited = await self.client.wait_for_task_async(task_id, **FAST)
        audio = await self.client.download_audio_async(info.run_id)
        size = await self.client.save_audio_async(info.run_id, path)
        url = await self.client.get_audio_url_async(info.run_id)
        urls = await self.client.get_audio_urls_async([info.run_id, 987654])
        statuses = await self.client.get_task_statuses_async([task_id])
        generated = await self.client.generate_async("a gong", os.path.join(self.dir, "gong.wav"), **FAST)
        # The values of the blocking calls.
        self.assertEqual(waited, self.client.get_task_status(task_id))
        with open(path, "rb") as f:
            saved = f.read()
        self.assertEqual((audio[:4], len(audio), size), (b"RIFF", len(saved), len(saved)))
        self.assertEqual(audio, saved)
        self.assertEqual(url, self.client.get_audio_url(info.run_id))
        self.assertEqual(urls, {info.run_id: url, 987654: None})
        self.assertEqual([r.info for r in statuses], [waited])
        self.assertEqual(generated.size, os.path.getsize(os.path.join(self.dir, "gong.wav")))
        await self.jobs.assert_settled(made=9)
        self.assertEqual(sorted(self.jobs.kinds), list(range(1, 10)), "CAMB_JOB_KIND_* of the jobs made")
        # Their errors, with the server's words.
        for call in (
            self.client.download_audio_async(987654),
            self.client.get_audio_url_async(987654),
            self.client.save_audio_async(987654, path),
        ):
            with self.assertRaises(libcamb.NotFound) as caught:
                await call
            self.assertIn("987654", caught.exception.message)
            self.assertEqual(caught.exception.http_status, 404)
        with self.assertRaises(libcamb.HttpError) as caught:
            await self.client.download_audio_async(4243)  # a run that did not succeed
        self.assertEqual(caught.exception.http_status, 400)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), saved, "a failed save touched the file")
        await self.jobs.assert_settled(made=13)

    async def test_many_urls_in_jobs_of_1000(self):
        run_ids = [4242] + list(range(1, 1200))
        urls = await self.client.get_audio_urls_async(run_ids)
        self.assertEqual(urls, self.client.get_audio_urls(run_ids))
        self.assertEqual(len(urls), 1200)
        self.assertEqual(await self.client.get_audio_urls_async([]), {})
        await self.jobs.assert_settled(made=2)

    async def test_a_cancelled_job_comes_back_before_it_is_freed(self):
        lib = libcamb.load()
        cancels = []
        original = lib.camb_job_cancel

        def counting(job):
            cancels.append(address(job))
            return original(job)

        lib.camb_job_cancel = counting
        self.addCleanup(setattr, lib, "camb_job_cancel", original)
        # Every request answered late: each job is in flight when its call is cancelled.
        control("/_emulator/faults", {"path_prefix": "/text-to-sound", "times": 3, "delay_ms": 1000})
        calls = [
            asyncio.ensure_future(self.client.wait_for_task_async("demo-pending", initial_interval_ms=15000, deadline_ms=30000)),
            asyncio.ensure_future(self.client.download_audio_async(4242)),
            asyncio.ensure_future(self.client.get_task_status_async("demo-success")),
        ]
        await asyncio.sleep(0.05)
        for call in calls:
            call.cancel()
        results = await asyncio.gather(*calls, return_exceptions=True)
        self.assertEqual([type(r) for r in results], [asyncio.CancelledError] * 3)
        # Each job, in flight, was cancelled, not freed: freed once back.
        self.assertEqual(len(cancels), 3)
        self.assertEqual(self.jobs.bad_frees, [])
        await self.jobs.assert_settled(made=3)


class AsyncSpeechTests(unittest.IsolatedAsyncioTestCase):
    """speak_async and the other speech calls as jobs, on the loop's queue:
    every job made comes back through it and is freed once (JobLedger)."""

    setUp = AsyncTests.setUp

    async def assert_stream_stopped(self):
        await asyncio.sleep(0.2)  # a chunk already on its way may still land
        before = tts_streams()[-1]
        await asyncio.sleep(0.3)
        after = tts_streams()[-1]
        self.assertFalse(after["completed"], after)
        self.assertEqual(after["bytes_sent"], before["bytes_sent"], "the stream went on after it was left")

    async def test_speak_as_an_async_iterator(self):
        chunks = []
        stream = self.client.speak_async(HELLO, "en-us", VOICE, speech_model="mars-flash")
        self.assertIsInstance(stream, libcamb.AsyncSpeechStream)
        async with stream:
            async for chunk in stream:
                if not chunks:
                    at_first_chunk = tts_streams()[-1]
                chunks.append(chunk)
            info = stream.info
        self.assertTrue(stream.closed)
        # Each data event woke the reader; none ended the stream.
        self.assertGreater(len(chunks), 1)
        self.assertFalse(at_first_chunk["completed"], at_first_chunk)
        self.assertTrue(all(type(c) is bytes and 0 < len(c) <= libcamb._speech.CHUNK_BYTES for c in chunks))
        audio = b"".join(chunks)
        channels, rate, bits, _, offset, _ = wav_header(audio)
        self.assertEqual((channels, rate, bits), (1, 22050, 16))
        self.assertEqual((len(audio) - offset) % 2, 0)
        self.assertEqual(info, libcamb.SpeechInfo("wav", 22050, 1, info.credits, len(audio)))
        self.assertGreater(info.credits, 0)
        served = tts_streams()[-1]
        self.assertEqual((served["bytes_sent"], served["completed"]), (len(audio), True))
        # The very audio a save of the same speech holds (after its header).
        path = os.path.join(self.dir, "hello.wav")
        await self.client.speak_to_file_async(HELLO, "en-us", VOICE, path, speech_model="mars-flash")
        with open(path, "rb") as f:
            self.assertEqual(f.read()[offset:], audio[offset:])
        await self.jobs.assert_settled(made=2)
        lib = self.jobs.lib
        self.assertEqual(self.jobs.kinds, [lib.CAMB_JOB_KIND_SPEAK, lib.CAMB_JOB_KIND_SPEAK_TO_FILE])

    async def test_a_slow_async_reader_gets_every_byte(self):
        chunks = []
        async with self.client.speak_async(HELLO, "en-us", VOICE, format="pcm_s32le", sample_rate=48000, duration=2) as stream:
            await asyncio.sleep(2.3)
            async for chunk in stream:
                chunks.append(chunk)
                await asyncio.sleep(0.005)
        audio = b"".join(chunks)
        self.assertEqual(len(audio), 2 * 48000 * 4)
        self.assertEqual(stream.info, libcamb.SpeechInfo("pcm_s32le", 48000, 1, stream.info.credits, len(audio)))
        served = tts_streams()[-1]
        self.assertEqual((served["bytes_sent"], served["completed"]), (len(audio), True))
        # Raw 16-bit PCM: whole samples.
        async with self.client.speak_async(HELLO, "en-us", VOICE, format="pcm_s16le", speech_model="mars-flash") as stream:
            audio = b"".join([chunk async for chunk in stream])
        self.assertEqual(len(audio) % 2, 0)
        self.assertEqual((stream.info.sample_rate, stream.info.bytes), (22050, len(audio)))
        await self.jobs.assert_settled(made=2)

    async def test_async_errors(self):
        # The server's 422, with the locales the model speaks.
        stream = self.client.speak_async(HELLO, "zh-tw", VOICE, speech_model="mars-flash")
        with self.assertRaises(libcamb.ValidationError) as caught:
            async for chunk in stream:
                pass
        self.assertEqual((caught.exception.code, caught.exception.http_status), (422, 422))
        self.assertIn("en-us", caught.exception.message)
        self.assertTrue(stream.closed)
        with self.assertRaises(StopAsyncIteration):
            await stream.__anext__()
        with self.assertRaises(libcamb.ValidationError) as caught:
            await self.client.speak_to_file_async(HELLO, "zh-tw", VOICE, os.path.join(self.dir, "x.wav"), speech_model="mars-flash")
        self.assertIn("en-us", caught.exception.message)
        # A stream cut short: its audio, then the error.
        control("/_emulator/faults", {"path_prefix": "/tts-stream", "cut_after_bytes": 5000})
        received = []
        with self.assertRaises(libcamb.ConnectionFailed) as caught:
            async with self.client.speak_async(HELLO, "en-us", VOICE) as stream:
                async for chunk in stream:
                    received.append(chunk)
        self.assertEqual(len(b"".join(received)), 5000)
        self.assertIn("5000", caught.exception.message)
        self.assertEqual(stream.info.bytes, 5000)
        # Saved, it leaves the file that was there.
        path = os.path.join(self.dir, "kept.wav")
        with open(path, "wb") as f:
            f.write(b"the file that was there")
        control("/_emulator/faults", {"path_prefix": "/tts-stream", "cut_after_bytes": 5000, "declare_length": True})
        with self.assertRaises(libcamb.ConnectionFailed):
            await self.client.speak_to_file_async(HELLO, "en-us", VOICE, path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"the file that was there")
        self.assertEqual(os.listdir(self.dir), ["kept.wav"])
        made = self.jobs.made
        self.assertEqual(made, 4)
        # Refused when made: no job, nothing sent.
        with self.assertRaises(libcamb.InvalidArgument):
            self.client.speak_async("", "en-us", VOICE)
        with self.assertRaises(libcamb.InvalidArgument):
            self.client.speak_async(HELLO, "en-us", VOICE, sample_rate=0)
        with self.assertRaises(libcamb.FileError):
            await self.client.speak_to_file_async(HELLO, "en-us", VOICE, os.path.join(self.dir, "no", "x.wav"))
        await self.jobs.assert_settled(made=made)

    async def test_leaving_an_async_stream_cancels_its_job(self):
        # A break out of async with: cancelled, back through the queue, freed.
        async with self.client.speak_async(HELLO, "en-us", VOICE, duration=30) as stream:
            async for chunk in stream:
                break
        self.assertTrue(stream.closed)
        with self.assertRaises(libcamb.Cancelled):  # never taken for a complete stream
            await stream.__anext__()
        await self.jobs.assert_settled(made=1)
        await self.assert_stream_stopped()
        # aclose().
        stream = self.client.speak_async(HELLO, "en-us", VOICE, duration=30)
        self.assertTrue(await stream.__anext__())
        await stream.aclose()
        await stream.aclose()
        await self.jobs.assert_settled(made=2)
        await self.assert_stream_stopped()
        # The iterating task cancelled, while it waits for audio.
        stream = self.client.speak_async(HELLO, "en-us", VOICE, duration=30)

        async def read_all():
            return b"".join([chunk async for chunk in stream])

        task = asyncio.ensure_future(read_all())
        await asyncio.sleep(0.4)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertTrue(stream.closed)
        await self.jobs.assert_settled(made=3)
        await self.assert_stream_stopped()
        # Closed by another task while one iterates: that one ends, Cancelled.
        stream = self.client.speak_async(HELLO, "en-us", VOICE, duration=30)
        task = asyncio.ensure_future(read_all())
        await asyncio.sleep(0.4)
        await stream.aclose()
        with self.assertRaises(libcamb.Cancelled):
            await asyncio.wait_for(task, 5)
        await self.jobs.assert_settled(made=4)
        # Let go of (garbage collection).
        async for chunk in self.client.speak_async(HELLO, "en-us", VOICE, duration=30):
            break
        gc.collect()
        await self.jobs.assert_settled(made=5)
        await self.assert_stream_stopped()
        # The client is fine afterwards.
        async with self.client.speak_async(HELLO, "en-us", VOICE, duration=0.2) as stream:
            self.assertTrue(b"".join([chunk async for chunk in stream]))
        await self.jobs.assert_settled(made=6)

    async def test_closing_the_client_cancels_its_async_streams(self):
        c = client()
        stream = c.speak_async(HELLO, "en-us", VOICE, duration=30)
        self.assertTrue(await stream.__anext__())
        c.close()
        with self.assertRaises(libcamb.Cancelled):
            async for chunk in stream:
                pass
        await self.jobs.assert_settled(made=1)

    async def test_speak_to_file_and_lists_as_jobs(self):
        path = os.path.join(self.dir, "hello.wav")
        info = await self.client.speak_to_file_async(HELLO, "en-us", VOICE, path, speech_model="mars-flash")
        with open(path, "rb") as f:
            saved = f.read()
        self.assertEqual(info, libcamb.SpeechInfo("wav", 22050, 1, info.credits, len(saved)))
        self.assertGreater(info.credits, 0)
        channels, rate, bits, riff_size, offset, data_size = wav_header(saved)
        self.assertEqual((channels, rate, bits, riff_size, data_size), (1, 22050, 16, len(saved) - 8, len(saved) - offset))
        voices = await self.client.list_voices_async()
        source = await self.client.source_languages_async()
        target = await self.client.target_languages_async()
        self.assertEqual(voices, self.client.list_voices())
        self.assertEqual(source, self.client.source_languages())
        self.assertEqual(target, self.client.target_languages())
        self.assertIn(VOICE, [v.id for v in voices])
        self.assertIn("en-us", [language.short_name for language in target])
        await self.jobs.assert_settled(made=4)
        lib = self.jobs.lib
        self.assertEqual(
            self.jobs.kinds,
            [lib.CAMB_JOB_KIND_SPEAK_TO_FILE, lib.CAMB_JOB_KIND_LIST_VOICES]
            + [lib.CAMB_JOB_KIND_LIST_LANGUAGES] * 2,
        )
        # Many at once, still on the client's few job threads.
        results = await asyncio.gather(*(self.client.list_voices_async() for _ in range(20)))
        self.assertEqual(results, [voices] * 20)
        await self.jobs.assert_settled(made=24)


if __name__ == "__main__":
    unittest.main()
