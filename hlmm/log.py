"""Structured JSON-lines logging: one event per line, names from :mod:`hlmm.log_events`.

Every line is one JSON object::

    {"ts":"2026-01-13T15:13:53.123Z","level":"info","component":"engine.orders",
     "event":"order_resting","cloid":"0x…","oid":123,"px":"97000","sz":"0.001"}

``ts`` is ISO 8601 UTC with milliseconds; ``event`` is a documented, stable name.

Usage::

    log = get_logger("engine.orders")
    log.info("order_resting", cloid=cloid, oid=oid, px=px, sz=sz)

``configure_logging`` decides where lines go: a JSON file (size-rotated), optional
separate ``ops``/``diag``/error files, and a console on stderr (human, JSON or off).
Until it is called nothing is written (the library stays quiet when embedded).

Why not stdlib ``logging`` directly: a ``LogRecord`` plus handler chain costs several
microseconds per line; this path builds one dict, encodes it once with a reused C
encoder and appends it with one ``os.write`` per sink (``O_APPEND``: a crash loses no
buffered lines).  Third-party libraries' stdlib warnings are bridged in as
``library_log`` events.

Defense in depth: every line (JSON and human) passes :func:`hlmm.redaction.redact`, so
anything shaped like a private key is written as ``[REDACTED]``.

Strict mode (on in the test suite, or with ``HLMM_LOG_STRICT=1``) raises
:class:`UnknownLogEvent` for an event or field that :data:`hlmm.log_events.EVENTS`
does not document.  Outside strict mode such a line is still written (nothing is
lost) with ``"undocumented": true``.
"""
from __future__ import annotations

import abc
import dataclasses
import datetime as _dt
import enum
import json
import logging
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, Any

from hlmm.errors import ConfigError
from hlmm.log_events import COMMON_FIELDS, EVENTS, RESERVED_FIELDS
from hlmm.redaction import redact

if TYPE_CHECKING:
    from hlmm.config import LoggingConfig

__all__ = [
    "LEVELS",
    "EventLogger",
    "UnknownLogEvent",
    "capture_logs",
    "configure_logging",
    "configure_logging_from",
    "get_logger",
    "is_strict",
    "set_strict",
    "shutdown_logging",
]

LEVELS: dict[str, int] = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
CONSOLE_FORMATS = ("human", "json", "off")
_OFF = 1000  # above every level: nothing passes


class UnknownLogEvent(ValueError):
    """Strict mode: an event or field is not documented in ``hlmm.log_events``."""


# --------------------------------------------------------------------------- encoding


def _default(obj: Any) -> Any:
    """JSON form of the values the standard encoder does not know."""
    module = type(obj).__module__
    if module == "numpy":  # numpy scalars and arrays, without importing numpy here
        if hasattr(obj, "tolist"):
            return obj.tolist()
    if isinstance(obj, Decimal):
        return str(obj)  # exact; a float could change the digits
    if isinstance(obj, enum.Enum):
        value = obj.value
        return value if isinstance(value, (str, int, float, bool)) else obj.name
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return "0x" + bytes(obj).hex()
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)
        except TypeError:
            return list(obj)
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, _dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, BaseException):
        return f"{type(obj).__name__}: {obj}"
    return repr(obj)


def _finite(obj: Any) -> Any:
    """Copy of ``obj`` with NaN/±inf floats as strings (strict JSON has no NaN)."""
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        if math.isinf(obj):
            return "Infinity" if obj > 0 else "-Infinity"
        return obj
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    converted = _default(obj) if not isinstance(obj, (str, int, type(None))) else obj
    if converted is obj:
        return obj
    return _finite(converted)


_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), allow_nan=False)
_encode = _ENCODER.encode


def _safe_value(obj: Any) -> Any:
    """``obj`` if it encodes, else with NaN/inf as strings, else its repr."""
    try:
        _encode(obj)
        return obj
    except ValueError:  # NaN/inf somewhere, or a circular reference
        try:
            finite = _finite(obj)
            _encode(finite)
            return finite
        except (ValueError, TypeError, RecursionError):
            return repr(obj)
    except (TypeError, RecursionError):  # e.g. a dict with tuple keys
        return repr(obj)


def to_json(obj: Any) -> str:
    """Compact, strict JSON for a log value: numpy, Decimal, enums, dataclasses… handled."""
    try:
        return _encode(obj)
    except (ValueError, TypeError, RecursionError):
        return _encode(_safe_value(obj))


def encode_record(record: dict[str, Any]) -> str:
    """One log line; a field that cannot be encoded degrades alone (to NaN strings or its repr)."""
    try:
        return _encode(record)
    except (ValueError, TypeError, RecursionError):
        return _encode({key: _safe_value(value) for key, value in record.items()})


# ------------------------------------------------------------------------ timestamps

_ts_cache_sec = -1
_ts_cache_prefix = ""
_MS_SUFFIX = [f".{ms:03d}Z" for ms in range(1000)] + [".999Z"]  # [1000]: float rounding guard


def _iso_ms(t: float) -> str:
    """``t`` (Unix seconds) as ``YYYY-MM-DDTHH:MM:SS.mmmZ``; the second's text is cached."""
    global _ts_cache_sec, _ts_cache_prefix
    sec = int(t)
    if sec != _ts_cache_sec:
        _ts_cache_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _ts_cache_sec = sec
    return _ts_cache_prefix + _MS_SUFFIX[int((t - sec) * 1000)]


# ----------------------------------------------------------------------------- sinks

_BARE_VALUE = re.compile(r"^[^\s\"=]+$")


def format_human(record: dict[str, Any]) -> str:
    """``HH:MM:SS LEVEL component event k=v …`` (UTC time), for a console."""
    parts = [
        record["ts"][11:19],
        f"{record['level'].upper():<5}",
        record["component"],
        record["event"],
    ]
    for key, value in record.items():
        if key in RESERVED_FIELDS:
            continue
        if not isinstance(value, str):
            text = to_json(value)
            if not text.startswith('"'):
                parts.append(f"{key}={text}")
                continue
            value = json.loads(text)  # Decimal, enum, bytes… shown like plain strings
        text = value if _BARE_VALUE.match(value) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return redact(" ".join(parts))


class _Sink(abc.ABC):
    """Receives every line at or above ``level`` whose event stream is in ``streams``."""

    def __init__(self, level: int, streams: frozenset[str] | None) -> None:
        self.level = level
        self.streams = streams
        self.failures = 0  # writes that raised OSError (reported once on stderr)

    def accepts(self, levelno: int, stream: str) -> bool:
        return levelno >= self.level and (self.streams is None or stream in self.streams)

    @abc.abstractmethod
    def write(self, line: str, record: dict[str, Any]) -> None:
        """Write one line (``record`` is the same event as a dict, before encoding)."""

    def close(self) -> None:
        """Release the sink's resources."""


class FileSink(_Sink):
    """Appends JSON lines to a file, rotating it by size (``path.1`` … ``path.N``).

    One ``os.write`` per line on an ``O_APPEND`` descriptor: no user-space buffer to
    lose in a crash, and appends from other processes interleave by whole lines.
    ``max_bytes`` 0 disables rotation.  The file is created ``0600``: logs show
    positions and addresses.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        level: int = LEVELS["debug"],
        streams: frozenset[str] | None = None,
        max_bytes: int = 0,
        backups: int = 5,
    ) -> None:
        super().__init__(level, streams)
        self.path = os.fspath(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()  # the sim may log from its server thread
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self._fd = -1
        self._size = 0
        self._open()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size

    def _rollover(self) -> None:
        os.close(self._fd)
        self._fd = -1
        for i in range(self.backups - 1, 0, -1):
            older = f"{self.path}.{i}"
            if os.path.exists(older):
                os.replace(older, f"{self.path}.{i + 1}")
        if self.backups > 0:
            os.replace(self.path, f"{self.path}.1")
        else:
            os.truncate(self.path, 0)
        self._open()

    def write(self, line: str, record: dict[str, Any]) -> None:
        data = (line + "\n").encode("utf-8")
        with self._lock:
            if self._fd < 0:
                return  # closed
            if self.max_bytes and self._size and self._size + len(data) > self.max_bytes:
                self._rollover()
            os.write(self._fd, data)
            self._size += len(data)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


class StreamSink(_Sink):
    """Writes to a text stream (stderr by default), as JSON or in the human format."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        level: int = LEVELS["info"],
        human: bool = True,
        streams: frozenset[str] | None = None,
    ) -> None:
        super().__init__(level, streams)
        self._stream = stream
        self.human = human

    def write(self, line: str, record: dict[str, Any]) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        stream.write((format_human(record) if self.human else line) + "\n")
        stream.flush()


class MemorySink(_Sink):
    """Keeps every line, parsed back from JSON (for tests: proves the lines parse)."""

    def __init__(self, level: int = LEVELS["debug"]) -> None:
        super().__init__(level, None)
        self.records: list[dict[str, Any]] = []
        self.lines: list[str] = []

    def write(self, line: str, record: dict[str, Any]) -> None:
        self.lines.append(line)
        self.records.append(json.loads(line))


# ---------------------------------------------------------------------------- router


class _Router:
    """Module-wide state: the sinks, the lowest level any sink wants, strict mode."""

    def __init__(self) -> None:
        self.sinks: list[_Sink] = []
        self.min_level = _OFF
        self.strict = os.environ.get("HLMM_LOG_STRICT", "") not in ("", "0")
        self.clock: Callable[[], float] = time.time

    def set_sinks(self, sinks: list[_Sink]) -> None:
        self.sinks = sinks
        self.min_level = min((s.level for s in sinks), default=_OFF)

    def check(self, event: str, fields: dict[str, Any]) -> None:
        spec = EVENTS.get(event)
        if spec is None:
            raise UnknownLogEvent(
                f"log event {event!r} is not documented; add it to hlmm/log_events.py"
            )
        for name in fields:
            if name not in spec.fields and name not in COMMON_FIELDS:
                declared = " ".join(sorted(spec.fields)) or "(none)"
                raise UnknownLogEvent(
                    f"log event {event!r} has no field {name!r} (declared: {declared}); "
                    "add it to hlmm/log_events.py"
                )

    def emit(self, component: str, levelno: int, level: str, event: str, fields: dict[str, Any]) -> None:
        spec = EVENTS.get(event)
        if self.strict:
            self.check(event, fields)
        if levelno < self.min_level:
            return
        record: dict[str, Any] = {
            "ts": _iso_ms(self.clock()),
            "level": level,
            "component": component,
            "event": event,
        }
        if fields:
            if "ts" in fields or "level" in fields or "component" in fields:
                fields = {(f"field_{k}" if k in RESERVED_FIELDS else k): v for k, v in fields.items()}
            record.update(fields)
        if spec is None:
            record["undocumented"] = True
            stream = "ops"
        else:
            stream = spec.stream
        line = redact(encode_record(record))
        for sink in self.sinks:
            if sink.accepts(levelno, stream):
                try:
                    sink.write(line, record)
                except OSError as exc:  # disk full, closed stderr: never crash the loop
                    sink.failures += 1
                    if sink.failures == 1:  # say it once, not once per line
                        _report_sink_failure(sink, exc)


_router = _Router()


def _report_sink_failure(sink: _Sink, exc: OSError) -> None:
    try:
        sys.__stderr__.write(f"hlmm: log sink {type(sink).__name__} failed (further failures not shown): {exc}\n")
    except (OSError, AttributeError, ValueError):
        pass


# ---------------------------------------------------------------------------- loggers


class EventLogger:
    """Emits documented events for one component: ``log.info("fill", tid=…, px=…)``."""

    __slots__ = ("component",)

    def __init__(self, component: str) -> None:
        self.component = component

    def enabled(self, level: str) -> bool:
        """True if a line at ``level`` would reach at least one sink (skip costly fields)."""
        return LEVELS[level] >= _router.min_level

    def debug(self, event: str, /, **fields: Any) -> None:
        if 10 >= _router.min_level or _router.strict:
            _router.emit(self.component, 10, "debug", event, fields)

    def info(self, event: str, /, **fields: Any) -> None:
        if 20 >= _router.min_level or _router.strict:
            _router.emit(self.component, 20, "info", event, fields)

    def warning(self, event: str, /, **fields: Any) -> None:
        if 30 >= _router.min_level or _router.strict:
            _router.emit(self.component, 30, "warning", event, fields)

    def error(self, event: str, /, **fields: Any) -> None:
        if 40 >= _router.min_level or _router.strict:
            _router.emit(self.component, 40, "error", event, fields)

    def critical(self, event: str, /, **fields: Any) -> None:
        if 50 >= _router.min_level or _router.strict:
            _router.emit(self.component, 50, "critical", event, fields)

    def __repr__(self) -> str:
        return f"EventLogger({self.component!r})"


_COMPONENT_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_loggers: dict[str, EventLogger] = {}


def get_logger(component: str) -> EventLogger:
    """The logger for ``component`` (dotted lower-case, e.g. ``engine.reconcile``)."""
    logger = _loggers.get(component)
    if logger is None:
        if not _COMPONENT_RE.match(component):
            raise ValueError(f"log component {component!r} must be dotted lower-case, e.g. 'engine.orders'")
        logger = _loggers[component] = EventLogger(component)
    return logger


def set_strict(strict: bool) -> None:
    """Strict mode: undocumented events or fields raise :class:`UnknownLogEvent`."""
    _router.strict = strict


def is_strict() -> bool:
    """Whether strict mode is on."""
    return _router.strict


# ---------------------------------------------------------------- stdlib bridge


class _StdlibBridge(logging.Handler):
    """Forwards third-party stdlib log records as ``library_log`` events."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string must not break the loop
            message = str(record.msg)
        component = record.name.lower() if _COMPONENT_RE.match(record.name.lower()) else "library"
        level = logging.getLevelName(record.levelno).lower()
        levelno = LEVELS.get(level, 30)
        _router.emit(component, levelno, level if level in LEVELS else "warning", "library_log",
                     {"logger": record.name, "message": message})


_bridge: _StdlibBridge | None = None


def _install_bridge(level: int) -> None:
    global _bridge
    root = logging.getLogger()
    if _bridge is None:
        _bridge = _StdlibBridge()
        root.addHandler(_bridge)
    _bridge.setLevel(level)


def _remove_bridge() -> None:
    global _bridge
    if _bridge is not None:
        logging.getLogger().removeHandler(_bridge)
        _bridge = None


# ---------------------------------------------------------------------- configuration


def _level(name: str, what: str) -> int:
    try:
        return LEVELS[name.lower()]
    except KeyError:
        raise ValueError(f"{what} must be one of {', '.join(LEVELS)}, got {name!r}") from None


def configure_logging(
    file: str | os.PathLike[str] | None = None,
    *,
    level: str = "info",
    console: str = "human",
    console_level: str = "info",
    ops_file: str | os.PathLike[str] | None = None,
    diag_file: str | os.PathLike[str] | None = None,
    error_file: str | os.PathLike[str] | None = None,
    max_bytes: int = 100 * 1024 * 1024,
    backups: int = 10,
    console_stream: IO[str] | None = None,
    stdlib_level: str = "warning",
    clock: Callable[[], float] | None = None,
) -> None:
    """(Re)configure where log lines go; previous sinks are closed first.

    ``file``: every event at ``level`` or above, JSON.  ``ops_file`` / ``diag_file``:
    only events of that stream (at ``level`` or above).  ``error_file``: every event at
    warning or above.  All files rotate at ``max_bytes`` keeping ``backups`` old files.
    ``console``: ``human``, ``json`` or ``off``, to ``console_stream`` (stderr), at
    ``console_level``.  ``clock`` (Unix seconds) is for tests and replays.
    A file that cannot be opened raises :class:`~hlmm.errors.ConfigError` (exit 3).
    """
    file_level = _level(level, "logging level")
    con_level = _level(console_level, "console level")
    if console not in CONSOLE_FORMATS:
        raise ValueError(f"console format must be one of {', '.join(CONSOLE_FORMATS)}, got {console!r}")
    if max_bytes < 0 or backups < 0:
        raise ValueError("max_bytes and backups must be >= 0")
    sinks: list[_Sink] = []
    wanted: list[tuple[str | os.PathLike[str], int, frozenset[str] | None]] = []
    if file:
        wanted.append((file, file_level, None))
    if ops_file:
        wanted.append((ops_file, file_level, frozenset({"ops"})))
    if diag_file:
        wanted.append((diag_file, file_level, frozenset({"diag"})))
    if error_file:
        wanted.append((error_file, LEVELS["warning"], None))
    for path, sink_level, streams in wanted:
        try:
            sinks.append(FileSink(path, level=sink_level, streams=streams, max_bytes=max_bytes, backups=backups))
        except OSError as exc:
            for sink in sinks:
                sink.close()
            raise ConfigError(f"cannot open log file {os.fspath(path)}: {exc.strerror or exc}",
                              hint="check logging.file / --log-file and the directory's permissions") from None
    if console != "off":
        sinks.append(StreamSink(console_stream, level=con_level, human=console == "human"))
    old = _router.sinks
    _router.set_sinks(sinks)
    _router.clock = clock or time.time
    for sink in old:
        sink.close()
    if sinks:
        _install_bridge(_level(stdlib_level, "stdlib level"))
    else:
        _remove_bridge()


def configure_logging_from(
    cfg: LoggingConfig,
    *,
    file: str | os.PathLike[str] | None = None,
    console_stream: IO[str] | None = None,
) -> None:
    """Configure from the ``[logging]`` config section; ``file`` overrides ``cfg.file``."""
    configure_logging(
        file or cfg.file or None,
        level=cfg.level,
        console=cfg.console,
        console_level=cfg.console_level,
        ops_file=cfg.ops_file or None,
        diag_file=cfg.diag_file or None,
        error_file=cfg.error_file or None,
        max_bytes=cfg.max_bytes,
        backups=cfg.backups,
        console_stream=console_stream,
    )


def shutdown_logging() -> None:
    """Close every sink; later events are dropped until ``configure_logging`` again."""
    old = _router.sinks
    _router.set_sinks([])
    _router.clock = time.time
    for sink in old:
        sink.close()
    _remove_bridge()


@contextmanager
def capture_logs(level: str = "debug") -> Iterator[list[dict[str, Any]]]:
    """Collect the events emitted inside the block as parsed dicts (test helper).

    Existing sinks keep receiving lines; the captured records went through the same
    encoding and redaction as a file line.
    """
    sink = MemorySink(_level(level, "capture level"))
    _router.set_sinks([*_router.sinks, sink])
    try:
        yield sink.records
    finally:
        _router.set_sinks([s for s in _router.sinks if s is not sink])


def add_sink(sink: _Sink) -> None:
    """Attach an extra sink (e.g. a :class:`FileSink` for one component's replay)."""
    _router.set_sinks([*_router.sinks, sink])


def remove_sink(sink: _Sink) -> None:
    """Detach a sink added with :func:`add_sink` and close it."""
    _router.set_sinks([s for s in _router.sinks if s is not sink])
    sink.close()
