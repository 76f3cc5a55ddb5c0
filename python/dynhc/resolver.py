"""The resolver (SPEC 1) and the guide's two functions, on dynhc_resolver."""
from __future__ import annotations

import ctypes
import json
import logging
import math
import os
import weakref
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from . import _lib
from ._lib import decode, encode, lib
from .errors import InvalidJSONError, NoMemoryError, StrictError, UsageError, error_for

logger = logging.getLogger("dynhc")

Payload = Union[Mapping[str, Any], str]


@dataclass(frozen=True)
class Diagnostic:
    """One diagnostic of SPEC 1.6: `str()` gives the GNU form
    `SOURCE:LINE:COLUMN: warning: MESSAGE` (`SOURCE: warning: MESSAGE` when
    line is 0, meaning the whole source)."""
    severity: str  # "warning" or "error"
    source: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        where = self.source
        if self.line:
            where += ":%d:%d" % (self.line, self.column)
        return "%s: %s: %s" % (where, self.severity, self.message)

    def log(self, log: logging.Logger = logger) -> None:
        """Emits it on `log` (the logger "dynhc"), a warning as a warning."""
        log.log(logging.WARNING if self.severity == "warning" else logging.ERROR, "%s", self)


def check(status: int, what: str) -> None:
    """Raises the exception of a failed C call."""
    if status < 0:
        message = "%s: %s" % (what, decode(lib.dynhc_strerror(status)))
        raise error_for(status, message)


def seconds_to_ns(seconds: float, what: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise UsageError("%s: expected a number of seconds, got %r" % (what, seconds))
    if not 0 < seconds <= 86400:
        raise UsageError("%s: expected a number of seconds above 0 and at most 24 h, got %r"
                         % (what, seconds))
    return max(1, round(seconds * 1e9))


def payload_text(payload: Payload, what: str) -> str:
    """JSON text of a payload given as a dict (used as is) or as text."""
    if isinstance(payload, str):
        return payload
    if not isinstance(payload, Mapping):
        raise UsageError("%s: expected a dict or JSON text, got %s"
                         % (what, type(payload).__name__))
    try:
        return json.dumps(payload, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise UsageError("%s: cannot be written as JSON: %s" % (what, e)) from None


def _setting_text(value: Any, key: str) -> Optional[bytes]:
    """A config value as the config-file string rules of SPEC 1.5 read it."""
    if value is None:
        return None
    if key == "health_check_payload":
        if isinstance(value, str):
            return encode(value, key)
        return encode(payload_text(value, "config " + key), key)
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value).encode()  # "nan", "inf": the config rules warn about them
        return ("%.9f" % value).rstrip("0").rstrip(".").encode()  # no exponent: durations know none
    if isinstance(value, str):
        return encode(value, key)
    raise UsageError("config %s: expected a string, a number or a boolean, got %s"
                     % (key, type(value).__name__))


def _config_values(config: Any) -> Dict[str, Any]:
    """The config-file keys that config (a dict, a class or an instance) sets."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return {k: config.get(k) for k in _lib.CONFIG_KEYS}
    return {k: getattr(config, k, None) for k in _lib.CONFIG_KEYS}


# os.environ's own bytes-to-bytes dict (what os.environ reads and writes:
# the same data at every call), looked up directly: Mapping.get raises and
# catches a KeyError per unset variable, which was most of a resolution's
# cost. os.environb itself where that dict is not there.
_environ_get = getattr(os.environb, "_data", os.environb).get

class _Env:
    """The getenv function given to C: a lookup in a mapping (os.environ by
    default, read at each call), returning a pointer to bytes kept alive
    until the next resolution, as dynhc_getenv_fn asks."""

    def __init__(self, env: Optional[Mapping[str, str]]) -> None:
        self.env = env
        self.kept: List[bytes] = []
        self.fn = _lib.getenv_fn(self._lookup)

    def _lookup(self, name: bytes, _user_data: Any) -> Optional[int]:
        if self.env is None:
            value = _environ_get(name)
        else:
            text = self.env.get(name.decode("utf-8", "replace"))
            value = None if text is None else text.encode("utf-8", "surrogateescape")
        if value is None or b"\0" in value:
            return None
        self.kept.append(value)  # the pointer below is into it
        return ctypes.cast(ctypes.c_char_p(value), ctypes.c_void_p).value


class Result:
    """One resolution: the payload and where it came from (SPEC 1.7).

    Immutable. `payload` is a fresh dict at each access (None when payloads
    are disabled); `text` the compact JSON text libdynhc resolved."""

    def __init__(self, ptr: int) -> None:
        self._ptr = ptr  # one reference, released when the object goes
        weakref.finalize(self, lib.dynhc_result_free, ptr)
        self.status: int = lib.dynhc_result_status(ptr)
        raw = lib.dynhc_result_text(ptr)
        self.text: Optional[str] = None if raw is None else decode(raw)

    # The rest is read from the C result when first asked for.

    @cached_property
    def source(self) -> str:
        return decode(lib.dynhc_source_name(lib.dynhc_result_source(self._ptr)))

    @cached_property
    def origin(self) -> Optional[str]:
        origin = lib.dynhc_result_origin(self._ptr)
        return None if origin is None else decode(origin)

    @cached_property
    def model_type(self) -> str:
        return decode(lib.dynhc_model_type_name(lib.dynhc_result_model_type(self._ptr)))

    @cached_property
    def level(self) -> str:
        return decode(lib.dynhc_level_name(lib.dynhc_result_level(self._ptr)))

    @cached_property
    def token_budget(self) -> int:
        return int(lib.dynhc_result_token_budget(self._ptr))

    @cached_property
    def model(self) -> Optional[str]:
        """The config key "model"."""
        model = lib.dynhc_result_model_name(self._ptr)
        return None if model is None else decode(model)

    @cached_property
    def enabled(self) -> bool:
        return bool(lib.dynhc_result_enabled(self._ptr))

    @cached_property
    def interval(self) -> float:
        """Seconds."""
        return float(lib.dynhc_result_interval_ns(self._ptr) / 1e9)

    @cached_property
    def timeout(self) -> float:
        """Seconds."""
        return float(lib.dynhc_result_timeout_ns(self._ptr) / 1e9)

    @cached_property
    def diagnostics(self) -> List[Diagnostic]:
        out = []
        for i in range(lib.dynhc_result_diag_count(self._ptr)):
            d = lib.dynhc_result_diag(self._ptr, i).contents
            out.append(Diagnostic("warning" if d.severity == 1 else "error",
                                  decode(d.source or b""), d.line, d.column,
                                  decode(d.message or b"")))
        return out

    @property
    def payload(self) -> Optional[Dict[str, Any]]:
        return None if self.text is None else json.loads(self.text)

    @property
    def disabled(self) -> bool:
        return self.status == _lib.DISABLED

    def explain(self) -> str:
        """Where the payload and each setting came from, one fact per line."""
        ptr = lib.dynhc_result_explain(self._ptr)
        if not ptr:
            raise NoMemoryError("dynhc_result_explain: out of memory")
        return _lib.text(ptr)

    def __repr__(self) -> str:
        return "<dynhc.Result source=%s origin=%r model_type=%s level=%s text=%s>" % (
            self.source, self.origin, self.model_type, self.level, self.text)



class Resolver:
    """A resolver with every option of dynhc_resolver as a keyword argument.

    payload:        runtime payload (dict used as is, or JSON text)
    payload_file:   runtime payload read from a JSON file
    config:         in-memory config values (dict, class or instance whose
                    attributes are the config-file keys), or
    config_file:    a YAML or JSON config file
    custom_default: this resolver's custom default (dict or JSON text)
    model_type, level: runtime names (aliases, any case)
    bos_token_id:   for the "tokens" defaults (1)
    marker_key:     "_health_check"; None turns marking off
    strict, merge:  SPEC 1.6 strictness, RFC 7396 merge mode
    disabled, enabled: runtime booleans (None: unset)
    interval, timeout: runtime durations in seconds (None: unset)
    enabled_default: the default of "enabled" when no source sets it
    check_all:      also check the scheduler's and server's variables
    env:            mapping read in place of the process environment
                    (None: os.environ, read at each resolution)
    """

    def __init__(self, *, payload: Optional[Payload] = None, payload_file: Optional[str] = None,
                 config: Any = None, config_file: Optional[str] = None,
                 custom_default: Optional[Payload] = None, model_type: Optional[str] = None,
                 level: Optional[str] = None, bos_token_id: int = 1,
                 marker_key: Optional[str] = "_health_check", strict: bool = False,
                 merge: bool = False, disabled: Optional[bool] = None,
                 enabled: Optional[bool] = None, interval: Optional[float] = None,
                 timeout: Optional[float] = None, enabled_default: bool = True,
                 check_all: bool = False, env: Optional[Mapping[str, str]] = None) -> None:
        if payload is not None and payload_file is not None:
            raise UsageError("Resolver: payload and payload_file are exclusive")
        if config is not None and config_file is not None:
            raise UsageError("Resolver: config and config_file are exclusive")
        ptr = lib.dynhc_resolver_new()
        if not ptr:
            raise NoMemoryError("dynhc_resolver_new: out of memory")
        self._ptr = ptr
        weakref.finalize(self, lib.dynhc_resolver_free, ptr)
        self._env = _Env(env)
        check(lib.dynhc_resolver_set_getenv(ptr, self._env.fn, None), "getenv")
        if payload is not None:
            check(lib.dynhc_resolver_set_payload(ptr, encode(payload_text(payload, "payload"),
                                                             "payload")), "payload")
        if payload_file is not None:
            check(lib.dynhc_resolver_set_payload_file(ptr, encode(os.fspath(payload_file),
                                                                  "payload_file")), "payload_file")
        if config_file is not None:
            check(lib.dynhc_resolver_set_config_file(ptr, encode(os.fspath(config_file),
                                                                 "config_file")), "config_file")
        if config is not None:
            values = {k: _setting_text(v, k) for k, v in _config_values(config).items()}
            c_config = _lib.Config(size=ctypes.sizeof(_lib.Config), **values)
            check(lib.dynhc_resolver_set_config(ptr, ctypes.byref(c_config)), "config")
        if custom_default is not None:
            text = payload_text(custom_default, "custom_default")
            status = lib.dynhc_resolver_set_custom_default(ptr, encode(text, "custom_default"))
            if status == -7:
                raise InvalidJSONError("custom_default: not a valid JSON object: %s" % text)
            check(status, "custom_default")
        if model_type is not None:
            _set_name(lib.dynhc_resolver_set_model_type, ptr, model_type, "model_type")
        if level is not None:
            _set_name(lib.dynhc_resolver_set_level, ptr, level, "level")
        # A new resolver has the defaults: only what differs is set.
        if isinstance(bos_token_id, bool) or not isinstance(bos_token_id, int) or bos_token_id < 0:
            raise UsageError("bos_token_id: expected an integer >= 0, got %r" % (bos_token_id,))
        if bos_token_id != 1:
            check(lib.dynhc_resolver_set_bos_token_id(ptr, bos_token_id), "bos_token_id")
        if marker_key != "_health_check":
            check(lib.dynhc_resolver_set_marker_key(
                ptr, None if marker_key is None else encode(marker_key, "marker_key")),
                "marker_key")
        for name, on, setter in (("strict", strict, lib.dynhc_resolver_set_strict),
                                 ("merge", merge, lib.dynhc_resolver_set_merge),
                                 ("check_all", check_all, lib.dynhc_resolver_set_check_all)):
            if on:
                check(setter(ptr, 1), name)
        for name, flag, setter in (("disabled", disabled, lib.dynhc_resolver_set_disabled),
                                   ("enabled", enabled, lib.dynhc_resolver_set_enabled)):
            if flag is not None:
                check(setter(ptr, int(bool(flag))), name)
        for name, seconds, setter in (("interval", interval, lib.dynhc_resolver_set_interval_ns),
                                      ("timeout", timeout, lib.dynhc_resolver_set_timeout_ns)):
            if seconds is not None:
                check(setter(ptr, seconds_to_ns(seconds, name)), name)
        if not enabled_default:
            check(lib.dynhc_resolver_set_enabled_default(ptr, 0), "enabled_default")

    def resolve(self, *, log: bool = False) -> Result:
        """Resolves; returns a Result, also when payloads are disabled
        (`result.payload` None). Raises ConfigError (the config file as a
        whole), StrictError (strict mode and a warning), NoMemoryError. With
        log, every diagnostic is also emitted on the logger "dynhc"."""
        out = ctypes.c_void_p()
        try:
            status = lib.dynhc_resolver_resolve(self._ptr, ctypes.byref(out))
        finally:
            self._env.kept.clear()
        if not out.value:
            check(status, "dynhc_resolver_resolve")
            raise NoMemoryError("dynhc_resolver_resolve: no result")
        result = Result(out.value)
        if log:
            for d in result.diagnostics:
                d.log()
        if status < 0:
            errors = [d for d in result.diagnostics if d.severity == "error"] or result.diagnostics
            message = str(errors[0]) if errors else decode(lib.dynhc_strerror(status))
            if len(errors) > 1:
                message += " (and %d more)" % (len(errors) - 1)
            e = error_for(status, message, result.diagnostics)
            if isinstance(e, StrictError):
                e.result = result
            raise e
        return result


def _set_name(setter: Callable[..., int], ptr: int, name: str, what: str) -> None:
    if not isinstance(name, str):
        raise UsageError("%s: expected a name, got %r" % (what, name))
    status = setter(ptr, encode(name, what))
    if status < 0:
        raise error_for(status, "%s: %s: %r" % (what, decode(lib.dynhc_strerror(status)), name))


def get_health_check_payload(config: Any = None,
                             model_type: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """The guide's function: the payload as a dict, or None when payloads are
    disabled. config is None, a dict, or a class or instance whose attributes
    mirror the config-file keys (model, model_type, health_check_level,
    health_check_payload, health_check_payload_disabled, health_check_enabled,
    health_check_interval, health_check_timeout). The process environment is
    read at each call. Diagnostics go to the logger "dynhc". Raises
    UnknownModelTypeError for an unknown model_type."""
    result = Resolver(config=config, model_type=model_type).resolve(log=True)
    return result.payload


def set_custom_health_check_payload(payload: Optional[Payload]) -> None:
    """The process-wide custom default (source 4) as a dict or JSON text;
    None clears it. Raises InvalidJSONError for text that is not a JSON
    object."""
    text = None if payload is None else payload_text(payload, "custom payload")
    status = lib.dynhc_set_custom_health_check_payload(
        None if text is None else encode(text, "custom payload"))
    if status == -7:
        raise InvalidJSONError("custom payload: not a valid JSON object: %s" % text)
    check(status, "set_custom_health_check_payload")
