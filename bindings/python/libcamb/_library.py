"""Loading libcamb, and turning a failed call into its exception."""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Optional, Union

from . import _ffi
from ._errors import CambError, error_for
from ._ffi import RESULT, ffi

LibraryPath = Union[str, "os.PathLike[str]"]

_SERIES = (0, 3)  # the ABI this package is written for: libcamb 0.3.x


class _Library:
    """One loaded libcamb: its functions as cffi declared them from camb.h,
    under their C names (``lib.camb_client_free``), each looked up once.

    An object of this package's rather than cffi's ``lib`` itself, whose
    attributes cannot be replaced: the tests wrap functions here to watch
    what is freed.
    """

    def __init__(self, lib: Any, path: str) -> None:
        self._lib = lib
        self.path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self._lib, name)  # AttributeError: camb.h declares no such name
        self.__dict__[name] = value
        return value

    def __repr__(self) -> str:
        return f"<libcamb library {self.path}>"


_libraries: Dict[str, _Library] = {}
_libraries_lock = threading.Lock()


def load(path: Optional[LibraryPath] = None) -> _Library:
    """Loads libcamb once (per path) and checks it is a 0.3.x libcamb.

    The library is the one in this package (``libcamb/camb/libcamb.so``), unless
    ``path`` names another, or the environment variable ``CAMB_LIB`` does, which
    wins over both (for developers: a libcamb.so just built, under the
    package's declarations). Raises OSError, naming the path tried, when it
    cannot be loaded or is not a 0.3.x libcamb.
    """
    override = os.environ.get("CAMB_LIB")
    if override:
        name, origin = override, "named by the environment variable CAMB_LIB"
    elif path is not None:
        name, origin = os.fspath(path), "given as its path"
    else:
        name, origin = _ffi.BUNDLED_PATH, "the library in the libcamb package"
    with _libraries_lock:
        library = _libraries.get(name)
        if library is None:
            library = _Library(_open(name, origin, override), name)
            _check_library(library, name)
            _libraries[name] = library
        return library


def _open(name: str, origin: str, override: Optional[str]) -> Any:
    if name == _ffi.BUNDLED_PATH and _ffi.bundled_lib is not None:
        return _ffi.bundled_lib  # loaded with the package's declarations
    hint = (
        "unset CAMB_LIB to use the library in the libcamb package"
        if override
        else "set the environment variable CAMB_LIB to the path of a libcamb.so 0.3.x to use another"
    )
    if name == _ffi.BUNDLED_PATH and _ffi.bundled_error is not None:
        raise OSError(f"libcamb: cannot load {name} ({origin}): {_ffi.bundled_error}; {hint}")
    try:
        return ffi.dlopen(name)
    except OSError as e:
        raise OSError(f"libcamb: cannot load {name} ({origin}): {e}; {hint}") from None


def _check_library(lib: Any, name: str) -> None:
    """Refuses a libcamb whose ABI differs from the one the declarations describe."""
    version = ffi.string(lib.camb_version()).decode("ascii", "replace")
    series = tuple(int(part) if part.isdigit() else -1 for part in version.split(".")[:2])
    if series != _SERIES:
        wanted = ".".join(map(str, _SERIES))
        raise OSError(
            f"libcamb: {name} is libcamb {version}; this package is written for libcamb {wanted}.x "
            "(the environment variable CAMB_LIB, when set, names the library loaded)"
        )
    # The options structures as camb.h declares them must be the size this
    # libcamb knows: a larger one (a newer camb.h than the library) is refused
    # by _init, a smaller one would leave its newer fields at their defaults.
    for init, c_type in (
        (lib.camb_create_options_init, "camb_create_options"),
        (lib.camb_wait_options_init, "camb_wait_options"),
        (lib.camb_speech_options_init, "camb_speech_options"),
    ):
        if init(ffi.new(f"{c_type} *"), ffi.sizeof(c_type)) != RESULT["OK"]:
            words = ffi.string(lib.camb_last_error()).decode("utf-8", "replace")
            raise OSError(f"libcamb: {name} refuses the {ffi.sizeof(c_type)}-byte {c_type} of camb.h: {words}")


def library_version(path: Optional[LibraryPath] = None) -> str:
    """The version of the libcamb that is loaded, such as "0.3.0"."""
    version: bytes = ffi.string(load(path).camb_version())
    return version.decode()


def last_error(lib: _Library, code: int) -> CambError:
    """The exception for a failed call, in this thread's camb_last_error() words:
    made right after the C call, on the same thread."""
    message = ffi.string(lib.camb_last_error()).decode("utf-8", "replace")
    return error_for(code, message, lib.camb_last_http_status())


def check(lib: _Library, code: int) -> None:
    """Raises the exception for a failed call (see last_error)."""
    if code != RESULT["OK"]:
        raise last_error(lib, code)
