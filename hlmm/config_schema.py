"""Checking plain TOML data against typed, frozen dataclasses.

A config section is a frozen dataclass whose fields are declared with :func:`option`:
a default, a one-line doc and the allowed values (range, choices, a custom check).
:func:`build_section` turns a TOML table into an instance and collects *every* problem
as a ``(dotted_key, message)`` pair instead of stopping at the first, so the user
fixes a file in one pass.  Messages name the key, the value and what is allowed.

Supported field types: ``bool``, ``int``, ``float``, ``str``, ``tuple[T, ...]`` of those,
a nested section dataclass, and ``raw`` tables (``Mapping``) checked by the caller.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

Issues = list[tuple[str, str]]


@dataclass(frozen=True)
class Spec:
    """What values one option accepts (read from the field's metadata)."""

    doc: str
    lo: float | None = None  # inclusive lower bound
    gt: float | None = None  # exclusive lower bound
    hi: float | None = None  # inclusive upper bound
    lt: float | None = None  # exclusive upper bound
    off: float | None = None  # a value allowed outside the range, meaning "disabled"
    choices: tuple[str, ...] | None = None
    check: Callable[[Any], str | None] | None = None
    nonempty: bool = False  # strings and arrays
    unique: bool = False  # arrays
    per_asset: bool = True  # may appear in [assets.overrides.<COIN>.<section>]
    raw: bool = False  # a table handed to the caller unchecked
    unit: str = ""


def option(default: Any, doc: str, **constraints: Any) -> Any:
    """A dataclass field with its doc and constraints (see :class:`Spec`)."""
    spec = Spec(doc=doc, **constraints)
    if isinstance(default, (dict, list)):
        raise TypeError("option defaults must be immutable (use a tuple or MappingProxyType)")
    if isinstance(default, MappingProxyType):
        return dataclasses.field(default_factory=lambda: MappingProxyType(dict(default)), metadata={"spec": spec})
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=type(default), metadata={"spec": spec})
    return dataclasses.field(default=default, metadata={"spec": spec})


def spec_of(f: dataclasses.Field[Any]) -> Spec:
    """The :class:`Spec` of a field declared with :func:`option`."""
    return f.metadata["spec"]


def fields_of(cls: type) -> list[tuple[dataclasses.Field[Any], Any]]:
    """``(field, resolved type)`` pairs of a section dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


# ----------------------------------------------------------------------- formatting


def toml_value(value: Any) -> str:
    """``value`` as it would be written in TOML (for messages and docs)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _num(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def describe_range(spec: Spec) -> str:
    """Human text of a numeric range: ``between 1 and 25``, ``greater than 0`` …"""
    low = f"at least {_num(spec.lo)}" if spec.lo is not None else (
        f"greater than {_num(spec.gt)}" if spec.gt is not None else "")
    high = f"at most {_num(spec.hi)}" if spec.hi is not None else (
        f"less than {_num(spec.lt)}" if spec.lt is not None else "")
    if spec.lo is not None and spec.hi is not None:
        text = f"between {_num(spec.lo)} and {_num(spec.hi)}"
    else:
        text = " and ".join(p for p in (low, high) if p)
    if spec.off is not None:
        text = f"{_num(spec.off)} (off) or {text}"
    return text


def describe(spec: Spec, tp: Any) -> str:
    """What an option accepts, in words (used by docs and by messages)."""
    if spec.choices:
        return "one of " + ", ".join(json.dumps(c) for c in spec.choices)
    text = describe_range(spec)
    if typing.get_origin(tp) is tuple and text:
        text = "each " + text
    return text


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest candidate, or ``""``."""
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""


_TYPE_NAMES = {
    bool: "a boolean (true/false)",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}


def type_name(value: Any) -> str:
    """The TOML kind of a parsed value, with an article: ``a string``, ``an array`` …"""
    for tp in (bool, int, float, str, list, dict):
        if isinstance(value, tp):
            return _TYPE_NAMES[tp]
    return f"a {type(value).__name__}"


# ----------------------------------------------------------------------- validation

_BAD = object()


def _in_range(x: float, spec: Spec) -> bool:
    if spec.off is not None and x == spec.off:
        return True
    return not (
        (spec.lo is not None and x < spec.lo)
        or (spec.gt is not None and x <= spec.gt)
        or (spec.hi is not None and x > spec.hi)
        or (spec.lt is not None and x >= spec.lt)
    )


def _scalar(value: Any, tp: Any, spec: Spec, path: str, issues: Issues) -> Any:
    """Type-check and range-check one scalar; returns the value or ``_BAD``."""
    shown = toml_value(value)
    if tp is bool:
        if not isinstance(value, bool):
            issues.append((path, f"{path} = {shown}: expected {_TYPE_NAMES[bool]}, got {type_name(value)}"))
            return _BAD
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            issues.append((path, f"{path} = {shown}: expected {_TYPE_NAMES[int]}, got {type_name(value)}"))
            return _BAD
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            issues.append((path, f"{path} = {shown}: expected {_TYPE_NAMES[float]}, got {type_name(value)}"))
            return _BAD
        value = float(value)
        if not math.isfinite(value):
            issues.append((path, f"{path} = {shown}: must be a finite number"))
            return _BAD
    elif tp is str:
        if not isinstance(value, str):
            issues.append((path, f"{path} = {shown}: expected {_TYPE_NAMES[str]}, got {type_name(value)}"))
            return _BAD
        if spec.nonempty and not value.strip():
            issues.append((path, f"{path} = {shown}: must not be empty"))
            return _BAD
        if spec.choices and value not in spec.choices:
            issues.append((path, f"{path} = {shown}: must be {describe(spec, tp)}{did_you_mean(value, spec.choices)}"))
            return _BAD
    else:
        raise TypeError(f"unsupported option type {tp!r} at {path}")
    if tp in (int, float) and not _in_range(value, spec):
        issues.append((path, f"{path} = {shown}: must be {describe_range(spec)}"))
        return _BAD
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            issues.append((path, f"{path} = {shown}: {problem}"))
            return _BAD
    return value


def _array(value: Any, tp: Any, spec: Spec, path: str, issues: Issues) -> Any:
    if not isinstance(value, list):
        issues.append((path, f"{path} = {toml_value(value)}: expected {_TYPE_NAMES[list]}, got {type_name(value)}"))
        return _BAD
    (item_tp, _ellipsis) = typing.get_args(tp)
    item_spec = dataclasses.replace(spec, nonempty=False, unique=False, check=None)
    items = [_scalar(v, item_tp, item_spec, f"{path}[{i}]", issues) for i, v in enumerate(value)]
    if any(v is _BAD for v in items):
        return _BAD
    if spec.nonempty and not items:
        issues.append((path, f"{path} = []: must not be empty"))
        return _BAD
    if spec.unique and len(set(items)) != len(items):
        dupes = sorted({v for v in items if items.count(v) > 1}, key=str)
        issues.append((path, f"{path} = {toml_value(value)}: lists {toml_value(dupes)} more than once"))
        return _BAD
    result = tuple(items)
    if spec.check is not None:
        problem = spec.check(result)
        if problem:
            issues.append((path, f"{path} = {toml_value(value)}: {problem}"))
            return _BAD
    return result


def unknown_key_message(path: str, key: str, known: Iterable[str], elsewhere: Mapping[str, str]) -> str:
    """``path: unknown key`` plus a did-you-mean hint or the section the key belongs in."""
    if key in elsewhere:  # an exact key of another section beats a fuzzy match here
        return f"{path}: unknown key ({key} belongs in [{elsewhere[key]}])"
    return f"{path}: unknown key{did_you_mean(key, known)}"


def build_section(
    cls: type,
    raw: Any,
    path: str,
    issues: Issues,
    *,
    base: Any = None,
    elsewhere: Mapping[str, str] = MappingProxyType({}),
    per_asset_only: bool = False,
) -> Any:
    """An instance of section ``cls`` from TOML table ``raw`` (``None`` if it had errors).

    Missing keys take their defaults, or ``base``'s values when ``base`` is given (for
    per-asset overrides).  Every problem is appended to ``issues``.  After the fields
    pass, the section's ``cross_check()`` (if any) checks relations between fields.
    """
    if not isinstance(raw, Mapping):
        issues.append((path, f"{path}: expected a table ([{path}]), got {type_name(raw)}"))
        return None
    start = len(issues)
    typed = fields_of(cls)
    names = [f.name for f, _ in typed]
    for key in raw:
        if key not in names:
            issues.append((f"{path}.{key}", unknown_key_message(f"{path}.{key}", key, names, elsewhere)))
    values: dict[str, Any] = {}
    for f, tp in typed:
        spec = spec_of(f)
        if f.name not in raw:
            continue
        key_path = f"{path}.{f.name}"
        if per_asset_only and not spec.per_asset:
            issues.append((key_path, f"{key_path}: {f.name} is account-wide and cannot be set per asset"))
            continue
        value = raw[f.name]
        if dataclasses.is_dataclass(tp):
            sub_base = getattr(base, f.name) if base is not None else None
            result = build_section(tp, value, key_path, issues, base=sub_base)
            if result is None:
                continue
        elif spec.raw:
            if not isinstance(value, Mapping):
                issues.append((key_path, f"{key_path}: expected a table, got {type_name(value)}"))
                continue
            result = value
        elif typing.get_origin(tp) is tuple:
            result = _array(value, tp, spec, key_path, issues)
        else:
            result = _scalar(value, tp, spec, key_path, issues)
        if result is not _BAD:
            values[f.name] = result
    if len(issues) > start:
        return None
    obj = dataclasses.replace(base, **values) if base is not None else cls(**values)
    cross = getattr(obj, "cross_check", None)
    if cross is not None:
        # cross_check() yields (field, text): "tau_min_s", "must be less than tau_max_s (600.0)"
        for key, text in cross():
            key_path = f"{path}.{key}"
            issues.append((key_path, f"{key_path} = {toml_value(getattr(obj, key))}: {text}"))
    return obj if len(issues) == start else None


def to_plain(obj: Any) -> Any:
    """Plain TOML-able data: sections → dicts, tuples → lists, mappings → dicts."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj
