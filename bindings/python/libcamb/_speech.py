"""Streaming text-to-speech: the audio of a ``camb_client_job_speak()`` job,
read as it arrives, by a blocking iterator (its own ``camb_queue``) or an
asyncio one (the loop's queue, see _aio.py).

libcamb holds at most 256 KiB of a job's audio: when the reader falls that far
behind, the job stops reading the network until it catches up. So a stream that
is left unread holds one of the client's job threads, and the server's reply,
until it is closed: every way out of one (its end, ``close()``, a ``break``,
an exception, Ctrl-C, garbage collection) cancels its job, and frees it.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Deque, Optional, Type, TypeVar

from ._aio import MakeJob, _job_error, _LoopQueue, _Pending, job_speech_info, start_job
from ._convert import NULL, data
from ._errors import Cancelled
from ._ffi import EVENT, RESULT, ffi
from ._library import _Library, check, last_error
from ._values import SpeechInfo

if TYPE_CHECKING:
    from ._client import Client

_Stream = TypeVar("_Stream", bound="SpeechStream")
_AsyncStream = TypeVar("_AsyncStream", bound="AsyncSpeechStream")

#: The most bytes of audio one chunk holds (what one camb_job_read_audio moves).
CHUNK_BYTES = 64 * 1024
#: A blocking stream waits for its queue in slices this long, so that Ctrl-C
#: (which Python sees only between C calls) stops it within one.
_WAIT_SLICE_MS = 100
#: How long close() waits for a cancelled job to come back, to free it itself.
#: libcamb sees a cancel between two chunks of the reply: a server that stalls
#: can take longer, and the job is then freed by libcamb once it ends.
_CLOSE_WAIT_S = 1.0


def read_audio(lib: _Library, job: Any, buffer: Any) -> bytes:
    """The audio of a streaming job waiting now (at most the buffer's size), or b""."""
    read = ffi.new("size_t *")
    check(lib, lib.camb_job_read_audio(job, buffer, len(buffer), read))
    return data(buffer, read[0]) if read[0] else b""


class SpeechStream:
    """The audio of :meth:`Client.speak`, as it arrives: an iterator of
    ``bytes`` chunks (of any size, at most 64 KiB), in order.

    The speech runs as a libcamb job from the moment ``speak`` returns; the
    iterator blocks until audio comes. An error before any audio (a 422 with the
    server's words, an unknown voice) or after some (a stream cut short:
    :class:`ConnectionFailed`) is raised by the iteration, once the audio that
    came before it has been given; the stream has then ended.

    ``info`` tells what is known of the audio so far (its format, rate,
    channels, credits, bytes), and all of it once the stream has ended.

    Use it as a context manager, or call ``close()``: leaving the stream before
    its end (``break``, an exception, Ctrl-C) cancels the speech and frees its
    job, as does garbage collection. A stream closed before its end raises
    :class:`Cancelled` if it is iterated again: it never looks complete. Iterate
    it on one thread at a time; ``close()`` may come from another thread, and
    the iteration there then ends with :class:`Cancelled`.
    """

    def __init__(self, client: Client, make: MakeJob) -> None:
        lib = self._lib = client._lib
        # The Client is held: collected, it would cancel the job.
        self._client: Optional[Client] = client
        self._lock = threading.Lock()  # one reader (or close) at a time
        self._job_lock = threading.Lock()  # a cancel never overlaps the free
        self._job: Any = None  # until freed (or its queue was)
        self._queue: Any = None
        self._in_flight = False  # submitted, not handed back: libcamb's
        self._cancelled = False  # camb_job_cancel was called (once is enough)
        self._readable = False  # audio may be read (a data event came, or the end)
        self._stopped_early = False  # released before its end: cancelled
        self._info: Optional[SpeechInfo] = None  # what it told last, kept when it is freed
        self._event: Any = ffi.new("camb_event *")
        self._out_job: Any = ffi.new("camb_job **")
        self._buffer: Any = ffi.new("uint8_t[]", CHUNK_BYTES)
        out_queue = ffi.new("camb_queue **")
        check(lib, lib.camb_queue_new(out_queue))
        queue = out_queue[0]
        try:
            out_job = ffi.new("camb_job **")
            with client._handle.use() as c_client:
                check(lib, make(lib, c_client, out_job))
            job = out_job[0]
            try:
                # user_data is unused: the queue serves this job alone.
                check(lib, lib.camb_job_submit(job, queue, NULL))
            except BaseException:
                lib.camb_job_free(job)  # refused: still ours (submitted: this only cancels it)
                raise
        except BaseException:
            lib.camb_queue_free(queue)  # with a job in flight, libcamb frees it when it ends
            raise
        self._job, self._queue, self._in_flight = job, queue, True

    # -- reading -----------------------------------------------------------

    def __iter__(self: _Stream) -> _Stream:
        return self

    def __next__(self) -> bytes:
        with self._lock:
            try:
                return self._next()
            except StopIteration:
                raise
            except BaseException:
                # The job's error (it is freed already), or Ctrl-C while
                # waiting: then the job is cancelled at once, and freed by
                # libcamb when it stops.
                self._release(wait_s=0)
                raise

    def _next(self) -> bytes:
        lib = self._lib
        while True:
            if self._job is None:
                if self._stopped_early:
                    raise _closed_early()
                raise StopIteration  # ended
            if self._readable:
                chunk = read_audio(lib, self._job, self._buffer)
                if chunk:
                    return chunk
            if not self._in_flight:
                # Handed back and all its audio read: its outcome ends the stream.
                self._finish()
                raise StopIteration
            self._wait()

    def _wait(self) -> None:
        """Waits a slice for the next event of the job and takes it."""
        lib = self._lib
        self._event[0] = 0
        code = lib.camb_queue_wait(self._queue, _WAIT_SLICE_MS, self._event, self._out_job)
        self._take_event()
        if code not in (RESULT["OK"], RESULT["TIMEOUT"]):
            raise last_error(lib, code)

    def _take_event(self) -> None:
        """Notes the event the last wait wrote, once: also after an interruption
        that came between the wait's return and this."""
        event = self._event[0]
        self._event[0] = 0
        if event == EVENT["JOB_DONE"]:
            with self._job_lock:
                self._in_flight = False  # ours again
        if event in (EVENT["JOB_DATA"], EVENT["JOB_DONE"]):
            self._readable = True

    def _finish(self) -> None:
        """Frees the job handed back, and raises its error if it failed."""
        lib = self._lib
        job = self._job
        error: Optional[BaseException] = None
        try:
            code = lib.camb_job_result(job)
            if code != RESULT["OK"]:
                error = _job_error(lib, job, code)
        finally:
            self._release(wait_s=0)
        if error is not None:
            raise error

    # -- what it tells -------------------------------------------------------

    @property
    def info(self) -> SpeechInfo:
        """What is known of the audio so far (``camb_job_speech_info``); all of
        it once the stream has ended."""
        with self._job_lock:
            if self._job is not None:
                self._info = job_speech_info(self._lib, self._job)
            if self._info is None:  # freed before it could tell: not seen
                raise Cancelled(RESULT["CANCELLED"], "the speech stream was closed before it told anything")
            return self._info

    @property
    def closed(self) -> bool:
        """True once the stream has ended or was closed."""
        return self._job is None

    # -- ending --------------------------------------------------------------

    def close(self) -> None:
        """Stops the speech if it is still running (its job is cancelled: the
        server's reply is dropped at its next chunk), and frees its job.
        Idempotent. From another thread, it also ends an iteration there."""
        self._cancel()  # wakes a reader on another thread, which holds the lock
        with self._lock:
            self._release(wait_s=_CLOSE_WAIT_S)

    def _cancel(self) -> None:
        with self._job_lock:
            if self._in_flight and self._job is not None and not self._cancelled:
                self._cancelled = True
                self._lib.camb_job_cancel(self._job)

    def _release(self, wait_s: float) -> None:
        """Frees the job and the queue, once. A job still in flight is cancelled
        and waited for up to ``wait_s`` seconds, and freed here if it came back;
        otherwise freeing its queue has libcamb free it when it ends."""
        lib = self._lib
        self._take_event()
        job, queue = self._job, self._queue
        if job is None:
            return
        try:
            try:
                self._info = job_speech_info(lib, job)
            except Exception:  # noqa: BLE001 - what it told before stands
                pass
            if self._in_flight:
                self._stopped_early = True
                self._cancel()
                deadline = time.monotonic() + wait_s
                while self._in_flight and time.monotonic() < deadline:
                    self._wait()  # its data is not read: it is being dropped
        finally:
            self._take_event()  # an interruption right after a wait
            with self._job_lock:
                self._job = self._queue = None
            self._readable = False
            self._client = None
            if not self._in_flight:
                lib.camb_job_free(job)
            lib.camb_queue_free(queue)

    def __enter__(self: _Stream) -> _Stream:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Unreachable, so no call is using it: cancelled and freed without a wait.
        try:
            if getattr(self, "_job", None) is not None:
                self._release(wait_s=0)
        except Exception:  # noqa: BLE001 - nothing to report to from __del__
            pass

    def __repr__(self) -> str:
        return f"<libcamb.SpeechStream{' closed' if self.closed else ''}>"


class _StreamState:
    """What an AsyncSpeechStream's job tells it through the loop's queue. Apart
    from the stream, which the queue (holding this until the job comes back)
    must not keep alive: a stream let go of is collected, and its job cancelled."""

    __slots__ = ("lib", "buffer", "readable", "tail", "info", "waiter")

    def __init__(self, lib: _Library) -> None:
        self.lib = lib
        self.buffer: Any = ffi.new("uint8_t[]", CHUNK_BYTES)
        self.readable = False  # audio may be read (a data event came, or the end)
        self.tail: Deque[bytes] = collections.deque()  # the audio left when the job ended
        self.info: Optional[SpeechInfo] = None  # what it told last, kept when it is freed
        self.waiter: Optional[asyncio.Future[None]] = None  # the reader's, woken by an event

    def on_event(self, event: int, job: Any) -> None:
        try:
            if event == EVENT["JOB_DONE"]:
                # The job is freed right after this: what it holds is copied now.
                self.info = job_speech_info(self.lib, job)
                chunk = read_audio(self.lib, job, self.buffer)
                while chunk:
                    self.tail.append(chunk)
                    chunk = read_audio(self.lib, job, self.buffer)
        finally:
            self.readable = True
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)


class AsyncSpeechStream:
    """The audio of :meth:`Client.speak_async`, as it arrives: an async
    iterator of ``bytes`` chunks (at most 64 KiB each), in order, with the
    meaning of :class:`SpeechStream`.

    The speech runs as a libcamb job on the client's threads from the moment
    ``speak_async`` returns; its audio is told through the event loop's queue
    and read on the loop's thread, as the iteration asks for it. ``info`` as
    for :class:`SpeechStream`.

    ``async with`` it, or ``await stream.aclose()``: leaving it before its end
    cancels the speech, as does cancelling the task that iterates it, or
    letting go of it (garbage collection). Iterate it on its loop only.
    """

    def __init__(self, client: Client, make: MakeJob) -> None:
        self._lib = client._lib
        self._client: Optional[Client] = client  # collected, it would cancel the job
        self._loop = asyncio.get_running_loop()
        self._state = _StreamState(self._lib)
        self._closed = False
        self._stopped_early = False  # closed before its end: cancelled
        self._queue: _LoopQueue
        self._pending: _Pending
        self._queue, self._pending = start_job(
            self._lib, client._handle, make, job_speech_info, self._loop, self._state.on_event
        )

    def __aiter__(self: _AsyncStream) -> _AsyncStream:
        return self

    async def __anext__(self) -> bytes:
        state, pending = self._state, self._pending
        try:
            while True:
                if state.tail:
                    return state.tail.popleft()
                if self._closed:
                    if self._stopped_early:
                        raise _closed_early()
                    raise StopAsyncIteration
                if pending.future.done():
                    # The job came back and was freed; its audio is all given.
                    self._close()
                    error = None if pending.future.cancelled() else pending.future.exception()
                    if error is not None:
                        raise error
                    raise StopAsyncIteration
                # In flight (until its future is resolved): libcamb's, readable.
                if state.readable:
                    chunk = read_audio(self._lib, pending.job, state.buffer)
                    if chunk:
                        return chunk
                state.waiter = self._loop.create_future()
                await state.waiter  # a data event, or the end
        except StopAsyncIteration:
            raise
        except BaseException:
            # The job's error (it is back already), or the iterating task was
            # cancelled: so is the job.
            self._close()
            raise

    @property
    def info(self) -> SpeechInfo:
        """What is known of the audio so far; all of it once the stream has ended."""
        if not self._closed and self._queue.holds(self._pending):
            self._state.info = job_speech_info(self._lib, self._pending.job)
        if self._state.info is None:
            raise Cancelled(RESULT["CANCELLED"], "the speech stream was closed before it told anything")
        return self._state.info

    @property
    def closed(self) -> bool:
        """True once the stream has ended or was closed."""
        return self._closed

    async def aclose(self) -> None:
        """Stops the speech if it is still running (its job is cancelled, then
        comes back through the loop's queue and is freed there). Idempotent."""
        self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._client = None
        state, pending = self._state, self._pending
        if self._queue.holds(pending):
            self._stopped_early = True
            try:
                state.info = job_speech_info(self._lib, pending.job)
            except Exception:  # noqa: BLE001 - what it told before stands
                pass
        elif pending.future.done() and not pending.future.cancelled():
            pending.future.exception()  # retrieved: asyncio would log it as never retrieved
        state.tail.clear()
        self._queue.abandon(pending)  # cancelled if still running; freed when it comes back
        if state.waiter is not None and not state.waiter.done():
            state.waiter.set_result(None)  # a reader in another task: it ends, Cancelled

    async def __aenter__(self: _AsyncStream) -> _AsyncStream:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self._close()

    def __del__(self) -> None:
        # Let go of before its end: its job is cancelled, on the loop's thread
        # (where the queue hands it back and frees it).
        try:
            if getattr(self, "_closed", True):
                return
            queue, pending = self._queue, self._pending
            if self._loop.is_closed():
                return  # the loop's queue went with it; libcamb frees the job
            if _running_loop() is self._loop:
                queue.abandon(pending)
            else:
                self._loop.call_soon_threadsafe(queue.abandon, pending)
        except Exception:  # noqa: BLE001 - nothing to report to from __del__
            pass

    def __repr__(self) -> str:
        return f"<libcamb.AsyncSpeechStream{' closed' if self._closed else ''}>"


def _closed_early() -> Cancelled:
    return Cancelled(RESULT["CANCELLED"], "the speech stream was closed before its end")


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
