"""Finds libdynhc and declares the C API that the package calls (ctypes).

The places tried, in order: the path in DYNHC_LIBRARY (when set, it alone:
a library named explicitly that does not load is an error, not a reason to
take another one silently), a libdynhc.so* next to this package, then the
system search path. The structs mirror include/dynhc/*.h; each one that can
grow carries its own size, so this package passes the sizeof it knows.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys
import sysconfig
from ctypes import (CFUNCTYPE, POINTER, c_char_p, c_double, c_int, c_longlong, c_size_t,
                    c_uint, c_uint64, c_void_p)
from typing import Any, List, Tuple

from .errors import LibraryNotFoundError

# The library version this package was written against (include/dynhc/version.h).
VERSION = (0, 1, 0)
_SONAME = "libdynhc.so.%d.%d" % VERSION[:2] if VERSION[0] == 0 else "libdynhc.so.%d" % VERSION[0]


def _candidates_next_to_package() -> List[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    # The most specific name first: libdynhc.so.0.1.0 before the dev symlink.
    return sorted(glob.glob(os.path.join(here, "libdynhc.so*")), key=len, reverse=True)


def _load() -> Tuple[ctypes.CDLL, str]:
    explicit = os.environ.get("DYNHC_LIBRARY", "").strip()
    if explicit:
        try:
            return ctypes.CDLL(explicit), explicit
        except OSError as e:
            raise LibraryNotFoundError(
                "dynhc: cannot load libdynhc from DYNHC_LIBRARY=%s: %s (with DYNHC_LIBRARY "
                "set, the copy next to the package and the system search path are not tried)"
                % (explicit, e)) from None
    tried = ["DYNHC_LIBRARY: not set"]
    here = os.path.dirname(os.path.abspath(__file__))
    local = _candidates_next_to_package()
    for path in local:
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s: %s" % (path, e))
    if not local:
        tried.append("next to the package: no %s/libdynhc.so*" % here)
    names = [n for n in (ctypes.util.find_library("dynhc"), _SONAME, "libdynhc.so") if n]
    # Where `cmake --install` puts the library, which the loader searches
    # only once ldconfig has run: this Python's prefix (a venv, pyenv) and
    # /usr/local.
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for folder in (os.path.join(sys.prefix, "lib"), "/usr/local/lib",
                   os.path.join("/usr/local/lib", multiarch)):
        names += sorted(glob.glob(os.path.join(folder, "libdynhc.so*")), key=len, reverse=True)
    for name in dict.fromkeys(names):
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            tried.append("system search path, %s: %s" % (name, e))
    raise LibraryNotFoundError("dynhc: cannot find libdynhc; tried " + "; ".join(tried)
                               + ". Set DYNHC_LIBRARY to the library's path, or install "
                               "libdynhc (docs/python.md)")


lib, path = _load()

# ---- common.h -------------------------------------------------------------

DISABLED = 1

getenv_fn = CFUNCTYPE(c_void_p, c_char_p, c_void_p)  # returns a borrowed char *


class Diag(ctypes.Structure):
    _fields_ = [("severity", c_int), ("source", c_char_p), ("line", c_uint),
                ("column", c_uint), ("message", c_char_p)]


# ---- resolver.h -----------------------------------------------------------

class Config(ctypes.Structure):
    _fields_ = [("size", c_size_t)] + [(name, c_char_p) for name in (
        "model", "model_type", "health_check_level", "health_check_payload",
        "health_check_payload_disabled", "health_check_enabled", "health_check_interval",
        "health_check_timeout")]


CONFIG_KEYS = tuple(name for name, _ in Config._fields_[1:])

# ---- sched.h --------------------------------------------------------------

NO_DEADLINE = 2**64 - 1


class Check(ctypes.Structure):
    _fields_ = [("id", c_uint64), ("endpoint", c_char_p), ("payload_text", c_char_p),
                ("result", c_void_p), ("sent_ns", c_uint64), ("deadline_ns", c_uint64)]


class Label(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("value", c_char_p)]


send_fn = CFUNCTYPE(c_int, c_void_p, c_void_p, POINTER(Check), c_void_p)
transition_fn = CFUNCTYPE(None, c_void_p, c_void_p, c_char_p, c_int, c_void_p)
log_fn = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
wakeup_fn = CFUNCTYPE(None, c_void_p, c_void_p)


class EndpointOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("name", c_char_p), ("payload", c_void_p),
                ("labels", POINTER(Label)), ("label_count", c_size_t), ("send", send_fn),
                ("user_data", c_void_p), ("destroy", c_void_p)]


# dynhc_sched_free() is the one call that nothing may overlap (sched.h),
# yet an Endpoint's traffic calls come from any thread, after close() too.
# These are called with the GIL held (PyDLL), so that they never run at the
# same time: each takes nanoseconds, and a CDLL call would let another
# thread's dynhc_sched_free() free the scheduler under a traffic call.
_gil_lib = ctypes.PyDLL(path)
_HOLDING_THE_GIL = frozenset((
    "dynhc_sched_free", "dynhc_endpoint_record_activity", "dynhc_endpoint_request_begin",
    "dynhc_endpoint_request_end", "dynhc_endpoint_record_progress"))


def _declare(name: str, restype: Any, argtypes: List[Any]) -> None:
    fn = getattr(_gil_lib if name in _HOLDING_THE_GIL else lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
    setattr(lib, name, fn)


R = c_void_p  # dynhc_resolver *, dynhc_result *, dynhc_sched *... (opaque)

_PROTOTYPES: List[Tuple[str, Any, List[Any]]] = [
    ("dynhc_strerror", c_char_p, [c_int]),
    ("dynhc_version", c_char_p, []),
    ("dynhc_version_number", c_uint, []),
    ("dynhc_free", None, [c_void_p]),
    ("dynhc_diag_format", c_int, [POINTER(Diag), c_char_p, c_size_t]),
    # resolver.h
    ("dynhc_model_type_name", c_char_p, [c_int]),
    ("dynhc_level_name", c_char_p, [c_int]),
    ("dynhc_source_name", c_char_p, [c_int]),
    ("dynhc_parse_duration", c_int, [c_char_p, POINTER(c_uint64)]),
    ("dynhc_resolver_new", R, []),
    ("dynhc_resolver_free", None, [R]),
    ("dynhc_resolver_set_getenv", c_int, [R, getenv_fn, c_void_p]),
    ("dynhc_resolver_set_payload", c_int, [R, c_char_p]),
    ("dynhc_resolver_set_payload_file", c_int, [R, c_char_p]),
    ("dynhc_resolver_set_config_file", c_int, [R, c_char_p]),
    ("dynhc_resolver_set_config", c_int, [R, POINTER(Config)]),
    ("dynhc_resolver_set_custom_default", c_int, [R, c_char_p]),
    ("dynhc_resolver_set_model_type", c_int, [R, c_char_p]),
    ("dynhc_resolver_set_level", c_int, [R, c_char_p]),
    ("dynhc_resolver_set_bos_token_id", c_int, [R, c_longlong]),
    ("dynhc_resolver_set_marker_key", c_int, [R, c_char_p]),
    ("dynhc_resolver_set_strict", c_int, [R, c_int]),
    ("dynhc_resolver_set_merge", c_int, [R, c_int]),
    ("dynhc_resolver_set_disabled", c_int, [R, c_int]),
    ("dynhc_resolver_set_enabled", c_int, [R, c_int]),
    ("dynhc_resolver_set_interval_ns", c_int, [R, c_uint64]),
    ("dynhc_resolver_set_timeout_ns", c_int, [R, c_uint64]),
    ("dynhc_resolver_set_enabled_default", c_int, [R, c_int]),
    ("dynhc_resolver_set_check_all", c_int, [R, c_int]),
    ("dynhc_resolver_resolve", c_int, [R, POINTER(c_void_p)]),
    ("dynhc_result_free", None, [R]),
    ("dynhc_result_ref", R, [R]),
    ("dynhc_result_status", c_int, [R]),
    ("dynhc_result_text", c_char_p, [R]),
    ("dynhc_result_source", c_int, [R]),
    ("dynhc_result_origin", c_char_p, [R]),
    ("dynhc_result_model_type", c_int, [R]),
    ("dynhc_result_level", c_int, [R]),
    ("dynhc_result_token_budget", c_longlong, [R]),
    ("dynhc_result_model_name", c_char_p, [R]),
    ("dynhc_result_enabled", c_int, [R]),
    ("dynhc_result_interval_ns", c_uint64, [R]),
    ("dynhc_result_timeout_ns", c_uint64, [R]),
    ("dynhc_result_diag_count", c_size_t, [R]),
    ("dynhc_result_diag", POINTER(Diag), [R, c_size_t]),
    ("dynhc_result_explain", c_void_p, [R]),
    # compat.h
    ("dynhc_set_custom_health_check_payload", c_int, [c_char_p]),
    # sched.h
    ("dynhc_now_ns", c_uint64, []),
    ("dynhc_sched_new", R, []),
    ("dynhc_sched_free", None, [R]),
    ("dynhc_sched_set_mode", c_int, [R, c_int]),
    ("dynhc_sched_set_interval_ns", c_int, [R, c_uint64]),
    ("dynhc_sched_set_not_ready_interval_ns", c_int, [R, c_uint64]),
    ("dynhc_sched_set_timeout_ns", c_int, [R, c_uint64]),
    ("dynhc_sched_set_jitter", c_int, [R, c_double]),
    ("dynhc_sched_set_spread_ns", c_int, [R, c_uint64]),
    ("dynhc_sched_set_thresholds", c_int, [R, c_uint, c_uint]),
    ("dynhc_sched_set_activity_marks_ready", c_int, [R, c_int]),
    ("dynhc_sched_set_enabled", c_int, [R, c_int]),
    ("dynhc_sched_set_stall_ns", c_int, [R, c_uint64]),
    ("dynhc_sched_set_starting_status", c_int, [R, c_int]),
    ("dynhc_sched_set_use_endpoints", c_int, [R, POINTER(c_char_p), c_size_t]),
    ("dynhc_sched_set_seed", c_int, [R, c_uint64]),
    ("dynhc_sched_set_log", c_int, [R, log_fn, c_void_p]),
    ("dynhc_sched_set_log_limit", c_int, [R, c_uint, c_uint64]),
    ("dynhc_sched_set_transition_callback", c_int, [R, transition_fn, c_void_p]),
    ("dynhc_sched_set_wakeup", c_int, [R, wakeup_fn, c_void_p]),
    ("dynhc_sched_apply_result", c_int, [R, R]),
    ("dynhc_sched_load_env", c_int, [R, getenv_fn, c_void_p]),
    ("dynhc_sched_add", c_int, [R, POINTER(EndpointOptions), POINTER(c_void_p)]),
    ("dynhc_sched_remove_endpoint", c_int, [R, R]),
    ("dynhc_endpoint_ref", R, [R]),
    ("dynhc_endpoint_release", None, [R]),
    ("dynhc_endpoint_is_ready", c_int, [R]),
    ("dynhc_endpoint_is_registered", c_int, [R]),
    ("dynhc_endpoint_record_activity", None, [R, c_int]),
    ("dynhc_endpoint_request_begin", None, [R]),
    ("dynhc_endpoint_request_end", None, [R, c_int]),
    ("dynhc_endpoint_record_progress", None, [R]),
    ("dynhc_sched_complete", c_int, [R, c_uint64, c_int, c_char_p]),
    ("dynhc_sched_next_deadline", c_uint64, [R]),
    ("dynhc_sched_tick", c_int, [R, c_uint64]),
    ("dynhc_sched_is_ready", c_int, [R]),
    ("dynhc_sched_set_process_ready", c_int, [R, c_int]),
    ("dynhc_sched_status_json", c_void_p, [R, c_int]),
    ("dynhc_sched_metrics", c_void_p, [R]),
    # server.h
    ("dynhc_server_supported", c_int, []),
    ("dynhc_server_new", R, [R]),
    ("dynhc_server_free", None, [R]),
    ("dynhc_server_set_host", c_int, [R, c_char_p]),
    ("dynhc_server_set_port", c_int, [R, c_int]),
    ("dynhc_server_set_health_path", c_int, [R, c_char_p]),
    ("dynhc_server_set_live_path", c_int, [R, c_char_p]),
    ("dynhc_server_load_env", c_int, [R, getenv_fn, c_void_p]),
    ("dynhc_server_start", c_int, [R, POINTER(c_int)]),
    ("dynhc_server_port", c_int, [R]),
    ("dynhc_server_stop", c_int, [R]),
]
for _name, _res, _args in _PROTOTYPES:
    _declare(_name, _res, _args)

# Before 1.0 each minor version may change the ABI (docs/abi.md), from 1.0 on the major.
_runtime = lib.dynhc_version_number()
_runtime_version = (_runtime // 10000, _runtime // 100 % 100)
if _runtime_version[:1 if VERSION[0] else 2] != VERSION[:1 if VERSION[0] else 2]:
    raise LibraryNotFoundError("dynhc: %s is libdynhc %s; this package needs %d.%d (the structs "
                               "it shares with the library follow the version)"
                               % (path, lib.dynhc_version().decode(), VERSION[0], VERSION[1]))


def text(ptr: int) -> str:
    """The text of a char * that dynhc allocated, freed with dynhc_free()."""
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        lib.dynhc_free(ptr)


def decode(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def encode(value: str, what: str) -> bytes:
    if "\0" in value:
        from .errors import UsageError
        raise UsageError("%s contains a NUL character" % what)
    return value.encode("utf-8")
