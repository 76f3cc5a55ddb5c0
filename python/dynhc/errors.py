"""The exceptions of dynhc: one class per status of include/dynhc/common.h.

Every one derives from dynhc.Error and carries the C status code and the
diagnostics known when it was raised. The classes for bad arguments derive
from ValueError too, the one for memory from MemoryError, the one for a
failed system call from OSError, so that callers catching the standard
exceptions still catch them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

if TYPE_CHECKING:
    from .resolver import Diagnostic, Result


class Error(Exception):
    """Base class of every dynhc error."""

    status: int = 0

    def __init__(self, message: str, *, status: Optional[int] = None,
                 diagnostics: Sequence["Diagnostic"] = ()) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.diagnostics = list(diagnostics)


class LibraryNotFoundError(Error, ImportError):
    """libdynhc could not be loaded (raised by `import dynhc`)."""


class UsageError(Error, ValueError):
    """An argument dynhc refuses (DYNHC_ERR_INVALID_ARG)."""
    status = -2


class UnknownModelTypeError(UsageError):
    """A model type name dynhc does not know (DYNHC_ERR_UNKNOWN_MODEL_TYPE)."""
    status = -3


class UnknownLevelError(UsageError):
    """A level name dynhc does not know (DYNHC_ERR_UNKNOWN_LEVEL)."""
    status = -4


class InvalidJSONError(UsageError):
    """JSON text given to the API is not a valid JSON object (DYNHC_ERR_JSON)."""
    status = -7


class ConfigError(Error):
    """The config file could not be read or parsed as a whole (DYNHC_ERR_CONFIG)."""
    status = -5


class StrictError(Error):
    """Strict mode and a warning was raised (DYNHC_ERR_STRICT); `result` is the
    failed resolution, `diagnostics` its diagnostics."""
    status = -6
    result: Optional["Result"] = None


class DisabledError(Error):
    """A payload was needed but payloads are disabled (DYNHC_DISABLED)."""
    status = 1


class NoMemoryError(Error, MemoryError):
    """libdynhc ran out of memory (DYNHC_ERR_NOMEM)."""
    status = -1


class BusyError(Error):
    """The call is not allowed now (DYNHC_ERR_BUSY)."""
    status = -8


class NotFoundError(Error, LookupError):
    """The named or numbered object does not exist (DYNHC_ERR_NOT_FOUND)."""
    status = -9


class UnsupportedError(Error):
    """libdynhc was built without the part asked for (DYNHC_ERR_UNSUPPORTED)."""
    status = -10


class SystemCallError(Error, OSError):
    """An operating-system call failed (DYNHC_ERR_SYSTEM); errno says which."""
    status = -11


_BY_STATUS = {cls.status: cls for cls in (
    UsageError, UnknownModelTypeError, UnknownLevelError, InvalidJSONError, ConfigError,
    StrictError, DisabledError, NoMemoryError, BusyError, NotFoundError, UnsupportedError,
    SystemCallError)}


def error_for(status: int, message: str, diagnostics: Sequence["Diagnostic"] = ()) -> Error:
    """The exception for a C status code (Error itself for a code it does not know)."""
    cls = _BY_STATUS.get(status, Error)
    return cls(message, status=status, diagnostics=diagnostics)
