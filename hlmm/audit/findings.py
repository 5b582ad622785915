"""What an audit rule reports: a :class:`Finding` with severity, count, time range and examples.

Rules accumulate occurrences in a :class:`Tally` (bounded: it keeps only the first few example
locations) and turn it into a :class:`Finding` at the end, when the severity can be decided on
the whole session.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from hlmm.audit.timebounds import iso


class Severity(enum.IntEnum):
    """How bad a finding is; ``critical`` makes ``hlmm audit`` exit with code 5."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass
class Finding:
    """One problem (or notable fact) found in the logs."""

    id: str
    severity: Severity
    title: str
    count: int
    first_ms: int | None
    last_ms: int | None
    examples: list[str]
    cause: str
    look_at: list[str]
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": str(self.severity),
            "title": self.title,
            "count": self.count,
            "first": iso(self.first_ms),
            "last": iso(self.last_ms),
            "examples": list(self.examples),
            "cause": self.cause,
            "look_at": list(self.look_at),
            "detail": self.detail,
        }


class Tally:
    """Occurrences of one kind: count, first/last time, the first ``max_examples`` locations."""

    __slots__ = ("count", "first_ms", "last_ms", "examples", "max_examples")

    def __init__(self, max_examples: int = 5) -> None:
        self.count = 0
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self.examples: list[str] = []
        self.max_examples = max_examples

    def add(self, ts_ms: int | None, where: str | None, n: int = 1) -> None:
        self.count += n
        if ts_ms is not None:
            if self.first_ms is None or ts_ms < self.first_ms:
                self.first_ms = ts_ms
            if self.last_ms is None or ts_ms > self.last_ms:
                self.last_ms = ts_ms
        if where is not None and len(self.examples) < self.max_examples:
            self.examples.append(where)

    def __bool__(self) -> bool:
        return self.count > 0

    def finding(self, id: str, severity: Severity, title: str, cause: str, look_at: list[str],
                detail: dict[str, Any] | None = None, count: int | None = None) -> Finding:
        return Finding(id, severity, title, self.count if count is None else count, self.first_ms,
                       self.last_ms, list(self.examples), cause, look_at, detail or {})
