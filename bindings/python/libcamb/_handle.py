"""C handles freed exactly once, never while a call uses them; and CancelToken."""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType
from typing import Any, Callable, ContextManager, Iterator, Optional, Type, TypeVar

from . import _log
from ._convert import NULL
from ._library import LibraryPath, _Library, check, load

_Token = TypeVar("_Token", bound="CancelToken")


class Handle:
    """A C handle freed exactly once, and never while a call is using it.

    Each call holds it through ``use()``; ``close()`` frees it at once when no call
    is in flight, else the last call to finish frees it. So closing a client while
    another thread still waits on it is safe (the wait finishes first).
    """

    def __init__(self, ptr: Any, free: Callable[[Any], None], what: str) -> None:
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
    def use(self) -> Iterator[Any]:
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
            _log.raise_held_interrupt()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ptr = self._take_if_unused()
        if ptr is not None:
            self._free(ptr)

    def _take_if_unused(self) -> Any:
        # Called with the lock held: hands the pointer over exactly once.
        if self._closed and self._users == 0 and self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            return ptr
        return None


class CancelToken:
    """Stops the blocking calls it is passed to (``cancel=``); ``cancel()`` works
    from any thread and wakes a sleeping wait at once. Stays cancelled until
    ``reset()``. (An async call is cancelled by cancelling its asyncio task.)

    Use it as a context manager, or call ``close()``; it is freed only once no
    call is using it any more.
    """

    def __init__(self, library: Optional[LibraryPath] = None) -> None:
        self._lib = load(library)
        ptr = self._lib.camb_cancel_token_new()
        if ptr == NULL:
            raise MemoryError("camb_cancel_token_new returned NULL")
        self._handle = Handle(ptr, self._lib.camb_cancel_token_free, "CancelToken")

    def cancel(self) -> None:
        with self._handle.use() as ptr:
            check(self._lib, self._lib.camb_cancel_token_cancel(ptr))

    def reset(self) -> None:
        with self._handle.use() as ptr:
            check(self._lib, self._lib.camb_cancel_token_reset(ptr))

    @property
    def cancelled(self) -> bool:
        with self._handle.use() as ptr:
            return bool(self._lib.camb_cancel_token_is_cancelled(ptr))

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        self._handle.close()

    def __enter__(self: _Token) -> _Token:
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
            self._handle.close()
        except Exception:  # noqa: BLE001 - nothing to report to from __del__
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("cancelled" if self.cancelled else "not cancelled")
        return f"<libcamb.CancelToken {state}>"


def token_use(token: Optional[CancelToken], lib: _Library) -> ContextManager[Any]:
    """A context giving the token's pointer (NULL for no token), held for a
    call of ``lib``, the library that made the token."""
    if token is None:
        return contextlib.nullcontext(NULL)
    if not isinstance(token, CancelToken):
        raise TypeError(f"cancel must be a libcamb.CancelToken, not {type(token).__name__}")
    if token._lib is not lib:
        raise ValueError(
            f"the CancelToken was made by {token._lib.path}, the client by {lib.path}: "
            "give both the same library="
        )
    return token._handle.use()
