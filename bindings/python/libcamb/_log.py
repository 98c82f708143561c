"""A client's log callable, the one piece of the caller's code that libcamb runs
on its own threads (``camb_client_builder_set_log``).

libcamb is given two C functions made once for the whole package, the line
and the finalizer, and as ``user_data`` a cffi handle of the client's
:class:`_LogHook`. The hook is held here from the moment libcamb has it until
libcamb calls the finalizer (in ``camb_client_free``, or when the build
fails), after which libcamb never uses that ``user_data`` again: only then is
the hook let go of, whatever became of the Client meanwhile.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable, Optional, Set

from ._convert import text
from ._ffi import ffi
from ._values import LogLevel

LogCallable = Callable[[LogLevel, str], object]

# A Ctrl-C caught in a log callable on the main thread, raised when the
# libcamb call that logged returns (see _handle.Handle.use).
_held_interrupt = False

# Set while this thread runs a log callable: a Client collected then (by the
# garbage collector, on a libcamb thread) must not be freed there, as
# camb_client_free waits for the client's threads.
_in_log_line = threading.local()

# The hooks libcamb may still call: held until their finalizer ran.
_held: Set[_LogHook] = set()
_held_lock = threading.Lock()


def on_main_thread() -> bool:
    # Not threading.current_thread(), which makes a _DummyThread object for each
    # libcamb thread that calls into Python.
    return threading.get_ident() == threading.main_thread().ident


def raise_held_interrupt() -> None:
    global _held_interrupt
    if _held_interrupt and on_main_thread():
        _held_interrupt = False
        raise KeyboardInterrupt


def in_log_line() -> bool:
    return bool(getattr(_in_log_line, "active", False))


class _LogHook:
    """A client's log callable, as libcamb's ``user_data``: the line is called
    on whatever thread logs (the caller's during a blocking call, a pool thread
    for a job), the finalizer once, when libcamb will call neither again."""

    __slots__ = ("callback", "finalized", "handle", "_lock", "_warned", "__weakref__")

    def __init__(self, callback: LogCallable) -> None:
        self.callback: Optional[LogCallable] = callback
        self.finalized = 0  # how many times libcamb called the finalizer
        self._lock = threading.Lock()
        self._warned = False
        self.handle: Any = ffi.new_handle(self)  # user_data: alive as long as this hook

    def _line(self, level: int, line: Any, length: int) -> None:
        # Nothing may escape into C (cffi would print it and go on): the
        # callable's exception is handled here, never re-raised into the call
        # that logged. A log line that failed must not turn a call that worked
        # (a task created and billed) into an exception, and a job's lines
        # have no caller to raise to.
        callback = self.callback
        if callback is None:
            return
        _in_log_line.active = True
        try:
            callback(LogLevel._from_c(level), text(line, length) or "")  # type: ignore[arg-type]
        except BaseException as e:  # noqa: BLE001 - reported below
            self._failed(e)
        finally:
            _in_log_line.active = False

    def _finalize(self) -> None:
        # libcamb is done with this hook: the callable goes.
        self.finalized += 1
        self.callback = None

    def _failed(self, error: BaseException) -> None:
        global _held_interrupt
        try:
            if isinstance(error, KeyboardInterrupt) and on_main_thread():
                # Ctrl-C reached Python inside the callable, the first Python code
                # the main thread ran since it was pressed. Not lost: raised once
                # the libcamb call returns (Handle.use). Raising it again here
                # (signal, interrupt_main) would only land inside this callback.
                _held_interrupt = True
                return
            with self._lock:
                first, self._warned = not self._warned, True
            if first:
                warnings.warn(
                    f"libcamb: the log callable raised {error!r}; the line was dropped, and this client "
                    "ignores this and any later exception from it",
                    RuntimeWarning,
                    stacklevel=2,
                )
        except BaseException:  # noqa: BLE001 - e.g. warnings turned into errors: nowhere to go
            pass


def hold(hook: _LogHook) -> None:
    """Keeps the hook (and its handle) alive: libcamb is about to be given it."""
    with _held_lock:
        _held.add(hook)


def release(hook: _LogHook) -> None:
    """Lets go of a hook libcamb will not call (its finalizer ran, or it was refused)."""
    with _held_lock:
        _held.discard(hook)


def _line(level: int, line: Any, length: int, user_data: Any) -> None:
    hook: _LogHook = ffi.from_handle(user_data)
    hook._line(level, line, length)


def _finalizer(user_data: Any) -> None:
    hook: _LogHook = ffi.from_handle(user_data)
    try:
        hook._finalize()
    finally:
        release(hook)


#: The C functions given to camb_client_builder_set_log (camb_log_fn,
#: camb_finalizer_fn): made once for the package, never freed.
c_line: Any = ffi.callback("camb_log_fn", _line)
c_finalizer: Any = ffi.callback("camb_finalizer_fn", _finalizer)
