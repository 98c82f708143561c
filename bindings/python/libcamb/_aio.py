"""asyncio: libcamb jobs, one camb_queue per event loop.

Each coroutine of the Client makes a libcamb job and submits it to the running
loop's queue; the job runs on the client's job threads, and the loop watches
the queue's readiness descriptor (``camb_queue_fd``, ``loop.add_reader``), so
the loop's own thread takes the finished job, copies its outcome into the
awaited future and frees it. No thread is made per call, and no libcamb
thread runs Python code for it (but a log callable, for the lines of the
job's steps). A streaming job (``speak_async``) also tells of its audio
through the queue (``CAMB_EVENT_JOB_DATA``), which wakes its reader on the
loop's thread; only ``CAMB_EVENT_JOB_DONE`` ends a job. Cancelling the
awaiting task (``task.cancel()``, ``asyncio.wait_for``'s timeout) cancels the
job at once, even a wait asleep between polls; the job still comes back
through the queue, and is freed there.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import weakref
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, TypeVar, Union

from ._convert import NULL, data, language_list, object_text, speech_info, speech_info_out, task_info, voice_list
from ._errors import CambError, InternalError, TaskFailed, error_for, invalid
from ._ffi import EVENT, RESULT, ffi
from ._handle import Handle
from ._library import _Library, check
from ._values import Language, Progress, SpeechInfo, Status, TaskInfo, Voice

T = TypeVar("T")
#: ``make(lib, client, out_job)``: a camb_client_job_* call, its result code.
MakeJob = Callable[[_Library, Any, Any], int]
#: ``read(lib, job)``: the value of a job that succeeded, copied out of it.
ReadJob = Callable[[_Library, Any], T]
#: An async form's ``on_progress``: a function or a coroutine function.
AsyncProgressCallback = Callable[[Progress], Union[Optional[bool], Awaitable[Optional[bool]]]]
#: ``on_event(event, job)``: told on the loop's thread of a streaming job's
#: ``CAMB_EVENT_JOB_DATA`` events (the job stays libcamb's), and of its
#: ``CAMB_EVENT_JOB_DONE`` right before the job is read and freed, while its
#: caller still waits. It must not hold the job after it returns.
OnEvent = Callable[[int, Any], None]


def _address(ptr: Any) -> int:
    return int(ffi.cast("uintptr_t", ptr))


class _Pending:
    """A job submitted to a loop's queue and not handed back yet, and the future
    its caller awaits. What progress needs is copied when it comes back."""

    __slots__ = ("job", "address", "future", "read", "on_event", "polls", "status", "status_text", "result")

    def __init__(
        self, job: Any, future: asyncio.Future[Any], read: ReadJob[Any], on_event: Optional[OnEvent] = None
    ) -> None:
        self.job = job
        self.address = _address(job)
        self.future = future
        self.read = read
        self.on_event = on_event
        self.polls: Optional[int] = None
        self.status: Optional[int] = None
        self.status_text: Optional[str] = None
        self.result: Optional[int] = None


# Which queue serves a loop, for finding it: weak both ways, so that it keeps
# neither alive (the loop's reader holds the queue). Each queue keeps its own jobs.
_loop_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakValueDictionary[_Library, _LoopQueue]] = (
    weakref.WeakKeyDictionary()
)
_loop_queues_lock = threading.Lock()


def _free_queue(lib: _Library, queue: Any) -> None:
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
    def of(cls, lib: _Library, loop: asyncio.AbstractEventLoop) -> _LoopQueue:
        with _loop_queues_lock:
            queues = _loop_queues.get(loop)
            if queues is None:
                queues = _loop_queues[loop] = weakref.WeakValueDictionary()
            queue = queues.get(lib)
            if queue is None:
                queue = cls(lib, loop)
                queues[lib] = queue
            return queue

    def __init__(self, lib: _Library, loop: asyncio.AbstractEventLoop) -> None:
        out_queue = ffi.new("camb_queue **")
        check(lib, lib.camb_queue_new(out_queue))
        queue = out_queue[0]
        self._lib = lib
        self._loop = weakref.ref(loop)  # the loop holds this object (its reader), not the reverse
        self._queue: Any = queue
        self._free = weakref.finalize(self, _free_queue, lib, queue)
        self._jobs: Dict[int, _Pending] = {}  # job address -> _Pending, from submit until handed back
        self._fd: int = lib.camb_queue_fd(queue)
        try:
            loop.add_reader(self._fd, self._drain)
        except BaseException:
            self._free()
            raise

    def submit(
        self,
        make: Callable[[Any], int],
        read: ReadJob[Any],
        loop: asyncio.AbstractEventLoop,
        on_event: Optional[OnEvent] = None,
    ) -> _Pending:
        """Makes a job with ``make(out_job)`` (a camb_client_job_* call returning
        its result code) and submits it; ``read(lib, job)`` will copy its value
        out once it succeeded, and ``on_event`` is told of its events (see
        OnEvent). Raises the constructor's or submit's error."""
        lib = self._lib
        try:
            out_job = ffi.new("camb_job **")
            check(lib, make(out_job))
            job = out_job[0]
            try:
                pending = _Pending(job, loop.create_future(), read, on_event)
                # user_data is unused: the queue hands back the very handle.
                check(lib, lib.camb_job_submit(job, self._queue, NULL))
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
        event = ffi.new("camb_event *")
        out_job = ffi.new("camb_job **")
        try:
            while self._queue is not None:
                if lib.camb_queue_pop(self._queue, event, out_job) != RESULT["OK"]:
                    break  # NOT_READY: the descriptor is no longer readable
                job = out_job[0]
                if event[0] != EVENT["JOB_DONE"]:
                    # Not an end (a streaming job's data): the job stays libcamb's.
                    self._tell(event[0], job)
                    continue
                pending = self._jobs.pop(_address(job), None)
                if pending is None:
                    # Every job submitted here is in _jobs until it comes back:
                    # this cannot happen. Handed back, the job is ours to free.
                    lib.camb_job_free(job)
                    continue
                self._deliver(pending, job)
        finally:
            self._close_if_idle()

    def _tell(self, event: int, job: Any) -> None:
        """Tells a job's ``on_event`` of an event that does not end it, while its caller waits."""
        pending = self._jobs.get(_address(job))
        if pending is None or pending.on_event is None or pending.future.done():
            return
        try:
            pending.on_event(event, job)
        except Exception as e:  # noqa: BLE001 - handed to the waiting caller, whose job is cancelled
            pending.future.set_exception(e)
            self.cancel(pending)

    def _deliver(self, pending: _Pending, job: Any) -> None:
        """Copies a finished job's outcome, frees the job, resolves the future."""
        lib = self._lib
        value: Any = None
        error: Optional[BaseException] = None
        try:
            pending.polls = lib.camb_job_polls(job)
            pending.status = lib.camb_job_task_status(job)
            code = pending.result = lib.camb_job_result(job)
            if pending.polls:  # a wait or a generation: its task's status as sent, for progress
                task = lib.camb_job_task(job)
                if task != NULL:
                    pending.status_text = object_text(lib.camb_task_status_text, task)
            if not pending.future.done():  # else its caller stopped waiting: nothing to read
                if pending.on_event is not None:
                    pending.on_event(EVENT["JOB_DONE"], job)  # while the job is still there
                if code == RESULT["OK"]:
                    value = pending.read(lib, job)
                else:
                    error = _job_error(lib, job, code)
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
        if self._jobs or self._queue is None:
            return
        loop = self._loop()
        with _loop_queues_lock:
            queues = _loop_queues.get(loop) if loop is not None else None
            if queues is not None and queues.get(self._lib) is self:
                del queues[self._lib]
                if not queues and loop is not None:
                    del _loop_queues[loop]
        self._queue = None
        try:
            if loop is not None:
                loop.remove_reader(self._fd)  # a closed loop has no readers left: a no-op
        finally:
            self._free()


def _job_error(lib: _Library, job: Any, code: int) -> CambError:
    """The exception for a failed job, its words copied out of the job."""
    message = object_text(lib.camb_job_error, job) or ""
    error = error_for(code, message, lib.camb_job_http_status(job))
    if isinstance(error, TaskFailed):
        error.status = Status._from_c(lib.camb_job_task_status(job))
    return error


# -- what a finished job holds ------------------------------------------------


def job_task_info(lib: _Library, job: Any) -> TaskInfo:
    """The task of a status, wait or generate job (owned by the job: never freed here)."""
    task = lib.camb_job_task(job)
    if task == NULL:
        raise InternalError(RESULT["PANIC"], "libcamb handed back a successful job without its task")
    return task_info(lib, task)


def job_task_id(lib: _Library, job: Any) -> str:
    task_id = object_text(lib.camb_job_task_id, job)
    if task_id is None:
        raise InternalError(RESULT["PANIC"], "libcamb handed back a successful job without its task id")
    return task_id


def job_bytes(lib: _Library, job: Any) -> int:
    size: int = lib.camb_job_bytes(job)
    return size


def job_audio(lib: _Library, job: Any) -> bytes:
    length = ffi.new("size_t *")
    audio = lib.camb_job_audio(job, length)
    if audio == NULL:
        raise InternalError(RESULT["PANIC"], "libcamb handed back a successful download without its audio")
    return data(audio, length[0])


def job_audio_url(lib: _Library, job: Any) -> str:
    url = object_text(lib.camb_job_audio_url, job)
    if url is None:
        raise InternalError(RESULT["PANIC"], "libcamb handed back a successful job without its URL")
    return url


def job_speech_info(lib: _Library, job: Any) -> SpeechInfo:
    """What a speech job tells of its audio: a streaming one's at any time (so
    far), a save's once it succeeded."""
    info = speech_info_out()
    check(lib, lib.camb_job_speech_info(job, info))
    return speech_info(info)


def job_voice_list(lib: _Library, job: Any) -> List[Voice]:
    voices = lib.camb_job_voice_list(job)  # the job's: read, never freed
    if voices == NULL:
        raise InternalError(RESULT["PANIC"], "libcamb handed back a successful job without its voices")
    return voice_list(lib, voices)


def job_language_list(lib: _Library, job: Any) -> List[Language]:
    languages = lib.camb_job_language_list(job)  # the job's: read, never freed
    if languages == NULL:
        raise InternalError(RESULT["PANIC"], "libcamb handed back a successful job without its languages")
    return language_list(lib, languages)


# -- running one ---------------------------------------------------------------


def start_job(
    lib: _Library,
    handle: Handle,
    make: MakeJob,
    read: ReadJob[Any],
    loop: asyncio.AbstractEventLoop,
    on_event: Optional[OnEvent] = None,
) -> Tuple[_LoopQueue, _Pending]:
    """Makes a job with ``make(lib, client, out_job)`` and submits it to the
    loop's queue: the queue, and the job's record there, whose future gets
    what ``read(lib, job)`` copies out of it once it succeeded. Raises a
    refusal of the job's arguments at once."""
    queue = _LoopQueue.of(lib, loop)

    def make_on_client(out_job: Any) -> int:
        with handle.use() as client:
            return make(lib, client, out_job)

    return queue, queue.submit(make_on_client, read, loop, on_event)


async def run_job(
    lib: _Library,
    handle: Handle,
    make: MakeJob,
    read: ReadJob[T],
    on_progress: Optional[AsyncProgressCallback] = None,
    progress_interval: float = 0.1,
) -> T:
    """Makes a job with ``make(lib, client, out_job)``, submits it to the
    running loop's queue and awaits what ``read(lib, job)`` copies out of it
    once it succeeded. Raises a refusal of the job's arguments at once."""
    if on_progress is not None:
        if not callable(on_progress):
            raise TypeError("on_progress must be callable")
        progress_interval = float(progress_interval)
        if not progress_interval > 0:
            raise invalid(f"progress_interval must be positive, not {progress_interval}")
    loop = asyncio.get_running_loop()
    started_at = loop.time()
    queue, pending = start_job(lib, handle, make, read, loop)
    try:
        if on_progress is None:
            result: T = await pending.future
            return result
        followed: T = await _follow(lib, queue, pending, on_progress, progress_interval, loop, started_at)
        return followed
    except BaseException:
        queue.abandon(pending)  # cancelled if still running; freed when it comes back
        raise


async def _follow(
    lib: _Library,
    queue: _LoopQueue,
    pending: _Pending,
    on_progress: AsyncProgressCallback,
    interval: float,
    loop: asyncio.AbstractEventLoop,
    started_at: float,
) -> Any:
    """Awaits a job while a timer of the loop reports its progress, read from
    the running job (camb_job_polls, camb_job_task_status), then reports the
    finished job once more, as ``done``, unless the wait was stopped."""
    told_status: Optional[Status] = None

    def report(polls: int, status: Optional[Status], status_text: Optional[str], done: bool) -> Progress:
        nonlocal told_status
        changed = status is not None and status is not told_status
        if status is not None:
            told_status = status
        if status_text is None and status is not None and status is not Status.UNKNOWN:
            status_text = status.name  # a known status's wire name is its name ("PENDING")
        return Progress(
            polls=polls,
            elapsed_ms=int((loop.time() - started_at) * 1000),
            poll_result=None,
            status=status,
            status_text=status_text,
            error_message=None,
            status_changed=changed,
            done=done,
            next_poll_in_ms=0 if done else None,
        )

    told_polls = 0
    stopped = False
    while not pending.future.done():
        await asyncio.wait((pending.future,), timeout=interval)
        if not queue.holds(pending):
            break  # handed back (and freed) meanwhile
        polls = lib.camb_job_polls(pending.job)
        if polls == told_polls:
            continue
        status = Status._from_c(lib.camb_job_task_status(pending.job))
        # UNKNOWN: no poll saw a status yet, or a final one this version does
        # not know. A final status ends the job: the last report tells it.
        if status is not Status.PENDING:
            continue
        told_polls = polls
        answer = on_progress(report(polls, status, None, False))
        if inspect.isawaitable(answer):
            answer = await answer
        if answer is False:
            stopped = True
            queue.cancel(pending)  # handed back soon, as Cancelled
    await asyncio.wait((pending.future,))
    if not stopped and pending.polls and pending.result != RESULT["CANCELLED"]:
        # The job ended by itself: a final status, a failure that does not go
        # away, or the deadline. What the last polls saw (an answer now changes
        # nothing: the job is over).
        final: Optional[Status] = Status._from_c(pending.status) if pending.status is not None else None
        if final is Status.UNKNOWN and pending.status_text is None:
            final = None  # no poll saw a status (one it does not know comes with the task)
        answer = on_progress(report(pending.polls, final, pending.status_text, True))
        if inspect.isawaitable(answer):
            await answer
    return pending.future.result()
