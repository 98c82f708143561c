"""Values across the boundary: Python arguments checked and made into what
camb.h takes, and what libcamb hands back copied into Python values. Memory
handed over by libcamb is never freed here: each caller frees what it got."""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ._errors import InternalError, InvalidArgument, error_for, invalid
from ._ffi import RESULT, enum_values, ffi
from ._library import _Library, check
from ._values import AudioType, Language, Progress, SpeechInfo, Status, TaskInfo, TaskResult, Voice

Text = Union[str, bytes]
StrPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

#: camb_client_get_audio_urls' limit per call (camb.h: "at most 1000").
MAX_URLS_PER_CALL = 1000
_INT64 = (-(2**63), 2**63 - 1)
NULL: Any = ffi.NULL
#: camb_flag by name: FLAG["YES"] is CAMB_FLAG_YES.
FLAG = enum_values("enum camb_flag", "CAMB_FLAG_")
#: camb_languages by name: LANGUAGES["SOURCE"] is CAMB_LANGUAGES_SOURCE.
LANGUAGES = enum_values("enum camb_languages", "CAMB_LANGUAGES_")


# -- arguments ---------------------------------------------------------------


def c_string(value: object, what: str) -> bytes:
    """str (as UTF-8) or bytes for a ``const char *``, refused with
    InvalidArgument if it holds a NUL (C would cut it there)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        value = bytes(value)
    else:
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if b"\0" in value:
        raise invalid(f"{what} contains a NUL character")
    return value


def c_path(path: StrPath, what: str = "path") -> bytes:
    return c_string(os.fsencode(path), what)


def run_id(value: object) -> int:
    return signed(value, "run_id")


def signed(value: object, what: str) -> int:
    """An int for an ``int64_t``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not _INT64[0] <= value <= _INT64[1]:
        raise invalid(f"{what} {value} does not fit in 64 bits")
    return value


def unsigned(value: object, what: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value < 2**bits:
        raise invalid(f"{what} must be between 0 and {2**bits - 1}, not {value}")
    return value


class CreateOptions:
    """A ``camb_create_options`` from libcamb's defaults and the arguments,
    checked, with the strings its fields point to (alive as long as this)."""

    __slots__ = ("ptr", "_strings")

    def __init__(
        self,
        lib: _Library,
        duration: Optional[float],
        audio_type: Optional[Union[AudioType, str]],
        project_name: Optional[str],
        project_description: Optional[str],
        folder_id: Optional[int],
        retry: bool,
    ) -> None:
        self.ptr: Any = options_default(lib, "camb_create_options", lib.camb_create_options_init)
        self._strings: List[Any] = []
        if duration is not None:
            duration = float(duration)
            if not duration > 0:  # also NaN; 0 would mean "the server's default"
                raise invalid(f"duration must be positive, not {duration}")
            self.ptr.duration_s = duration
        if audio_type is not None:
            if isinstance(audio_type, str):
                try:
                    audio_type = AudioType[audio_type.upper()]
                except KeyError:
                    raise invalid(f"audio_type {audio_type!r} is not 'sound' or 'music'") from None
            self.ptr.audio_type = AudioType(audio_type)
        if project_name is not None:
            self.ptr.project_name = self._string(project_name, "project_name")
        if project_description is not None:
            self.ptr.project_description = self._string(project_description, "project_description")
        if folder_id is not None:
            self.ptr.has_folder_id = True
            self.ptr.folder_id = run_id(folder_id)
        self.ptr.retry = bool(retry)

    def _string(self, value: object, what: str) -> Any:
        string = ffi.new("char[]", c_string(value, what))
        self._strings.append(string)
        return string


#: The options of every speech call (Client.speak, speak_to_file and their
#: async forms), each a keyword-only argument of theirs that None leaves
#: unset, by name: its field of camb_speech_options and how it is given.
#: "string": str, NULL when unset; "flag": bool, a camb_flag (CAMB_FLAG_UNSET
#: when unset); "count": an int from 1, 0 when unset; "number": a float, NaN
#: when unset.
SPEECH_OPTIONS: Dict[str, Tuple[str, str]] = {
    "format": ("format", "string"),
    "sample_rate": ("sample_rate", "count"),
    "duration": ("duration_s", "number"),
    "apply_enhancement": ("apply_enhancement", "flag"),
    "speech_model": ("speech_model", "string"),
    "user_instructions": ("user_instructions", "string"),
    "enhance_named_entities": ("enhance_named_entities", "flag"),
    "enhance_reference_audio_quality": ("enhance_reference_audio_quality", "flag"),
    "maintain_source_accent": ("maintain_source_accent", "flag"),
    "apply_ref_loudness_norm": ("apply_ref_loudness_norm", "flag"),
    "speaking_rate": ("speaking_rate", "number"),
    "stability": ("stability", "number"),
    "temperature": ("temperature", "number"),
    "inference_steps": ("inference_steps", "count"),
    "speaker_similarity": ("speaker_similarity", "number"),
    "localize_speaker_weight": ("localize_speaker_weight", "number"),
    "acoustic_quality_boost": ("acoustic_quality_boost", "flag"),
}


class SpeechOptions:
    """A ``camb_speech_options`` from libcamb's defaults (every option unset)
    and the speech options among ``arguments`` (a speech call's arguments by
    name, as ``locals()`` gives them: those of SPEECH_OPTIONS are read, each
    None or its value), checked, with the strings its fields point to (alive
    as long as this). The one place that turns them into C: the four speech
    calls only name them in their signatures."""

    __slots__ = ("ptr", "_strings")

    def __init__(self, lib: _Library, arguments: Mapping[str, object]) -> None:
        self.ptr: Any = options_default(lib, "camb_speech_options", lib.camb_speech_options_init)
        self._strings: List[Any] = []
        for name, (field, kind) in SPEECH_OPTIONS.items():
            value = arguments[name]
            if value is not None:
                setattr(self.ptr, field, self._c_value(name, kind, value))

    def _c_value(self, name: str, kind: str, value: object) -> Any:
        if kind == "string":
            string = ffi.new("char[]", c_string(value, name))
            self._strings.append(string)
            return string
        if kind == "flag":
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool (or None: unset), not {type(value).__name__}")
            return FLAG["YES"] if value else FLAG["NO"]
        if kind == "count":
            count = unsigned(value, name, 32)
            if count == 0:  # 0 is how C says "unset"
                raise invalid(f"{name} must be at least 1 (or None: unset), not 0")
            return count
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number (or None: unset), not {type(value).__name__}")
        number = float(value)
        if math.isnan(number):  # NaN is how C says "unset"
            raise invalid(f"{name} must be a number (or None: unset), not NaN")
        return number


def wait_options(
    lib: _Library,
    initial_interval_ms: Optional[int],
    backoff_factor: Optional[float],
    max_interval_ms: Optional[int],
    deadline_ms: Optional[int],
) -> Any:
    """A ``camb_wait_options *`` from libcamb's defaults and the arguments (None: the default)."""
    options = options_default(lib, "camb_wait_options", lib.camb_wait_options_init)
    if initial_interval_ms is not None:
        options.initial_interval_ms = unsigned(initial_interval_ms, "initial_interval_ms", 64)
    if backoff_factor is not None:
        options.backoff_factor = float(backoff_factor)
    if max_interval_ms is not None:
        options.max_interval_ms = unsigned(max_interval_ms, "max_interval_ms", 64)
    if deadline_ms is not None:
        options.deadline_ms = unsigned(deadline_ms, "deadline_ms", 64)
    return options


def options_default(lib: _Library, c_type: str, init: Callable[[Any, int], int]) -> Any:
    """Options with libcamb's defaults and struct_size set to camb.h's size of
    them: what camb.h's static inline ``_default()`` does for C."""
    options = ffi.new(f"{c_type} *")
    check(lib, init(options, ffi.sizeof(c_type)))
    return options


class Batch:
    """The ids of a batch of statuses as C takes them (``const char *const *``),
    and its results read back."""

    def __init__(self, task_ids: Iterable[Text]) -> None:
        self.ids = list(task_ids)
        # Each result carries the id as the caller gave it (libcamb's
        # camb_task_id() is "" for an id it could not read).
        self.given = [_given(i) for i in self.ids]
        # An id C cannot hold (a NUL inside) fails its own entry, like one libcamb refuses.
        self.refused: Dict[int, TaskResult] = {}
        self._strings: List[Any] = []
        for i, task_id in enumerate(self.ids):
            try:
                self._strings.append(ffi.new("char[]", c_string(task_id, "task_id")))
            except InvalidArgument as e:
                self.refused[i] = TaskResult(task_id=self.given[i], error=e)
                self._strings.append(NULL)  # libcamb fails this entry alone; replaced by the refusal
        self.count = len(self._strings)
        self.c_ids: Any = ffi.new("char *[]", self._strings)

    def results(self, lib: _Library, task_list: Any) -> List[TaskResult]:
        """One TaskResult per id, copied out of a camb_task_list (not freed here)."""
        count = lib.camb_task_list_len(task_list)
        if count != len(self.ids):
            raise InternalError(RESULT["PANIC"], f"libcamb returned {count} statuses for {len(self.ids)} task ids")
        # The tasks belong to the list: read each, never free one.
        return [
            self.refused[i] if i in self.refused else task_result(lib, lib.camb_task_list_get(task_list, i), self.given[i])
            for i in range(count)
        ]


def _given(task_id: object) -> str:
    if isinstance(task_id, (bytes, bytearray)):
        return bytes(task_id).decode("utf-8", "replace")
    return task_id if isinstance(task_id, str) else repr(task_id)  # not str: refused by c_string


# -- results -----------------------------------------------------------------


def text(ptr: Any, length: int) -> Optional[str]:
    """A pointer + length string from libcamb (valid only now; it may hold a
    NUL), or None for NULL."""
    if ptr == NULL:
        return None
    data: bytes = ffi.buffer(ptr, length)[:]
    return data.decode("utf-8", "replace")


def data(ptr: Any, length: int) -> bytes:
    """Bytes from libcamb (valid only now), copied."""
    copied: bytes = ffi.buffer(ptr, length)[:]
    return copied


def object_text(accessor: Callable[[Any, Any], Any], owner: Any) -> Optional[str]:
    """One string of a camb_task or camb_job through its accessor, read by its
    length, or None when the accessor returns NULL."""
    length = ffi.new("size_t *")
    ptr = accessor(owner, length)
    return text(ptr, length[0])


def task_info(lib: _Library, task: Any) -> TaskInfo:
    """A camb_task that has a status (camb_task_result() is OK), copied out.
    The task stays its owner's to free."""
    out_run_id = ffi.new("int64_t *")
    has_run_id = lib.camb_task_run_id(task, out_run_id)
    return TaskInfo(
        status=Status._from_c(lib.camb_task_status(task)),
        status_text=object_text(lib.camb_task_status_text, task) or "",
        run_id=out_run_id[0] if has_run_id else None,
        exception_reason=object_text(lib.camb_task_exception_reason, task),
        message=object_text(lib.camb_task_message, task),
    )


def task_result(lib: _Library, task: Any, task_id: str) -> TaskResult:
    """A camb_task of a batch, copied out: its status, or its own error."""
    code = lib.camb_task_result(task)
    if code == RESULT["OK"]:
        return TaskResult(task_id=task_id, info=task_info(lib, task))
    message = object_text(lib.camb_task_error, task) or ""
    return TaskResult(task_id=task_id, error=error_for(code, message, lib.camb_task_http_status(task)))


def url_list(lib: _Library, urls: Any, into: Dict[int, Optional[str]]) -> None:
    """The entries of a camb_audio_url_list, copied into ``into`` (not freed here)."""
    out_run_id = ffi.new("int64_t *")
    length = ffi.new("size_t *")
    for i in range(lib.camb_audio_url_list_len(urls)):
        ptr = lib.camb_audio_url_list_get(urls, i, out_run_id, length)
        into[out_run_id[0]] = text(ptr, length[0])


def progress(p: Any) -> Progress:
    """A ``camb_wait_progress`` copied out (it is valid only during the callback)."""
    ok = p.poll_result == RESULT["OK"]
    return Progress(
        polls=p.polls,
        elapsed_ms=p.elapsed_ms,
        poll_result=p.poll_result,
        status=Status._from_c(p.status) if ok else None,
        status_text=text(p.status_text, p.status_text_len),
        error_message=text(p.error_message, p.error_message_len),
        status_changed=bool(p.status_changed),
        done=bool(p.done),
        next_poll_in_ms=p.next_poll_in_ms,
    )


def speech_info_out() -> Any:
    """A ``camb_speech_info *`` for libcamb to fill, its struct_size set."""
    info = ffi.new("camb_speech_info *")
    info.struct_size = ffi.sizeof("camb_speech_info")
    return info


def speech_info(info: Any) -> SpeechInfo:
    """A filled ``camb_speech_info`` copied out."""
    return SpeechInfo(
        format=ffi.string(info.format).decode("utf-8", "replace"),
        sample_rate=info.sample_rate,
        channels=info.channels,
        credits=float(info.credits) if info.has_credits else None,
        bytes=info.bytes,
    )


def _known(accessor: Callable[[Any, Any], bool], owner: Any) -> Optional[int]:
    """An optional int64 through its accessor (``bool f(owner, int64_t *out)``)."""
    out = ffi.new("int64_t *")
    return int(out[0]) if accessor(owner, out) else None


def voice_list(lib: _Library, voices: Any) -> List[Voice]:
    """The voices of a camb_voice_list, copied out (the list is not freed here)."""
    is_published = {FLAG["YES"]: True, FLAG["NO"]: False}
    copied = []
    for i in range(lib.camb_voice_list_len(voices)):
        voice = lib.camb_voice_list_get(voices, i)
        copied.append(
            Voice(
                id=lib.camb_voice_id(voice),
                name=object_text(lib.camb_voice_name, voice) or "",
                gender=_known(lib.camb_voice_gender, voice),
                age=_known(lib.camb_voice_age, voice),
                language=_known(lib.camb_voice_language, voice),
                transcript=object_text(lib.camb_voice_transcript, voice),
                description=object_text(lib.camb_voice_description, voice),
                is_published=is_published.get(lib.camb_voice_is_published(voice)),
                signed_url=object_text(lib.camb_voice_signed_url, voice),
            )
        )
    return copied


def language_list(lib: _Library, languages: Any) -> List[Language]:
    """The languages of a camb_language_list, copied out (the list is not freed here)."""
    copied = []
    for i in range(lib.camb_language_list_len(languages)):
        language = lib.camb_language_list_get(languages, i)
        copied.append(
            Language(
                id=lib.camb_language_id(language),
                name=object_text(lib.camb_language_name, language) or "",
                short_name=object_text(lib.camb_language_short_name, language) or "",
            )
        )
    return copied
