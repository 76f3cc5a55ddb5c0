"""dynhc: health-check payloads and scheduling for inference endpoints.

The Python face of libdynhc (SPEC 7), on ctypes: the guide's
get_health_check_payload() and set_custom_health_check_payload(), a
Resolver returning a Result, and an asyncio Scheduler with its status
server. docs/python.md is the manual.
"""
from ._lib import VERSION as _VERSION
from .errors import (BusyError, ConfigError, DisabledError, Error, InvalidJSONError,
                     LibraryNotFoundError, NoMemoryError, NotFoundError, StrictError,
                     SystemCallError, UnknownLevelError, UnknownModelTypeError, UnsupportedError,
                     UsageError)
from .resolver import (Diagnostic, Resolver, Result, get_health_check_payload,
                       set_custom_health_check_payload)
from .scheduler import Check, Endpoint, Scheduler

__version__ = "%d.%d.%d" % _VERSION


def library_version() -> str:
    """The version of the libdynhc loaded, "MAJOR.MINOR.PATCH"."""
    from ._lib import lib
    return str(lib.dynhc_version().decode())


def library_path() -> str:
    """Where libdynhc was loaded from (a path or a library name)."""
    from ._lib import path
    return path


__all__ = [
    "BusyError", "Check", "ConfigError", "Diagnostic", "DisabledError", "Endpoint", "Error",
    "InvalidJSONError", "LibraryNotFoundError", "NoMemoryError", "NotFoundError", "Resolver",
    "Result", "Scheduler", "StrictError", "SystemCallError", "UnknownLevelError",
    "UnknownModelTypeError", "UnsupportedError", "UsageError", "get_health_check_payload",
    "library_path", "library_version", "set_custom_health_check_payload",
]
