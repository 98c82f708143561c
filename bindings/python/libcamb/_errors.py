"""The exceptions: one class per camb_result, each carrying the code, the HTTP
status behind it and libcamb's words (the server's, when it sent some)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Type

from ._ffi import RESULT

if TYPE_CHECKING:
    from ._values import Status


class CambError(Exception):
    """A libcamb call failed.

    ``code`` is the ``camb_result`` value, ``message`` the library's words for it
    (``camb_last_error()``; they quote the server's reason when it gave one),
    ``http_status`` the HTTP status of the reply behind it, or 0 when there was
    none. Each subclass stands for one code, held in its class attribute ``code``.
    """

    code: int

    def __init__(self, code: int, message: str, http_status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message or f"libcamb result {self.code}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r}, http_status={self.http_status})"

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.code, self.message, self.http_status))


class InvalidArgument(CambError, ValueError):
    """An argument was unusable (CAMB_RESULT_INVALID_PARAMETER, or NULL_PARAMETER)."""

    code = RESULT["INVALID_PARAMETER"]


class MissingApiKey(CambError):
    """No API key was given and CAMB_API_KEY is not set."""

    code = RESULT["MISSING_API_KEY"]


class Cancelled(CambError):
    """A CancelToken was cancelled, a callback stopped the operation, or the
    client was closed under an async call."""

    code = RESULT["CANCELLED"]


class InternalError(CambError):
    """A bug in libcamb was caught at its boundary (CAMB_RESULT_PANIC)."""

    code = RESULT["PANIC"]


class FileError(CambError):
    """A local file could not be created, written or renamed (CAMB_RESULT_IO)."""

    code = RESULT["IO"]


class NotReady(CambError):
    """CAMB_RESULT_NOT_READY: a job not finished, or a queue with no event. This
    package reads jobs only once their queue hands them back, so it never raises it."""

    code = RESULT["NOT_READY"]


class TaskFailed(CambError):
    """A generation's task ended without audio (ERROR, TIMEOUT, PAYMENT_REQUIRED,
    or a status this version does not know); the message says which and why.
    ``status`` is that final status."""

    code = RESULT["TASK_FAILED"]
    #: The task's final Status, set by Client.generate and generate_async.
    status: Optional[Status] = None


class ConnectionFailed(CambError):
    """The connection failed, or broke before a complete reply arrived."""

    code = RESULT["CONNECT"]


class Timeout(CambError):
    """The call's timeout, or a wait's deadline, passed."""

    code = RESULT["TIMEOUT"]


class BadResponse(CambError):
    """The reply was malformed, oversized, or not what the API documents."""

    code = RESULT["BAD_RESPONSE"]


class HttpError(CambError):
    """A non-2xx HTTP status without a class of its own; see ``http_status``."""

    code = RESULT["HTTP_STATUS"]


class Unauthorized(CambError):
    """HTTP 401: the API key is missing or not valid."""

    code = RESULT["UNAUTHORIZED"]


class PaymentRequired(CambError):
    """HTTP 402: the account has no credits left."""

    code = RESULT["PAYMENT_REQUIRED"]


class Forbidden(CambError):
    """HTTP 403: the key may not do this."""

    code = RESULT["FORBIDDEN"]


class NotFound(CambError):
    """HTTP 404: no such task or run."""

    code = RESULT["NOT_FOUND"]


class ValidationError(CambError, ValueError):
    """HTTP 422: the server rejected the request's parameters."""

    code = RESULT["VALIDATION"]


class RateLimited(CambError):
    """HTTP 429: too many requests (after libcamb's retries)."""

    code = RESULT["RATE_LIMITED"]


class ServerError(CambError):
    """HTTP 5xx: the server failed (after libcamb's retries)."""

    code = RESULT["SERVER_ERROR"]


# camb_result -> exception class. A code this package does not know raises CambError.
_ERRORS: Dict[int, Type[CambError]] = {cls.code: cls for cls in CambError.__subclasses__()}
# The package never passes NULL: a bug if seen, reported as the argument it was.
_ERRORS[RESULT["NULL_PARAMETER"]] = InvalidArgument


def error_for(code: int, message: str, http_status: int = 0) -> CambError:
    """The exception for a ``camb_result`` value (CambError itself for unknown codes)."""
    return _ERRORS.get(code, CambError)(code, message, http_status)


def invalid(message: str) -> InvalidArgument:
    """An argument this package refuses itself, before calling libcamb."""
    return InvalidArgument(RESULT["INVALID_PARAMETER"], message)
