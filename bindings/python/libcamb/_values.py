"""Plain values: the enums (their values are camb.h's) and the frozen
dataclasses that libcamb's results are copied into."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional, Union

from ._errors import CambError, invalid
from ._ffi import enum_values

_STATUS = enum_values("enum camb_status", "CAMB_STATUS_")
_AUDIO_TYPE = enum_values("enum camb_audio_type", "CAMB_AUDIO_TYPE_")
_LOG_LEVEL = enum_values("enum camb_log_level", "CAMB_LOG_LEVEL_")


class Status(enum.IntEnum):
    """A task's status (``CAMB_STATUS_*``). Every status but PENDING is final."""

    UNKNOWN = _STATUS["UNKNOWN"]  # a status this version does not know; see TaskInfo.status_text
    PENDING = _STATUS["PENDING"]
    SUCCESS = _STATUS["SUCCESS"]
    TIMEOUT = _STATUS["TIMEOUT"]
    ERROR = _STATUS["ERROR"]
    PAYMENT_REQUIRED = _STATUS["PAYMENT_REQUIRED"]

    @property
    def is_final(self) -> bool:
        return self is not Status.PENDING

    @classmethod
    def _from_c(cls, value: int) -> Status:
        try:
            return cls(value)
        except ValueError:  # a value a newer libcamb added: final, like UNKNOWN
            return cls.UNKNOWN


class AudioType(enum.IntEnum):
    """What to generate (``CAMB_AUDIO_TYPE_*``)."""

    DEFAULT = _AUDIO_TYPE["DEFAULT"]  # the server chooses (sound)
    SOUND = _AUDIO_TYPE["SOUND"]  # at most 10 seconds
    MUSIC = _AUDIO_TYPE["MUSIC"]


class LogLevel(enum.IntEnum):
    """How much a ``log`` callable is told (``CAMB_LOG_LEVEL_*``), from the least
    to the most; each level includes the ones before it. ``str()`` gives the
    name in lower case ("debug"), the spelling ``log_level`` also takes."""

    ERROR = _LOG_LEVEL["ERROR"]  # a call failed for good ("given up", and why)
    WARN = _LOG_LEVEL["WARN"]  # a retry was scheduled (why, and the wait)
    INFO = _LOG_LEVEL["INFO"]  # a reply with an error status; a job finished, failed or was cancelled
    DEBUG = _LOG_LEVEL["DEBUG"]  # every request sent, every reply (status, time, connection), every job step

    def __str__(self) -> str:
        return self.name.lower()

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    @classmethod
    def _parse(cls, value: object) -> LogLevel:
        """A LogLevel from itself, its value or its name ("debug", any case;
        "warning" for WARN too); InvalidArgument for anything else."""
        if isinstance(value, bool):
            raise TypeError('log_level must be a libcamb.LogLevel, a name such as "debug", or 1 to 4, not bool')
        if isinstance(value, str):
            name = value.strip().upper()
            member = cls.__members__.get("WARN" if name == "WARNING" else name)
            if member is not None:
                return member
        elif isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                pass
        else:
            raise TypeError(f"log_level must be a libcamb.LogLevel, a name or an int, not {type(value).__name__}")
        raise invalid(f"log_level {value!r} is not one of error, warn, info, debug (1 to 4)")

    @classmethod
    def _from_c(cls, value: int) -> Union[LogLevel, int]:
        try:
            return cls(value)
        except ValueError:  # a level a newer libcamb added: passed on as its number
            return value


@dataclass(frozen=True)
class TaskInfo:
    """A task's status as the server reported it."""

    status: Status
    #: Exactly as sent, e.g. "SUCCESS" or an unknown "QUEUED_FOR_GPU".
    status_text: str
    #: None while pending, or when the server sent none.
    run_id: Optional[int]
    #: e.g. "PROCESSING_ERROR".
    exception_reason: Optional[str] = None
    #: The server's text (an object's compact JSON).
    message: Optional[str] = None

    @property
    def is_final(self) -> bool:
        return self.status.is_final


@dataclass(frozen=True)
class TaskResult:
    """One task of :meth:`Client.get_task_statuses`: either its status (``info``)
    or why it has none (``error``, a :class:`CambError` with its own code, message
    and HTTP status). Exactly one of the two is set."""

    task_id: str  # as asked for
    info: Optional[TaskInfo] = None
    error: Optional[CambError] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> TaskInfo:
        """The status, or the task's own error raised."""
        if self.error is not None:
            raise self.error
        if self.info is None:
            raise ValueError(f"the TaskResult of {self.task_id!r} has neither info nor error")
        return self.info


@dataclass(frozen=True)
class Progress:
    """What ``on_progress`` is told while a task is waited for: by
    :meth:`Client.wait_for_task` and :meth:`Client.generate` after every poll,
    and by their ``*_async`` forms, which sample the running job.

    One shape for both. The blocking forms are told of each poll as it is made,
    on the calling thread. The async forms run as a libcamb job, which tells
    the number of polls and the last status they saw, but not each poll: a
    timer of the event loop reads them every ``progress_interval`` seconds and
    reports when the number of polls has changed while the task is pending,
    and the finished job is reported once more with ``done`` set (unless the
    wait was stopped: cancelled, or ``on_progress`` returned False or raised).
    The fields only a single poll knows (``poll_result``, ``error_message``,
    ``next_poll_in_ms`` before the end) are None there.
    """

    #: Polls so far, this one included.
    polls: int
    #: Milliseconds since the wait began (async: since the call began).
    elapsed_ms: int
    #: 0 when this poll got a status, else the code of its transient failure
    #: (or, with ``done``, of the failure that ends the wait); None in the
    #: async forms, which do not see single polls.
    poll_result: Optional[int]
    #: This poll's status; None when it failed. Async: the last status a poll
    #: saw, None before one did.
    status: Optional[Status]
    #: The status as sent ("PENDING", or one this version does not know).
    status_text: Optional[str]
    #: The transient failure in words, when the poll failed (None in the async forms).
    error_message: Optional[str]
    #: The status differs from the previous report's (always on the first status).
    status_changed: bool
    #: This report ends the wait: no other follows.
    done: bool
    #: Milliseconds until the next poll; 0 when done. None in the async forms
    #: while the wait goes on.
    next_poll_in_ms: Optional[int]

    @property
    def poll_failed(self) -> bool:
        """This poll failed (never in the async forms, which do not see single polls)."""
        return bool(self.poll_result)


#: The name the async forms' progress had in camb.py: the same class now.
JobProgress = Progress


@dataclass(frozen=True)
class Generation:
    """What :meth:`Client.generate` (or ``generate_async``) made: the task, its
    final status, the WAV file."""

    task_id: str
    info: TaskInfo  # status SUCCESS, with its run_id
    path: str  # the file written, as given
    size: int  # its size in bytes


@dataclass(frozen=True)
class SpeechInfo:
    """What a speech (:meth:`Client.speak`, :meth:`Client.speak_to_file`)
    tells about its audio (``camb_speech_info``)."""

    #: The format asked for, and so served: "wav" unless ``format=`` named another.
    format: str
    #: Samples per second: from a WAV or FLAC header once it has arrived; before
    #: that, and for raw PCM, the rate asked for, else the model's (48000 for
    #: mars-pro and the mars-8.1 models, 22050 for mars-flash and
    #: mars-instruct); 0 when none of these tells (raw PCM from an unnamed or
    #: unknown model: pass ``sample_rate=`` to be sure).
    sample_rate: int
    #: From a WAV or FLAC header (0 until it has arrived); 1 for raw PCM.
    channels: int
    #: The credits the request costs (the reply's ``X-Credits-Required``), or
    #: None when the reply did not say (or has not come yet).
    credits: Optional[float]
    #: Bytes of audio received so far (all of it, at the end; the file's size
    #: for :meth:`Client.speak_to_file`).
    bytes: int


@dataclass(frozen=True)
class Voice:
    """A voice of :meth:`Client.list_voices` (``GET /list-voices``). Each
    optional field is None when the server did not say."""

    #: The ``voice_id`` of :meth:`Client.speak`.
    id: int
    name: str
    #: The API's codes: 0 not known, 1 male, 2 female, 9 not applicable.
    gender: Optional[int] = None
    age: Optional[int] = None
    #: A language id (:attr:`Language.id`), not a locale.
    language: Optional[int] = None
    transcript: Optional[str] = None
    description: Optional[str] = None
    is_published: Optional[bool] = None
    #: A URL of a sample of the voice.
    signed_url: Optional[str] = None


@dataclass(frozen=True)
class Language:
    """A language of :meth:`Client.source_languages` or
    :meth:`Client.target_languages`."""

    #: The id the task-based flow takes (and :attr:`Voice.language` gives).
    id: int
    #: Such as "English (United States)".
    name: str
    #: The locale, such as "en-us": the ``language`` of :meth:`Client.speak`
    #: (lower-case it if the server does not).
    short_name: str
