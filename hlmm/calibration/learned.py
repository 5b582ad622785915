"""The learned-parameters file a trading session writes at exit, and merging it into
``hlmm calibrate``'s trade-history results.

Format (TOML, written by :func:`write_learned`)::

    # comments: when, which session, the evidence in words
    format = "hlmm-learned-1"
    session = "0x0123456789ab"
    written_at = "2026-01-13T22:32:00Z"

    [params.strategy]                  # config keys, as in hlmm.toml
    alpha_touch = 0.21
    spread_floor_bps = 9.5

    [evidence."strategy.alpha_touch"]  # optional, per key
    samples = 812
    low = 0.18
    high = 0.24
    source = "fills whose 10 s markout lost more than the spread captured"

The file is not a config fragment (``hlmm calibrate --merge`` reads it); a plain config
fragment (just ``[strategy]`` keys) is accepted too, as values without evidence.

Merging a key both sources set: numbers with intervals on both sides are combined by
inverse-variance weights (the narrower interval counts more), numbers without by sample
counts; lists of hours are united (an hour either source flags gets wider spreads).  A
key only one source supports is taken from it.
"""
from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hlmm.calibration.recommend import Recommendation, Recommendations, plain
from hlmm.config import Config, dump_fragment
from hlmm.config_io import leaf_keys, read_toml, render_toml
from hlmm.errors import ConfigError

FORMAT = "hlmm-learned-1"
_Z95 = 1.959963984540054


@dataclass
class LearnedValue:
    """One learned config value and its evidence."""

    key: str  # dotted config key
    value: Any
    samples: int = 0
    low: float | None = None
    high: float | None = None
    source: str = ""

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None and self.high > self.low


@dataclass
class LearnedParams:
    """What a session learned, ready to be written or merged."""

    values: list[LearnedValue]
    session: str = ""
    written_at: str = ""
    notes: list[str] = field(default_factory=list)

    def fragment(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for v in self.values:
            node = out
            *path, leaf = v.key.split(".")
            for part in path:
                node = node.setdefault(part, {})
            node[leaf] = plain(v.value)
        return out

    def to_toml(self) -> str:
        evidence = {}
        for v in self.values:
            item: dict[str, Any] = {"samples": int(v.samples)}
            if v.low is not None:
                item["low"] = float(v.low)
            if v.high is not None:
                item["high"] = float(v.high)
            if v.source:
                item["source"] = v.source
            evidence[v.key] = item
        data: dict[str, Any] = {"format": FORMAT, "session": self.session,
                                "written_at": self.written_at or _now(), "params": self.fragment()}
        if evidence:
            data["evidence"] = evidence
        header = "\n".join(["Parameters learned by an hlmm trading session (read by hlmm calibrate --merge).",
                            *self.notes])
        return render_toml(data, header=header)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_learned(path: str | os.PathLike[str], learned: LearnedParams, base: Config | None = None) -> None:
    """Write ``learned`` atomically; its values are checked against the config schema first."""
    dump_fragment(learned.fragment(), base=base)  # raises ConfigError for a value the schema refuses
    file = Path(path)
    tmp = file.with_name(file.name + ".tmp")
    tmp.write_text(learned.to_toml(), encoding="utf-8")
    os.replace(tmp, file)


def read_learned(path: str | os.PathLike[str], base: Config | None = None) -> LearnedParams:
    """A learned-parameters file (or a plain config fragment); ConfigError (exit 3) when invalid."""
    shown = os.fspath(path)
    data, _ = read_toml(Path(path))
    if "format" in data:
        if data.get("format") != FORMAT:
            raise ConfigError(f"{shown}: format {data.get('format')!r} is not {FORMAT!r} (a newer hlmm wrote it?)")
        params = data.get("params", {})
        evidence = data.get("evidence", {})
        if not isinstance(params, dict) or not isinstance(evidence, dict):
            raise ConfigError(f"{shown}: params and evidence must be tables")
    else:
        params, evidence = data, {}
    try:
        dump_fragment(params, base=base)
    except ConfigError as exc:
        raise ConfigError(f"{shown}: {exc.message}", issues=exc.issues) from None
    values = []
    for key in leaf_keys(params):
        node: Any = params
        for part in key.split("."):
            node = node[part]
        ev = evidence.get(key, {}) if isinstance(evidence.get(key, {}), dict) else {}
        values.append(LearnedValue(key=key, value=node, samples=int(ev.get("samples", 0) or 0),
                                   low=_float(ev.get("low")), high=_float(ev.get("high")),
                                   source=str(ev.get("source", ""))))
    return LearnedParams(values=values, session=str(data.get("session", "")), written_at=str(data.get("written_at", "")))


def _float(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


# ------------------------------------------------------------------------------- merging


@dataclass
class MergeLine:
    key: str
    history: Any
    learned: Any
    merged: Any
    rule: str


@dataclass
class MergeResult:
    """The recommendations after merging, and what happened to each learned key."""

    recommendations: Recommendations
    lines: list[MergeLine]

    def describe(self) -> str:
        if not self.lines:
            return "the learned file has no values"
        return "\n".join(f"{m.key}: trade history {m.history}, learned {m.learned} -> {m.merged} ({m.rule})"
                         for m in self.lines)

    def to_dict(self) -> dict:
        return {"keys": [m.__dict__ for m in self.lines]}


def _se(low: float, high: float, confidence: float = 0.95) -> float:
    return (high - low) / (2 * _Z95)


def _combine(rec: Recommendation, lv: LearnedValue) -> tuple[Any, str]:
    hv, lvv = rec.value, lv.value
    if isinstance(hv, list) or isinstance(lvv, list):
        merged = sorted(set(hv or []) | set(lvv or []))
        return merged, "union: an hour either source flags"
    if isinstance(hv, bool) or isinstance(lvv, bool) or not isinstance(hv, (int, float)) \
            or not isinstance(lvv, (int, float)):
        return hv, "trade history kept (not a number)"
    if rec.low is not None and rec.high is not None and rec.high > rec.low and lv.has_interval:
        wh, wl = 1 / _se(rec.low, rec.high) ** 2, 1 / _se(lv.low, lv.high) ** 2  # type: ignore[arg-type]
        rule = f"inverse-variance weights {wh / (wh + wl):.2f} / {wl / (wh + wl):.2f}"
    elif rec.samples > 0 and lv.samples > 0:
        wh, wl = float(rec.samples), float(lv.samples)
        rule = f"sample weights {rec.samples} / {lv.samples}"
    elif lv.samples > 0 and rec.samples == 0:
        return lvv, "learned (the trade history gave no sample count)"
    else:
        return hv, "trade history kept (the learned value has no evidence)"
    merged = (wh * hv + wl * lvv) / (wh + wl)
    if isinstance(hv, int) and isinstance(lvv, int):
        merged = int(round(merged))
    else:
        merged = round(merged, 4)
    return merged, rule


def _current(base: Config, key: str) -> Any:
    node: Any = base
    for part in key.split("."):
        node = getattr(node, part, None)
    return list(node) if isinstance(node, tuple) else node


def merge_learned(recs: Recommendations, learned: LearnedParams) -> MergeResult:
    """``recs`` with ``learned`` merged in (see the module docstring)."""
    by_key = {r.key: r for r in recs.items}
    items = list(recs.items)
    lines = []
    for lv in learned.values:
        rec = by_key.get(lv.key)
        evidence = f"learned: {lv.value} ({lv.samples} samples" + (
            f", interval {lv.low:g} to {lv.high:g}" if lv.has_interval else "") + (
            f"; {lv.source})" if lv.source else ")")
        if rec is None or not rec.written:
            current = rec.current if rec is not None else _current(recs.base, lv.key)
            new = Recommendation(lv.key, lv.value, current, True,
                                 f"learned in a trading session ({lv.samples} samples)",
                                 ([*rec.evidence] if rec is not None else []) + [evidence], lv.low, lv.high,
                                 lv.samples)
            if rec is not None:
                items[items.index(rec)] = new
            else:
                items.append(new)
            lines.append(MergeLine(lv.key, None if rec is None or not rec.written else rec.value, lv.value, lv.value,
                                   "learned only (the trade history does not support a value)"))
            continue
        merged, rule = _combine(rec, lv)
        new = Recommendation(rec.key, merged, rec.current, True, f"{rec.reason}; merged with the learned value",
                             [*rec.evidence, evidence], rec.low, rec.high, rec.samples + lv.samples)
        items[items.index(rec)] = new
        lines.append(MergeLine(lv.key, rec.value, lv.value, merged, rule))
    return MergeResult(Recommendations(items=items, base=recs.base), lines)
