"""Reading and writing config TOML: parse errors with positions, the private-key guard,
line numbers for validation messages, merging fragments, and a small TOML writer.

``tomli`` only reads TOML; the writer here covers what a config holds (tables,
strings, numbers, booleans, arrays of those).
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli

from hlmm.config_schema import Issues, toml_value
from hlmm.errors import ConfigError
from hlmm.redaction import PRIVATE_KEY_RE

KEY_EXPLANATION = (
    "looks like a private key (64 hex digits). hlmm never reads a private key from its "
    "config file: put it in the environment variable named by exchange.key_env "
    "(default HLMM_PRIVATE_KEY) or in an encrypted keystore file (exchange.keystore), "
    "and remove it from this file"
)


# ---------------------------------------------------------------------------- secret guard


def key_issues(data: Any, path: str = "") -> Issues:
    """Every string or key name in ``data`` shaped like a private key (never quoting it)."""
    issues: Issues = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            sub = f"{path}.{key}" if path else str(key)
            if PRIVATE_KEY_RE.search(str(key)):
                where = path or "(top level)"
                issues.append((where, f"{where}: a key name {KEY_EXPLANATION}"))
            issues.extend(key_issues(value, sub))
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            issues.extend(key_issues(value, f"{path}[{i}]"))
    elif isinstance(data, str) and PRIVATE_KEY_RE.search(data):
        issues.append((path, f"{path}: this value {KEY_EXPLANATION}"))
    return issues


def refuse_keys_in_text(text: str, file: str) -> None:
    """Refuse a file with a private-key-shaped run anywhere, comments included."""
    numbers = [n for n, line in enumerate(text.splitlines(), 1) if PRIVATE_KEY_RE.search(line)]
    if numbers:
        where = ", ".join(str(n) for n in numbers[:5])
        issues = [(f"line {n}", f"{file}:{n}: this line {KEY_EXPLANATION}") for n in numbers]
        raise ConfigError(f"{file}:{where}: this line {KEY_EXPLANATION}", issues=issues)


# ------------------------------------------------------------------------- error messages


def config_error(origin: str | None, issues: Issues, lines: Mapping[str, int] | None = None) -> ConfigError:
    """One ConfigError for all ``issues``, each prefixed with ``origin[:line]``."""

    def line_of(key: str) -> int | None:
        return find_line(key, lines) if lines else None

    def locate(key: str, text: str) -> str:
        line = line_of(key)
        if origin is None:
            return text
        return f"{origin}:{line}: {text}" if line else f"{origin}: {text}"

    # in file order when lines are known (stable: unplaced issues keep their order, last)
    ordered = sorted(issues, key=lambda issue: line_of(issue[0]) or float("inf"))
    located = [(key, locate(key, text)) for key, text in ordered]
    if len(located) == 1:
        return ConfigError(located[0][1], issues=located)
    head = f"{origin}: " if origin else ""
    body = "\n".join(f"  {text}" for _, text in located)
    return ConfigError(f"{head}{len(located)} problems in the configuration\n{body}", issues=located)


_HEADER_RE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\s*(#.*)?$")
_KEYLINE_RE = re.compile(r"^\s*([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=")


def key_lines(text: str) -> dict[str, int]:
    """Dotted key -> line number, for plain ``[table]`` headers and ``key = value`` lines.

    Good enough to point at the line of a bad value; keys it cannot place (inline
    tables, multi-line arrays' items) fall back to their table's line.
    """
    found: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER_RE.match(line)
        if header:
            table = ".".join(part.strip().strip('"') for part in header.group(1).split("."))
            found.setdefault(table, number)
            continue
        keyline = _KEYLINE_RE.match(line)
        if keyline:
            key = ".".join(part.strip() for part in keyline.group(1).split("."))
            found.setdefault(f"{table}.{key}" if table else key, number)
    return found


def find_line(key: str, lines: Mapping[str, int]) -> int | None:
    """The line of dotted ``key`` (or of its nearest enclosing table)."""
    key = re.sub(r"\[\d+\]$", "", key)
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return None


# --------------------------------------------------------------------------------- reading


def read_toml(path: Path, *, included_by: str | None = None) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse one TOML file into data and key lines; every failure is a ConfigError naming the file.

    ``included_by`` (e.g. ``'main.toml:3: include "frag.toml"'``) prefixes the errors about the
    file as a whole (missing, a directory, unreadable, not UTF-8), which name no line of their own.
    """
    shown = str(path)
    where = f"{included_by}: " if included_by else ""
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{where}config file not found: {shown}") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}config path is a directory, not a file: {shown}") from None
    except OSError as exc:
        raise ConfigError(f"{where}cannot read config file {shown}: {exc.strerror or exc}") from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}{shown}: not UTF-8 text (bad byte at offset {exc.start})") from None
    refuse_keys_in_text(text, shown)
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        col = getattr(exc, "colno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        if line is None:  # tomli < 2.1 only puts the position in the text
            found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            line, col = (int(found.group(1)), int(found.group(2))) if found else (None, None)
            msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        where = f"{shown}:{line}:{col}" if line else shown
        raise ConfigError(f"{where}: TOML syntax error: {msg}") from None
    return data, key_lines(text)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``top`` over it: tables merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def leaf_keys(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys of every non-table value (and of empty tables)."""
    keys = []
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            keys.extend(leaf_keys(value, dotted))
        else:
            keys.append(dotted)
    return keys


# --------------------------------------------------------------------------------- writing

_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY_RE.match(key) else toml_value(key)


def _toml_scalar(value: Any, path: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path} = {value}: a config value must be a finite number")
    if isinstance(value, (bool, int, float, str)):
        return toml_value(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_scalar(v, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    raise ConfigError(f"{path}: cannot write a {type(value).__name__} to TOML")


def render_toml(data: Mapping[str, Any], *, header: str = "") -> str:
    """TOML text for nested tables of scalars and arrays; ``header`` becomes ``#`` lines."""
    out = [f"# {line}".rstrip() for line in header.splitlines()]

    def table(node: Mapping[str, Any], path: list[str]) -> None:
        scalars = [(k, v) for k, v in node.items() if not isinstance(v, Mapping)]
        tables = [(k, v) for k, v in node.items() if isinstance(v, Mapping)]
        if path and (scalars or not tables):
            if out:
                out.append("")
            out.append("[" + ".".join(_toml_key(p) for p in path) + "]")
        for key, value in scalars:
            out.append(f"{_toml_key(key)} = {_toml_scalar(value, '.'.join([*path, key]))}")
        for key, value in tables:
            table(value, [*path, key])

    table(data, [])
    return "\n".join(out) + "\n"
