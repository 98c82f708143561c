"""cffi's declarations of camb.h, and the libcamb.so shipped in this package.

maturin writes both into the wheel as ``libcamb/camb/``: ``ffi.py`` holds the
declarations cffi made from include/camb.h when the wheel was built (every
function, struct, enum value and typedef, with its C name), and the package's
``__init__`` loads ``libcamb.so`` next to it as ``lib``. Nothing here restates
the ABI: every C type, function and constant this package uses is looked up
in ``ffi`` or ``lib`` by its C name.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, Dict, Optional

#: The library in this package, loaded unless the environment variable
#: ``CAMB_LIB`` names another (see :func:`libcamb.load`).
BUNDLED_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "camb", "libcamb.so")

ffi: Any
bundled_lib: Any
bundled_error: Optional[OSError]

try:
    from .camb import ffi as _generated_ffi
    from .camb import lib as _generated_lib
except ModuleNotFoundError as error:
    if error.name != f"{__package__}.camb":
        raise
    raise ImportError(
        f"libcamb: {os.path.dirname(BUNDLED_PATH)} is missing: this libcamb is a source tree, not the built "
        "package; build the wheel (scripts/package-python.sh) and pip install dist/libcamb-*.whl"
    ) from None
except OSError as error:
    # libcamb/camb/__init__.py loads libcamb.so, which failed; its declarations
    # (camb/ffi.py) load without it, so that CAMB_LIB may still name another.
    # load() raises this error, with the path tried, if nothing else is named.
    _spec = importlib.util.spec_from_file_location(
        "libcamb._declarations", os.path.join(os.path.dirname(BUNDLED_PATH), "ffi.py")
    )
    if _spec is None or _spec.loader is None:  # pragma: no cover - a wheel without ffi.py
        raise
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    ffi = _module.ffi
    bundled_lib = None
    bundled_error = error
else:
    ffi = _generated_ffi
    bundled_lib = _generated_lib
    bundled_error = None


def enum_values(c_type: str, prefix: str) -> Dict[str, int]:
    """The values of a camb.h enum by name without its prefix:
    ``enum_values("enum camb_status", "CAMB_STATUS_")["PENDING"] == 1``."""
    elements: Dict[str, int] = ffi.typeof(c_type).relements
    return {name[len(prefix) :]: value for name, value in elements.items() if name.startswith(prefix)}


#: camb_result by name: RESULT["NOT_FOUND"] is CAMB_RESULT_NOT_FOUND.
RESULT = enum_values("enum camb_result", "CAMB_RESULT_")
#: camb_event by name: EVENT["JOB_DONE"] is CAMB_EVENT_JOB_DONE.
EVENT = enum_values("enum camb_event", "CAMB_EVENT_")
